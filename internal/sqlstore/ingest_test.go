package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/sqlite"
)

// A batch larger than one INSERT (see sqlstore.Ingest) keeps one event per
// dedupe key whether the repeat is in the same statement, a later one, or
// an earlier batch.
func TestIngestLargeBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, _ := s.setup(t)
		at := time.Date(2025, 3, 14, 16, 9, 26, 0, time.UTC)
		ingest(t, db, newEvent("evt_old", "key_7", at))
		const n = 203 // chunks of 64, 64, 64, 8, 2, 1
		evs := make([]voicehook.NewEvent, n)
		want := make([]voicehook.IngestResult, n)
		firstOf := map[string]string{"key_7": "evt_old"}
		for i := range n {
			// Every fifth event repeats the key of the event 70 before it
			// (another statement) or 3 before it (the same statement).
			key := fmt.Sprintf("key_%d", i)
			switch {
			case i%5 == 0 && i >= 70:
				key = evs[i-70].DedupeKey
			case i%5 == 0 && i >= 3:
				key = evs[i-3].DedupeKey
			}
			id := fmt.Sprintf("evt_%03d", i)
			evs[i] = newEvent(id, key, at.Add(time.Duration(i)*time.Millisecond))
			if first, ok := firstOf[key]; ok {
				want[i] = voicehook.IngestResult{EventID: first, Duplicate: true}
			} else {
				firstOf[key] = id
				want[i] = voicehook.IngestResult{EventID: id}
			}
		}
		if diff := cmp.Diff(want, ingest(t, db, evs...)); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		var stored int
		if err := db.Writer().QueryRow("SELECT COUNT(*) FROM voicehook_events").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != len(firstOf) {
			t.Errorf("%d events stored, want %d (one per dedupe key)", stored, len(firstOf))
		}
	})
}

func TestIngest(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		at := time.Date(2025, 3, 14, 16, 9, 26, 123456789, time.FixedZone("CET", 3600))
		raw := []byte{0x00, 0xff, 0xfe, '{', 0x80, '\n', 'x', 0x00}
		e1 := newEvent("evt_1", "key_a", at)
		e1.RawPayload = raw
		e1.SegmentID = "seg_1"
		e1.Type = "post_call_audio"
		e1.Headers = map[string]string{
			"Content-Type":          "application/octet-stream",
			"Elevenlabs-Signature":  "t=1600000000,v0=abc",
			"X-Forwarded-For":       "203.0.113.7, 10.0.0.1",
			"X-Request-Id":          `req "quoted" ü`,
			"User-Agent":            "ElevenLabs/1.0",
			"X-Empty-Header-Kept":   "",
			"X-Unicode-\u00e9-Name": "\u2603",
		}
		e2 := newEvent("evt_2", "key_b", at.Add(time.Second))
		e2.RawPayload = []byte{} // a signed empty body is still stored
		e3 := newEvent("evt_3", "key_a", at.Add(2*time.Second))

		res := ingest(t, db, e1, e2, e3)
		want := []voicehook.IngestResult{
			{EventID: "evt_1"},
			{EventID: "evt_2"},
			{EventID: "evt_1", Duplicate: true},
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("first batch (-want +got):\n%s", diff)
		}

		e4 := newEvent("evt_4", "key_b", at.Add(3*time.Second))
		e5 := newEvent("evt_5", "key_c", at.Add(4*time.Second))
		res = ingest(t, db, e4, e5)
		want = []voicehook.IngestResult{
			{EventID: "evt_2", Duplicate: true},
			{EventID: "evt_5"},
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("second batch (-want +got):\n%s", diff)
		}

		// The whole batch a duplicate: nothing new.
		res = ingest(t, db, newEvent("evt_6", "key_c", at), newEvent("evt_7", "key_a", at))
		want = []voicehook.IngestResult{
			{EventID: "evt_5", Duplicate: true},
			{EventID: "evt_1", Duplicate: true},
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("third batch (-want +got):\n%s", diff)
		}

		wantAt := time.Date(2025, 3, 14, 15, 9, 26, 123456000, time.UTC)
		wantE1 := voicehook.Event{
			ID:         "evt_1",
			Service:    voicehook.ServiceElevenLabs,
			Endpoint:   "/webhooks/elevenlabs",
			DedupeKey:  "key_a",
			Type:       "post_call_audio",
			SegmentID:  "seg_1",
			RawPayload: raw,
			Headers:    e1.Headers,
			ReceivedAt: wantAt,
			Status:     voicehook.EventReceived,
			Processed:  false,
			Success:    nil,
			UpdatedAt:  wantAt,
		}
		if diff := cmp.Diff(wantE1, event(t, db, "evt_1")); diff != "" {
			t.Errorf("Event(evt_1) (-want +got):\n%s", diff)
		}
		if got := event(t, db, "evt_2"); len(got.RawPayload) != 0 || got.DedupeKey != "key_b" {
			t.Errorf("Event(evt_2): payload %q, key %q; want empty payload, key_b", got.RawPayload, got.DedupeKey)
		}

		for _, id := range []string{"evt_3", "evt_4", "evt_6", "evt_7", "nope"} {
			if _, err := db.Event(ctx, id); !errors.Is(err, voicehook.ErrNotFound) {
				t.Errorf("Event(%s): got %v, want ErrNotFound", id, err)
			}
		}
		all, err := db.ListEvents(ctx, voicehook.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"evt_5", "evt_2", "evt_1"}, ids(all)); diff != "" {
			t.Errorf("stored events (-want +got):\n%s", diff)
		}
	})
}

// Headers the handler has encoded already (HeadersJSON) are stored as they
// are; without them, Headers are encoded by the store.
func TestIngestHeadersJSON(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, _ := s.setup(t)
		pre := newEvent("evt_pre", "key_pre", t0)
		pre.Headers = map[string]string{"Ignored": "HeadersJSON wins"}
		pre.HeadersJSON = `{"Content-Type":"application/json","X-Request-Id":"r\u003c1\u2028"}`
		plain := newEvent("evt_plain", "key_plain", t0.Add(time.Second))
		plain.Headers = map[string]string{"User-Agent": "ElevenLabs/1.0", "X-Request-Id": "r<2"}
		ingest(t, db, pre, plain)
		if diff := cmp.Diff(map[string]string{"Content-Type": "application/json", "X-Request-Id": "r<1\u2028"},
			event(t, db, "evt_pre").Headers); diff != "" {
			t.Errorf("headers stored from HeadersJSON (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(plain.Headers, event(t, db, "evt_plain").Headers); diff != "" {
			t.Errorf("headers stored from Headers (-want +got):\n%s", diff)
		}
	})
}

// A delivery that breaks a constraint other than its dedupe key's (here an
// event id already taken) fails its whole batch, wherever it sits in the
// batch's INSERT chunks: it is never taken for a duplicate and dropped.
func TestIngestConstraintFailsBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		ingest(t, db, newEvent("evt_taken", "key_taken", t0))
		at := t0.Add(time.Second)
		for _, batch := range [][]voicehook.NewEvent{
			// chunks of 4 and 1: the bad row alone in the last
			{newEvent("evt_a1", "key_a1", at), newEvent("evt_a2", "key_a2", at), newEvent("evt_a3", "key_taken", at),
				newEvent("evt_a4", "key_a4", at), newEvent("evt_taken", "key_a5", at)},
			// one chunk of 4 holding a genuine duplicate, and the bad row
			{newEvent("evt_b1", "key_b1", at), newEvent("evt_taken", "key_b2", at), newEvent("evt_b3", "key_b1", at),
				newEvent("evt_b4", "key_taken", at)},
		} {
			for i, r := range db.Ingest(ctx, batch) {
				if !errors.Is(r.Err, voicehook.ErrUnavailable) || r.EventID != "" || r.Duplicate {
					t.Errorf("batch with %s, result %d: %+v; want ErrUnavailable alone", batch[0].ID, i, r)
				}
			}
		}
		all, err := db.ListEvents(ctx, voicehook.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"evt_taken"}, ids(all)); diff != "" {
			t.Errorf("stored events (-want +got):\n%s", diff)
		}
	})
}

func TestIngestConcurrentReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		const n = 24
		dbs, _ := s.replicas(t, 2)
		results := make([]voicehook.IngestResult, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				ev := newEvent(fmt.Sprintf("evt_%02d", i), "same_key", t0.Add(time.Duration(i)*time.Millisecond))
				results[i] = dbs[i%len(dbs)].Ingest(context.Background(), []voicehook.NewEvent{ev})[0]
			})
		}
		close(start)
		wg.Wait()
		winner := ""
		for i, r := range results {
			if r.Err != nil {
				t.Fatalf("goroutine %d: Ingest: %v", i, r.Err)
			}
			if !r.Duplicate {
				if winner != "" {
					t.Errorf("two deliveries stored: %s and %s", winner, r.EventID)
				}
				winner = r.EventID
			}
		}
		if winner == "" {
			t.Fatal("every delivery reported a duplicate; none stored")
		}
		for i, r := range results {
			if r.EventID != winner {
				t.Errorf("goroutine %d: event id %s, want %s", i, r.EventID, winner)
			}
		}
		for i, db := range dbs {
			all, err := db.ListEvents(context.Background(), voicehook.EventFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{winner}, ids(all)); diff != "" {
				t.Errorf("replica %d: stored events (-want +got):\n%s", i, diff)
			}
		}
	})
}

// BenchmarkIngestBatch is the ingest writer's serial stage alone: batches of
// ~1 KB deliveries (with the headers the webhook handler keeps) stored by
// Ingest, one transaction each, as the group-commit writer hands them over.
// user-µs/event and sys-µs/event are the process's CPU time per event (the
// writer is the only goroutine working): user time is the Go code, SQLite
// included, which the machine's other load disturbs less than the wall
// time; system time is mostly the WAL's writes and fsyncs. `go test -run '^$' -bench IngestBatch ./internal/sqlstore/`.
func BenchmarkIngestBatch(b *testing.B) {
	for _, bc := range []struct {
		batch  int
		random bool
	}{{1, false}, {11, false}, {28, false}, {28, true}} {
		batch := bc.batch
		keys := "sequential"
		if bc.random {
			keys = "random"
		}
		// voicehook bench's segments (and so its dedupe keys) are
		// sequential: each index takes the new rows in its last page. A
		// pipeline's segment ids are more likely random, and then the
		// segment and dedupe key indexes take them all over.
		b.Run(fmt.Sprintf("batch=%d/keys=%s", batch, keys), func(b *testing.B) {
			db, err := sqlite.Open(b.TempDir(), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			payload := []byte(`{"status":"completed","output":{"url":"https://audio.example/seg.mp3"},"notes":"` + strings.Repeat("x", 900) + `"}`)
			headers := map[string]string{
				"Content-Type":         "application/json",
				"User-Agent":           "Go-http-client/1.1",
				"Elevenlabs-Signature": "present, valid",
				"Callback-Token":       "valid",
			}
			evs := make([]voicehook.NewEvent, batch)
			var seq int
			fill := func() {
				for i := range evs {
					seq++
					seg := fmt.Sprintf("seg_%012d", seq)
					if bc.random {
						seg = fmt.Sprintf("seg_%016x", rand.Uint64())
					}
					evs[i] = voicehook.NewEvent{
						ID: fmt.Sprintf("evt_%012d", seq), Service: voicehook.ServiceElevenLabs, Endpoint: "/webhooks/elevenlabs",
						DedupeKey: "seed:" + seg + ":completed", Type: "completed", SegmentID: seg,
						RawPayload: payload, Headers: headers, ReceivedAt: t0.Add(time.Duration(seq) * time.Microsecond),
					}
					hj, err := json.Marshal(headers) // as the webhook handler does, off the writer
					if err != nil {
						b.Fatal(err)
					}
					evs[i].HeadersJSON = string(hj)
				}
			}
			cpu := func() (user, sys time.Duration) {
				var ru syscall.Rusage
				if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
					b.Fatal(err)
				}
				return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
			}
			var events int
			var user, sys time.Duration
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				fill()
				b.StartTimer()
				user0, sys0 := cpu()
				for i, r := range db.Ingest(context.Background(), evs) {
					if r.Err != nil || r.Duplicate {
						b.Fatalf("event %d: %+v", i, r)
					}
				}
				user1, sys1 := cpu()
				user, sys = user+user1-user0, sys+sys1-sys0
				events += batch
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(events), "µs/event")
			b.ReportMetric(float64(user.Microseconds())/float64(events), "user-µs/event")
			b.ReportMetric(float64(sys.Microseconds())/float64(events), "sys-µs/event")
		})
	}
}
