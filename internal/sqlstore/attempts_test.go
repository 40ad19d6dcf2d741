package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

// TestRecordAttemptFinish: an attempt recorded with a finish moves the event
// to it, in the same step as the attempt; empty details and job keep the
// stored ones.
func TestRecordAttemptFinish(t *testing.T) {
	type state struct {
		Status       voicehook.EventStatus
		Processed    bool
		Success      *bool
		ErrorDetails string
		RelatedJob   string
	}
	view := func(ev voicehook.Event) state {
		return state{ev.Status, ev.Processed, ev.Success, ev.ErrorDetails, ev.RelatedJob}
	}
	tests := []struct {
		status    voicehook.EventStatus
		processed bool
		success   *bool
	}{
		{voicehook.EventSucceeded, true, ptr(true)},
		{voicehook.EventFailed, true, ptr(false)},
		{voicehook.EventDead, true, ptr(false)},
		{voicehook.EventIgnored, true, nil},
		{voicehook.EventReceived, false, nil},
	}
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		for i, tt := range tests {
			id := fmt.Sprintf("evt_%d", i)
			ingest(t, db, newEvent(id, id, t0))
			at := clock.Advance(time.Minute)
			outcome := voicehook.OutcomeOf(tt.status)
			if !tt.status.Finished() {
				outcome = voicehook.AttemptRetry
			}
			a := voicehook.Attempt{EventID: id, StartedAt: at.Add(-time.Second), FinishedAt: at, Outcome: outcome, Error: "boom " + id}
			fin := voicehook.EventFinish{Status: tt.status, ErrorDetails: "boom " + id, RelatedJob: "job_" + id}
			if err := db.RecordAttempt(ctx, a, &fin); err != nil {
				t.Fatalf("RecordAttempt(%s): %v", tt.status, err)
			}
			want := state{tt.status, tt.processed, tt.success, "boom " + id, "job_" + id}
			ev := event(t, db, id)
			if diff := cmp.Diff(want, view(ev)); diff != "" {
				t.Errorf("after RecordAttempt with finish %s (-want +got):\n%s", tt.status, diff)
			}
			if !ev.UpdatedAt.Equal(at) {
				t.Errorf("%s: updated_at %v, want %v", tt.status, ev.UpdatedAt, at)
			}
			if ev.Attempts != 1 {
				t.Errorf("%s: attempts %d, want 1", tt.status, ev.Attempts)
			}
			a.Attempt = 1
			if diff := cmp.Diff([]voicehook.Attempt{a}, attempts(t, db, id)); diff != "" {
				t.Errorf("%s: attempts (-want +got):\n%s", tt.status, diff)
			}
			// Empty details and job keep the earlier values.
			finish(t, db, id, voicehook.EventFinish{Status: tt.status})
			if diff := cmp.Diff(want, view(event(t, db, id))); diff != "" {
				t.Errorf("after a finish %s with empty fields (-want +got):\n%s", tt.status, diff)
			}
		}

		// A later status keeps the earlier details; new details replace them.
		ingest(t, db, newEvent("evt_seq", "evt_seq", t0))
		steps := []struct {
			finish voicehook.EventFinish
			want   state
		}{
			{voicehook.EventFinish{Status: voicehook.EventFailed, ErrorDetails: "first", RelatedJob: "job_a"},
				state{voicehook.EventFailed, true, ptr(false), "first", "job_a"}},
			{voicehook.EventFinish{Status: voicehook.EventSucceeded},
				state{voicehook.EventSucceeded, true, ptr(true), "first", "job_a"}},
			{voicehook.EventFinish{Status: voicehook.EventIgnored, ErrorDetails: "second"},
				state{voicehook.EventIgnored, true, nil, "second", "job_a"}},
			{voicehook.EventFinish{Status: voicehook.EventDead, RelatedJob: "job_b"},
				state{voicehook.EventDead, true, ptr(false), "second", "job_b"}},
		}
		for i, st := range steps {
			finish(t, db, "evt_seq", st.finish)
			if diff := cmp.Diff(st.want, view(event(t, db, "evt_seq"))); diff != "" {
				t.Errorf("step %d (-want +got):\n%s", i, diff)
			}
		}
		if got := event(t, db, "evt_seq").Attempts; got != len(steps) {
			t.Errorf("evt_seq: attempts %d, want one per step (%d)", got, len(steps))
		}
	})
}

func TestAttempts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		ingest(t, db, newEvent("evt_1", "k1", t0), newEvent("evt_2", "k2", t0))
		in := []voicehook.Attempt{
			{EventID: "evt_1", StartedAt: t0.Add(time.Second), FinishedAt: t0.Add(2*time.Second + 999), Outcome: voicehook.AttemptRetry, Error: "fetching audio: 503"},
			{EventID: "evt_1", StartedAt: t0.Add(time.Minute), FinishedAt: t0.Add(time.Minute + time.Second), Outcome: voicehook.AttemptWaiting, Error: "no job yet"},
			{EventID: "evt_1", Attempt: 99, StartedAt: t0.Add(time.Hour), FinishedAt: t0.Add(time.Hour + time.Second), Outcome: voicehook.AttemptSucceeded},
		}
		var want []voicehook.Attempt
		for i, a := range in {
			at := clock.Advance(time.Second)
			// Without a finish, the attempt leaves the event's state alone.
			if err := db.RecordAttempt(ctx, a, nil); err != nil {
				t.Fatalf("RecordAttempt %d: %v", i, err)
			}
			ev := event(t, db, "evt_1")
			if ev.Attempts != i+1 {
				t.Errorf("after attempt %d: attempts = %d", i+1, ev.Attempts)
			}
			if !ev.UpdatedAt.Equal(at) {
				t.Errorf("after attempt %d: updated_at %v, want %v", i+1, ev.UpdatedAt, at)
			}
			if ev.Status != voicehook.EventReceived || ev.ErrorDetails != "" {
				t.Errorf("after attempt %d without a finish: status %s, details %q; want received, none", i+1, ev.Status, ev.ErrorDetails)
			}
			a.Attempt = i + 1
			a.StartedAt, a.FinishedAt = a.StartedAt.Truncate(time.Microsecond), a.FinishedAt.Truncate(time.Microsecond)
			want = append(want, a)
		}
		if diff := cmp.Diff(want, attempts(t, db, "evt_1")); diff != "" {
			t.Errorf("Attempts(evt_1) (-want +got):\n%s", diff)
		}
		got, err := db.Attempts(ctx, "evt_2")
		if err != nil || len(got) != 0 {
			t.Errorf("Attempts(evt_2) = %v, %v; want none", got, err)
		}
		if ev := event(t, db, "evt_2"); ev.Attempts != 0 {
			t.Errorf("evt_2 attempts = %d, want 0", ev.Attempts)
		}
		if err := db.RecordAttempt(ctx, voicehook.Attempt{EventID: "nope", Outcome: voicehook.AttemptRetry}, nil); err == nil {
			t.Error("RecordAttempt on an unknown event succeeded")
		}
		fin := voicehook.EventFinish{Status: voicehook.EventSucceeded}
		if err := db.RecordAttempt(ctx, voicehook.Attempt{EventID: "nope", Outcome: voicehook.AttemptSucceeded}, &fin); err == nil {
			t.Error("RecordAttempt with a finish on an unknown event succeeded")
		}
	})
}
