package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

// ------------------------------------------------------------------ overview

func TestOverview(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)

		empty, err := db.Overview(ctx, t0)
		if err != nil {
			t.Fatalf("Overview of an empty store: %v", err)
		}
		want := voicehook.Overview{At: t0, LastHour: map[voicehook.EventStatus]int{}, LastDay: map[voicehook.EventStatus]int{}}
		if diff := cmp.Diff(want, empty); diff != "" {
			t.Errorf("empty store (-want +got):\n%s", diff)
		}
		if empty.OldestAge() != 0 {
			t.Errorf("OldestAge of an empty store = %v, want 0", empty.OldestAge())
		}

		events := []struct {
			id     string
			ago    time.Duration
			status voicehook.EventStatus
		}{
			{"evt_day_ok", 2 * time.Hour, voicehook.EventSucceeded},
			{"evt_hour_failed", 30 * time.Minute, voicehook.EventFailed},
			{"evt_hour_waiting", 10 * time.Minute, voicehook.EventReceived},
			{"evt_old_waiting", 25 * time.Hour, voicehook.EventReceived},
			{"evt_hour_dead", 5 * time.Minute, voicehook.EventDead},
			{"evt_old_dead", 48 * time.Hour, voicehook.EventDead},
			{"evt_edge_hour", time.Hour, voicehook.EventIgnored},        // exactly an hour ago: in the hour
			{"evt_future", -time.Minute, voicehook.EventSucceeded},      // clock skew between replicas
			{"evt_old_ignored", 30 * time.Hour, voicehook.EventIgnored}, // outside the day
		}
		for _, e := range events {
			ingest(t, db, newEvent(e.id, "key_"+e.id, t0.Add(-e.ago)))
			if e.status != voicehook.EventReceived {
				finish(t, db, e.id, voicehook.EventFinish{Status: e.status})
			}
		}
		// Every finish above recorded an attempt (7 of them); three more
		// that leave their event as it is.
		for _, id := range []string{"evt_day_ok", "evt_hour_failed", "evt_hour_failed"} {
			if err := db.RecordAttempt(ctx, voicehook.Attempt{EventID: id, StartedAt: t0, FinishedAt: t0, Outcome: voicehook.AttemptRetry}, nil); err != nil {
				t.Fatal(err)
			}
		}
		// Jobs are not events: they change none of the counts.
		done := createJob(t, db, "seg_a", voicehook.JobTypeVoiceover, "")
		createJob(t, db, "seg_b", voicehook.JobTypeVoiceover, "")
		finishJob(t, db, done, voicehook.Completed(voicehook.StoredAudio{URL: "https://media.example/a.mp3"}, t0))

		got, err := db.Overview(ctx, t0)
		if err != nil {
			t.Fatalf("Overview: %v", err)
		}
		want = voicehook.Overview{
			At: t0,
			LastHour: map[voicehook.EventStatus]int{
				voicehook.EventFailed: 1, voicehook.EventReceived: 1, voicehook.EventDead: 1,
				voicehook.EventIgnored: 1, voicehook.EventSucceeded: 1,
			},
			LastDay: map[voicehook.EventStatus]int{
				voicehook.EventFailed: 1, voicehook.EventReceived: 1, voicehook.EventDead: 1,
				voicehook.EventIgnored: 1, voicehook.EventSucceeded: 2,
			},
			Received:         2,
			Dead:             2,
			Attempts:         10,
			OldestReceivedID: "evt_old_waiting",
			OldestReceivedAt: t0.Add(-25 * time.Hour),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Overview (-want +got):\n%s", diff)
		}
		if age := got.OldestAge(); age != 25*time.Hour {
			t.Errorf("OldestAge = %v, want 25h", age)
		}

		// Once the oldest is processed, the next one is the oldest.
		finish(t, db, "evt_old_waiting", voicehook.EventFinish{Status: voicehook.EventSucceeded})
		got, err = db.Overview(ctx, t0)
		if err != nil {
			t.Fatalf("Overview: %v", err)
		}
		if got.OldestReceivedID != "evt_hour_waiting" || got.OldestAge() != 10*time.Minute || got.Received != 1 {
			t.Errorf("after processing the oldest: oldest %s (%v), received %d; want evt_hour_waiting (10m), 1",
				got.OldestReceivedID, got.OldestAge(), got.Received)
		}

		// A cancelled context is an error, not a zero overview.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := db.Overview(cctx, t0); err == nil {
			t.Error("Overview with a cancelled context succeeded")
		}
	})
}
