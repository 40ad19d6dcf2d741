package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
)

// TestClaimAndCompleteJob: the claim, the job's move and the attempt commit
// together; a second event is recorded as not owning the job and changes
// nothing; and when recording the attempt fails, nothing of it is stored.
func TestClaimAndCompleteJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		j := createJob(t, db, "seg_1", voicehook.JobTypeVoiceover, "")
		ingest(t, db, newEvent("evt_a", "key_a", t0), newEvent("evt_b", "key_b", t0), newEvent("evt_c", "key_c", t0))
		audio := voicehook.StoredAudio{URL: "https://media.example/a.mp3", SHA256: "abc", Bytes: 42, DurationMS: 3000}
		at := t0.Add(time.Minute)
		end := func(ev string) func(owner string) (voicehook.Attempt, voicehook.EventFinish) {
			return func(owner string) (voicehook.Attempt, voicehook.EventFinish) {
				fin := voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: j.ID}
				if owner != ev {
					fin = voicehook.EventFinish{Status: voicehook.EventIgnored, RelatedJob: j.ID, ErrorDetails: "resolved by " + owner}
				}
				return voicehook.Attempt{EventID: ev, StartedAt: at, FinishedAt: at, Outcome: fin.Status, Error: fin.ErrorDetails}, fin
			}
		}

		// An attempt that cannot be recorded (no such event) rolls the
		// whole transaction back: no claim, the job still processing.
		if _, err := db.ClaimAndCompleteJob(ctx, j, "evt_missing", audio, at, end("evt_missing")); err == nil {
			t.Fatal("ClaimAndCompleteJob for an event not in the store succeeded")
		}
		if _, err := db.ClaimOwner(ctx, j.ID); err == nil {
			t.Fatal("a claim survived its rolled back transaction")
		}
		if got := job(t, db, j.ID); got.Status != voicehook.JobProcessing {
			t.Fatalf("job %s after a rolled back completion", got.Status)
		}

		owner, err := db.ClaimAndCompleteJob(ctx, j, "evt_a", audio, at, end("evt_a"))
		if err != nil || owner != "evt_a" {
			t.Fatalf("ClaimAndCompleteJob(evt_a) = %s, %v", owner, err)
		}
		if got := job(t, db, j.ID); got.Status != voicehook.JobCompleted {
			t.Errorf("job %s, want completed", got.Status)
		}
		if got := segment(t, db, "seg_1"); got.Status != voicehook.SegmentVoiceoverReady || got.Voiceover != audio.URL || got.Bytes != 42 {
			t.Errorf("segment %+v", got)
		}
		if got := event(t, db, "evt_a"); got.Status != voicehook.EventSucceeded || got.Attempts != 1 || got.RelatedJob != j.ID {
			t.Errorf("evt_a: status %s, attempts %d, related job %q", got.Status, got.Attempts, got.RelatedJob)
		}

		// A second event: not the owner; the job is not moved again, and its
		// attempt is recorded as ignored.
		owner, err = db.ClaimAndFailJob(ctx, j, "evt_b", "late failure", at, end("evt_b"))
		if err != nil || owner != "evt_a" {
			t.Fatalf("ClaimAndFailJob(evt_b) = %s, %v; want evt_a", owner, err)
		}
		if got := job(t, db, j.ID); got.Status != voicehook.JobCompleted {
			t.Errorf("job %s after a second event, want still completed", got.Status)
		}
		got := event(t, db, "evt_b")
		if got.Status != voicehook.EventIgnored || got.Attempts != 1 || got.ErrorDetails != "resolved by evt_a" {
			t.Errorf("evt_b: status %s, attempts %d, details %q", got.Status, got.Attempts, got.ErrorDetails)
		}
		atts, err := db.Attempts(ctx, "evt_b")
		if err != nil || len(atts) != 1 || atts[0].Outcome != voicehook.EventIgnored {
			t.Errorf("evt_b attempts %+v, %v", atts, err)
		}

		// The owner running again (a retry after a crash) changes nothing
		// but records its attempt; a nil end records nothing.
		if owner, err := db.ClaimAndCompleteJob(ctx, j, "evt_a", audio, at, nil); err != nil || owner != "evt_a" {
			t.Errorf("owner again = %s, %v", owner, err)
		}
		if got := event(t, db, "evt_a"); got.Attempts != 1 {
			t.Errorf("evt_a attempts %d after a nil end, want 1", got.Attempts)
		}

		// Failing a fresh job through its owner.
		j2 := createJob(t, db, "seg_2", voicehook.JobTypeVoiceover, "")
		fail := func(owner string) (voicehook.Attempt, voicehook.EventFinish) {
			fin := voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: j2.ID, ErrorDetails: "not audio"}
			return voicehook.Attempt{EventID: "evt_c", StartedAt: at, FinishedAt: at, Outcome: fin.Status, Error: fmt.Sprint(fin.ErrorDetails)}, fin
		}
		if owner, err := db.ClaimAndFailJob(ctx, j2, "evt_c", "not audio", at, fail); err != nil || owner != "evt_c" {
			t.Fatalf("ClaimAndFailJob(evt_c) = %s, %v", owner, err)
		}
		if got := job(t, db, j2.ID); got.Status != voicehook.JobFailed || got.ErrorDetails != "not audio" {
			t.Errorf("job2 %s %q", got.Status, got.ErrorDetails)
		}
		if got := segment(t, db, "seg_2"); got.Status != voicehook.SegmentVoiceoverFailed {
			t.Errorf("segment 2 %s", got.Status)
		}
		if got := event(t, db, "evt_c"); got.Status != voicehook.EventFailed {
			t.Errorf("evt_c %s", got.Status)
		}
	})
}
