package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

// park parks id on keys until until, as the processor does, failing the
// test on error.
func park(t *testing.T, db *sqlstore.DB, id string, until time.Time, keys ...string) {
	t.Helper()
	a := voicehook.Attempt{EventID: id, StartedAt: t0, FinishedAt: t0, Outcome: voicehook.AttemptWaiting, Error: "waiting for a job"}
	if err := db.Park(context.Background(), a, keys, until); err != nil {
		t.Fatalf("Park(%s, %v): %v", id, keys, err)
	}
}

func wake(t *testing.T, db *sqlstore.DB, keys ...string) int {
	t.Helper()
	n, err := db.Wake(context.Background(), keys)
	if err != nil {
		t.Fatalf("Wake(%v): %v", keys, err)
	}
	return n
}

func outcomes(t *testing.T, db *sqlstore.DB, id string) []voicehook.AttemptOutcome {
	t.Helper()
	as, err := db.Attempts(context.Background(), id)
	if err != nil {
		t.Fatalf("Attempts(%s): %v", id, err)
	}
	out := []voicehook.AttemptOutcome{}
	for _, a := range as {
		out = append(out, a.Outcome)
	}
	return out
}

func parked(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	n, err := db.ParkedEvents(context.Background())
	if err != nil {
		t.Fatalf("ParkedEvents: %v", err)
	}
	return n
}

func TestParkedEventsHoldNoQueueJobUntilWoken(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, clock := s.setup(t)
		q := newQueue(t, db)
		later := t0.Add(10 * time.Minute)
		ingest(t, db, newEvent("evt_a", "a", t0), newEvent("evt_b", "b", t0), newEvent("evt_c", "c", t0))
		if got := enqueued(t, q, db, 10); len(got) != 3 {
			t.Fatalf("first enqueue = %v; want the three events", got)
		}

		park(t, db, "evt_a", later, "segment:seg_a")
		park(t, db, "evt_a", later, "segment:seg_a") // parked again (a re-run): one history row
		park(t, db, "evt_b", later, "segment:seg_b", "external:conv_1")
		park(t, db, "evt_c", later, "segment:seg_c")
		if diff := cmp.Diff([]voicehook.AttemptOutcome{voicehook.AttemptWaiting}, outcomes(t, db, "evt_a")); diff != "" {
			t.Errorf("history of an event parked twice (-want +got):\n%s", diff)
		}
		if n := parked(t, db); n != 3 {
			t.Errorf("ParkedEvents = %d; want 3", n)
		}
		// Parked events are not enqueued again, however often the
		// enqueuer looks.
		clock.Advance(time.Minute)
		if got := enqueued(t, q, db, 10); len(got) != 0 {
			t.Errorf("parked events were enqueued: %v", got)
		}

		// Waking by another key changes nothing; by its key, the event
		// goes back to the queue once.
		if n := wake(t, db, "segment:other"); n != 0 {
			t.Errorf("Wake(other) = %d; want 0", n)
		}
		if n := wake(t, db, "segment:seg_a"); n != 1 {
			t.Errorf("Wake(seg_a) = %d; want 1", n)
		}
		if n := wake(t, db, "segment:seg_a"); n != 0 {
			t.Errorf("second Wake(seg_a) = %d; want 0", n)
		}
		if diff := cmp.Diff([]string{"evt_a"}, enqueued(t, q, db, 10)); diff != "" {
			t.Errorf("enqueued after the wake (-want +got):\n%s", diff)
		}
		// Any one of an event's keys wakes it, and all its waits go.
		if n := wake(t, db, "external:conv_1"); n != 1 {
			t.Errorf("Wake(conv_1) = %d; want 1", n)
		}
		if n := wake(t, db, "segment:seg_b"); n != 0 {
			t.Errorf("Wake(seg_b) after conv_1 woke it = %d; want 0", n)
		}
		if diff := cmp.Diff([]string{"evt_b"}, enqueued(t, q, db, 10)); diff != "" {
			t.Errorf("enqueued after the second wake (-want +got):\n%s", diff)
		}

		// An event that finished while parked is not queued again; its
		// waits go with the wake.
		finish(t, db, "evt_c", voicehook.EventFinish{Status: voicehook.EventSucceeded})
		if n := wake(t, db, "segment:seg_c"); n != 0 {
			t.Errorf("Wake of a finished event = %d; want 0", n)
		}
		if n := parked(t, db); n != 0 {
			t.Errorf("ParkedEvents after every wake = %d; want 0", n)
		}
		if got := enqueued(t, q, db, 10); len(got) != 0 {
			t.Errorf("a finished event was enqueued: %v", got)
		}
	})
}

func TestWakeExpiredWakesEveryExpiredEventAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		q := newQueue(t, db)
		const n = 1200 // more than one statement's chunk of ids
		var evs []voicehook.NewEvent
		for i := range n + 1 {
			evs = append(evs, newEvent(eventID(i), eventID(i), t0))
		}
		ingest(t, db, evs...)
		for len(enqueued(t, q, db, 500)) > 0 {
		}
		for i := range n {
			park(t, db, eventID(i), t0.Add(time.Minute), "segment:"+eventID(i))
		}
		park(t, db, eventID(n), t0.Add(time.Hour), "segment:late") // not expired
		if got, err := db.WakeExpired(ctx); err != nil || got != 0 {
			t.Fatalf("WakeExpired before any grace ran out = %d, %v; want 0", got, err)
		}
		clock.Advance(time.Minute)
		if got, err := db.WakeExpired(ctx); err != nil || got != n {
			t.Fatalf("WakeExpired = %d, %v; want %d", got, err, n)
		}
		total := 0
		for {
			got := enqueued(t, q, db, 500)
			if len(got) == 0 {
				break
			}
			total += len(got)
		}
		if total != n {
			t.Errorf("enqueued %d expired events; want %d", total, n)
		}
		if p := parked(t, db); p != 1 {
			t.Errorf("ParkedEvents = %d; want 1 (the one whose grace has not run out)", p)
		}
	})
}

func TestWakeMatchedFindsJobsCreatedWithoutAWake(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		q := newQueue(t, db)
		ingest(t, db, newEvent("evt_seg", "1", t0), newEvent("evt_ext", "2", t0), newEvent("evt_none", "3", t0))
		enqueued(t, q, db, 10)
		park(t, db, "evt_seg", t0.Add(time.Hour), "segment:seg_1")
		park(t, db, "evt_ext", t0.Add(time.Hour), "segment:seg_x", "external:proj_9")
		park(t, db, "evt_none", t0.Add(time.Hour), "segment:seg_none")
		if got, err := db.WakeMatched(ctx); err != nil || got != 0 {
			t.Fatalf("WakeMatched with no job = %d, %v; want 0", got, err)
		}
		for _, nj := range []voicehook.NewJob{
			{SegmentID: "seg_1", Type: voicehook.JobTypeVoiceover},
			{SegmentID: "seg_2", Type: voicehook.JobTypeVoiceover, ExternalID: "proj_9"},
		} {
			if _, err := db.CreateJob(ctx, nj); err != nil {
				t.Fatalf("CreateJob: %v", err)
			}
		}
		if got, err := db.WakeMatched(ctx); err != nil || got != 2 {
			t.Fatalf("WakeMatched = %d, %v; want 2", got, err)
		}
		if diff := cmp.Diff([]string{"evt_seg", "evt_ext"}, enqueued(t, q, db, 10)); diff != "" {
			t.Errorf("enqueued (-want +got):\n%s", diff)
		}
	})
}

func TestWakeUncheckedLongestAgoFirst(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		q := newQueue(t, db)
		ingest(t, db, newEvent("evt_1", "1", t0), newEvent("evt_2", "2", t0))
		enqueued(t, q, db, 10)
		park(t, db, "evt_2", t0.Add(time.Hour), "segment:s2")
		clock.Advance(time.Second)
		park(t, db, "evt_1", t0.Add(time.Hour), "segment:s1")
		if got, err := db.WakeUnchecked(ctx, t0, 10); err != nil || got != 0 {
			t.Fatalf("WakeUnchecked(before either was checked) = %d, %v; want 0", got, err)
		}
		clock.Advance(time.Minute)
		if got, err := db.WakeUnchecked(ctx, clock.Now(), 1); err != nil || got != 1 {
			t.Fatalf("WakeUnchecked(limit 1) = %d, %v; want 1", got, err)
		}
		if diff := cmp.Diff([]string{"evt_2"}, enqueued(t, q, db, 10)); diff != "" {
			t.Errorf("the one checked longest ago goes first (-want +got):\n%s", diff)
		}
	})
}

func eventID(i int) string { return "evt_" + time.Duration(i).String() }
