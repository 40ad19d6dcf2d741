package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
)

// TestSpool: audio written in pieces of any size reads back whole, from any
// replica; deleting it leaves none; the sweep removes only old rows whose
// event was never stored.
func TestSpool(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		dbs, clock := s.replicas(t, 2)
		audio := make([]byte, 2<<20+12345) // two full rows and a part
		for i := range audio {
			audio[i] = byte(i * 7)
		}
		for _, id := range []string{"evt_kept", "evt_orphan"} {
			w, err := dbs[0].CreateSpool(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(audio); i += 100_000 {
				if _, err := w.Write(audio[i:min(i+100_000, len(audio))]); err != nil {
					t.Fatalf("writing: %v", err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("closing: %v", err)
			}
		}
		if res := dbs[0].Ingest(ctx, []voicehook.NewEvent{newEvent("evt_kept", "key_kept", clock.Now())}); res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		r, err := dbs[1].OpenSpool(ctx, "evt_kept")
		if err != nil {
			t.Fatalf("OpenSpool: %v", err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, audio) {
			t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(audio))
		}
		if _, err := dbs[1].OpenSpool(ctx, "evt_none"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Fatalf("OpenSpool of nothing: %v, want ErrNotFound", err)
		}

		// Young orphans stay (their upload may still be committing).
		if n, err := dbs[0].SweepSpool(ctx, clock.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("sweep of young rows: %d, %v", n, err)
		}
		clock.Advance(2 * time.Hour)
		if n, err := dbs[0].SweepSpool(ctx, clock.Now().Add(-time.Hour)); err != nil || n != 3 {
			t.Fatalf("sweep: removed %d rows (%v), want the orphan's 3", n, err)
		}
		if _, err := dbs[1].OpenSpool(ctx, "evt_orphan"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Fatalf("orphan after the sweep: %v", err)
		}
		if err := dbs[1].DeleteSpool(ctx, "evt_kept"); err != nil {
			t.Fatal(err)
		}
		if _, err := dbs[0].OpenSpool(ctx, "evt_kept"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Fatalf("after DeleteSpool: %v", err)
		}
	})
}
