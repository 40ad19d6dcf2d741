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
