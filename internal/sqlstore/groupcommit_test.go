package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/groupcommit"
)

// TestIngestFailedBatch: a batch whose transaction fails reports the error
// for every delivery it held and stores none of them (not even their dedupe
// keys); the batches before and after it are unaffected.
func TestIngestFailedBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		ingest(t, db, newEvent("evt_1", "key_1", t0))

		// evt_1 again under a new key: the primary key fails the statement,
		// so the whole transaction, evt_2 included, rolls back.
		bad := db.Ingest(ctx, []voicehook.NewEvent{
			newEvent("evt_2", "key_2", t0.Add(time.Second)),
			newEvent("evt_1", "key_3", t0.Add(time.Second)),
		})
		for i, r := range bad {
			if r.Err == nil || !errors.Is(r.Err, voicehook.ErrUnavailable) {
				t.Errorf("failed batch, result %d: %+v; want an ErrUnavailable error (the handler answers 503, the sender retries)", i, r)
			}
			if r.EventID != "" || r.Duplicate {
				t.Errorf("failed batch, result %d: %+v carries an event id", i, r)
			}
		}
		if _, err := db.Event(ctx, "evt_2"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("Event(evt_2) after its batch failed: got %v, want ErrNotFound", err)
		}

		// The retry of evt_2 and a new delivery commit normally, and evt_2 is
		// not a duplicate: the failed batch left no dedupe key behind.
		res := ingest(t, db, newEvent("evt_2", "key_2", t0.Add(2*time.Second)), newEvent("evt_4", "key_3", t0.Add(2*time.Second)))
		want := []voicehook.IngestResult{{EventID: "evt_2"}, {EventID: "evt_4"}}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("batch after the failed one (-want +got):\n%s", diff)
		}
		all, err := db.ListEvents(ctx, voicehook.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"evt_4", "evt_2", "evt_1"}, ids(all)); diff != "" {
			t.Errorf("stored events (-want +got):\n%s", diff)
		}
	})
}

// TestGroupCommitIngest runs the store behind the group-commit writer, as the
// server does: many concurrent deliveries, some repeating a key within and
// across batches. Each key is stored once, and every delivery of it is
// answered with the first event's id.
func TestGroupCommitIngest(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		var mu sync.Mutex
		var sizes []int
		w := groupcommit.New(func(ctx context.Context, batch []voicehook.NewEvent) []voicehook.IngestResult {
			mu.Lock()
			sizes = append(sizes, len(batch))
			mu.Unlock()
			return db.Ingest(ctx, batch)
		}, groupcommit.Options[voicehook.NewEvent, voicehook.IngestResult]{
			MaxBatch: 16,
			Refused:  func(err error) voicehook.IngestResult { return voicehook.IngestResult{Err: err} },
		})
		defer w.Close()

		const senders, perSender, keys = 16, 20, 40
		type sent struct {
			key string
			res voicehook.IngestResult
		}
		out := make([][]sent, senders)
		var wg sync.WaitGroup
		for g := range senders {
			wg.Go(func() {
				for i := range perSender {
					key := fmt.Sprintf("key_%02d", (g*perSender+i)%keys)
					ev := newEvent(fmt.Sprintf("evt_%02d_%02d", g, i), key, t0.Add(time.Duration(g*perSender+i)*time.Millisecond))
					out[g] = append(out[g], sent{key, w.Submit(ctx, ev)})
				}
			})
		}
		wg.Wait()

		winner := map[string]string{}
		for g := range out {
			for _, x := range out[g] {
				if x.res.Err != nil {
					t.Fatalf("Submit: %v", x.res.Err)
				}
				if !x.res.Duplicate {
					if prev, ok := winner[x.key]; ok {
						t.Errorf("key %s stored twice: %s and %s", x.key, prev, x.res.EventID)
					}
					winner[x.key] = x.res.EventID
				}
			}
		}
		if len(winner) != keys {
			t.Fatalf("%d keys stored, want %d", len(winner), keys)
		}
		for g := range out {
			for _, x := range out[g] {
				if x.res.EventID != winner[x.key] {
					t.Errorf("key %s answered with %s, want the first event %s", x.key, x.res.EventID, winner[x.key])
				}
			}
		}
		all, err := db.ListEvents(ctx, voicehook.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != keys {
			t.Errorf("%d events stored, want %d", len(all), keys)
		}
		mu.Lock()
		t.Logf("batch sizes: %v", sizes)
		mu.Unlock()
	})
}
