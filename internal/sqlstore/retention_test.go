package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

func TestPurgeEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		finish := func(id string, status voicehook.EventStatus) {
			t.Helper()
			at := clock.Now()
			err := db.RecordAttempt(ctx, voicehook.Attempt{EventID: id, StartedAt: at, FinishedAt: at, Outcome: voicehook.OutcomeOf(status)},
				&voicehook.EventFinish{Status: status})
			if err != nil {
				t.Fatalf("finishing %s: %v", id, err)
			}
		}
		ingest(t, db,
			newEvent("evt_ok", "k1", t0), newEvent("evt_dead", "k2", t0), newEvent("evt_ignored", "k3", t0),
			newEvent("evt_waiting", "k4", t0), newEvent("evt_recent", "k5", t0))
		finish("evt_dead", voicehook.EventDead)
		clock.Advance(time.Minute)
		finish("evt_ok", voicehook.EventSucceeded)
		clock.Advance(time.Minute)
		finish("evt_ignored", voicehook.EventIgnored)
		clock.Advance(2 * time.Hour)
		finish("evt_recent", voicehook.EventSucceeded)
		cutoff := clock.Now().Add(-time.Hour)

		// Oldest first, at most limit per call.
		n, err := db.PurgeEvents(ctx, cutoff, 2)
		if err != nil || n != 2 {
			t.Fatalf("PurgeEvents(limit 2) = %d, %v; want 2", n, err)
		}
		n, err = db.PurgeEvents(ctx, cutoff, 100)
		if err != nil || n != 1 {
			t.Fatalf("second PurgeEvents = %d, %v; want 1", n, err)
		}
		if n, err := db.PurgeEvents(ctx, cutoff, 100); err != nil || n != 0 {
			t.Fatalf("third PurgeEvents = %d, %v; want 0", n, err)
		}

		var left []string
		for _, id := range []string{"evt_ok", "evt_dead", "evt_ignored", "evt_waiting", "evt_recent"} {
			_, err := db.Event(ctx, id)
			switch {
			case err == nil:
				left = append(left, id)
			case !errors.Is(err, voicehook.ErrNotFound):
				t.Fatalf("reading %s: %v", id, err)
			}
		}
		if diff := cmp.Diff([]string{"evt_waiting", "evt_recent"}, left); diff != "" {
			t.Errorf("events left (-want +got):\n%s", diff)
		}
		for _, id := range []string{"evt_ok", "evt_dead"} {
			if as, err := db.Attempts(ctx, id); err != nil || len(as) != 0 {
				t.Errorf("attempts of purged %s = %v, %v; want none", id, as, err)
			}
		}
		if as, err := db.Attempts(ctx, "evt_recent"); err != nil || len(as) != 1 {
			t.Errorf("attempts of kept evt_recent = %v, %v; want 1", as, err)
		}

		// A redelivery of a purged event is stored as new.
		res := ingest(t, db, newEvent("evt_again", "k1", clock.Now()))
		if diff := cmp.Diff([]voicehook.IngestResult{{EventID: "evt_again"}}, res); diff != "" {
			t.Errorf("redelivery after purge (-want +got):\n%s", diff)
		}
	})
}
