package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

func TestClaimJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		if _, err := db.ClaimOwner(ctx, "job_1"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("ClaimOwner before any claim: got %v, want ErrNotFound", err)
		}
		steps := []struct{ job, event, owner string }{
			{"job_1", "evt_a", "evt_a"},
			{"job_1", "evt_b", "evt_a"},
			{"job_1", "evt_a", "evt_a"},
			{"job_2", "evt_b", "evt_b"},
			{"job_2", "evt_a", "evt_b"},
		}
		for _, st := range steps {
			owner, err := db.ClaimJob(ctx, st.job, st.event)
			if err != nil {
				t.Fatalf("ClaimJob(%s, %s): %v", st.job, st.event, err)
			}
			if owner != st.owner {
				t.Errorf("ClaimJob(%s, %s) = %s, want %s", st.job, st.event, owner, st.owner)
			}
		}
		for jobID, want := range map[string]string{"job_1": "evt_a", "job_2": "evt_b"} {
			if got, err := db.ClaimOwner(ctx, jobID); err != nil || got != want {
				t.Errorf("ClaimOwner(%s) = %s, %v; want %s", jobID, got, err, want)
			}
		}
		if _, err := db.ClaimOwner(ctx, "job_3"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("ClaimOwner(job_3): got %v, want ErrNotFound", err)
		}
	})
}

func TestClaimJobConcurrentReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		const n = 24
		dbs, _ := s.replicas(t, 2)
		owners := make([]string, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				owners[i], errs[i] = dbs[i%len(dbs)].ClaimJob(context.Background(), "job_race", fmt.Sprintf("evt_%02d", i))
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("claimant %d: %v", i, err)
			}
		}
		owner := owners[0]
		if !strings.HasPrefix(owner, "evt_") {
			t.Fatalf("owner %q is no claimant", owner)
		}
		for i, o := range owners {
			if o != owner {
				t.Errorf("claimant %d sees owner %s, claimant 0 sees %s", i, o, owner)
			}
		}
		for i, db := range dbs {
			if got, err := db.ClaimOwner(context.Background(), "job_race"); err != nil || got != owner {
				t.Errorf("replica %d: ClaimOwner = %s, %v; want %s", i, got, err, owner)
			}
		}
	})
}

// ------------------------------------------------------------------ Resolve

// resolution is what processing hands to Resolve for ev resolving j: the
// job ends as end, the event as fin when it owns the claim.
func resolution(ev string, j voicehook.Job, end voicehook.JobEnd, fin voicehook.EventFinish) voicehook.Resolution {
	return voicehook.Resolution{EventID: ev, Job: j, End: end, Started: end.At.Add(-time.Second), Finished: end.At, Finish: fin}
}

func succeeded(j voicehook.Job) voicehook.EventFinish {
	return voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: j.ID}
}

// resolve runs Resolve and checks the owner it reports.
func resolve(t *testing.T, db *sqlstore.DB, r voicehook.Resolution, wantOwner string) {
	t.Helper()
	owner, err := db.Resolve(context.Background(), r)
	if err != nil {
		t.Fatalf("Resolve(%s, %s): %v", r.EventID, r.Job.ID, err)
	}
	if owner != wantOwner {
		t.Fatalf("Resolve(%s, %s) = owner %s, want %s", r.EventID, r.Job.ID, owner, wantOwner)
	}
}

// eventState is what Resolve changes on an event.
type eventState struct {
	Status       voicehook.EventStatus
	ErrorDetails string
	RelatedJob   string
	Attempts     int
}

func stateOf(t *testing.T, db *sqlstore.DB, id string) eventState {
	t.Helper()
	ev := event(t, db, id)
	return eventState{ev.Status, ev.ErrorDetails, ev.RelatedJob, ev.Attempts}
}

// TestResolveOwnerCompletes: the claim, the job's move, the segment's, the
// attempt and the event's end commit together, and none of it when any part
// fails.
func TestResolveOwnerCompletes(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		j := createJob(t, db, "seg_1", voicehook.JobTypeVoiceover, "")
		ingest(t, db, newEvent("evt_a", "key_a", t0))
		audio := voicehook.StoredAudio{URL: "https://media.example/a.mp3", Key: "seg_1/a.mp3", SHA256: "abc", Bytes: 42, DurationMS: 3000, ContentType: "audio/mpeg"}
		at := clock.Advance(time.Minute)
		wantSeg := voicehook.Segment{ID: "seg_1", Status: voicehook.SegmentPending, UpdatedAt: t0}

		// An attempt that cannot be recorded (no such event) comes after the
		// claim and the job's move in the transaction: all of it rolls back.
		if _, err := db.Resolve(ctx, resolution("evt_missing", j, voicehook.Completed(audio, at), succeeded(j))); err == nil {
			t.Fatal("Resolve for an event not in the store succeeded")
		}
		if _, err := db.ClaimOwner(ctx, j.ID); !errors.Is(err, voicehook.ErrNotFound) {
			t.Fatalf("ClaimOwner after a rolled back Resolve: got %v, want ErrNotFound", err)
		}
		if diff := cmp.Diff(j, job(t, db, j.ID)); diff != "" {
			t.Fatalf("job after a rolled back Resolve (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSeg, segment(t, db, "seg_1")); diff != "" {
			t.Fatalf("segment after a rolled back Resolve (-want +got):\n%s", diff)
		}

		r := resolution("evt_a", j, voicehook.Completed(audio, at), succeeded(j))
		resolve(t, db, r, "evt_a")
		wantJob := j
		wantJob.Status = voicehook.JobCompleted
		wantJob.Timestamps.Completed = ptr(at)
		if diff := cmp.Diff(wantJob, job(t, db, j.ID)); diff != "" {
			t.Errorf("job (-want +got):\n%s", diff)
		}
		wantSeg = voicehook.Segment{ID: "seg_1", Status: voicehook.SegmentVoiceoverReady, Voiceover: audio.URL, SHA256: audio.SHA256,
			Bytes: audio.Bytes, DurationMS: audio.DurationMS, UpdatedAt: at}
		if diff := cmp.Diff(wantSeg, segment(t, db, "seg_1")); diff != "" {
			t.Errorf("segment (-want +got):\n%s", diff)
		}
		wantAttempts := []voicehook.Attempt{{EventID: "evt_a", Attempt: 1, StartedAt: r.Started, FinishedAt: r.Finished, Outcome: voicehook.AttemptSucceeded}}
		if diff := cmp.Diff(wantAttempts, attempts(t, db, "evt_a")); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
		ev := event(t, db, "evt_a")
		if diff := cmp.Diff(eventState{voicehook.EventSucceeded, "", j.ID, 1}, stateOf(t, db, "evt_a")); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
		if ev.Success == nil || !*ev.Success || !ev.UpdatedAt.Equal(at) {
			t.Errorf("event: success %v, updated_at %v; want true, %v", ev.Success, ev.UpdatedAt, at)
		}
		if owner, err := db.ClaimOwner(ctx, j.ID); err != nil || owner != "evt_a" {
			t.Errorf("ClaimOwner = %s, %v; want evt_a", owner, err)
		}
	})
}

// TestResolveLostClaim: an event that does not own the job's claim moves
// nothing, whether the owner has finished the job yet or not; its attempt is
// recorded, and it is ignored with LostClaim's reason.
func TestResolveLostClaim(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		ingest(t, db, newEvent("evt_a", "key_a", t0), newEvent("evt_b", "key_b", t0), newEvent("evt_c", "key_c", t0))
		audio := voicehook.StoredAudio{URL: "https://media.example/b.mp3", SHA256: "def", Bytes: 7, DurationMS: 1000}

		// The owner has claimed the job but not finished it (it crashed, or
		// is still at it): the job stays processing, the segment pending.
		claimed := createJob(t, db, "seg_open", voicehook.JobTypeVoiceover, "")
		if owner, err := db.ClaimJob(ctx, claimed.ID, "evt_a"); err != nil || owner != "evt_a" {
			t.Fatalf("ClaimJob = %s, %v", owner, err)
		}
		at := clock.Advance(time.Minute)
		r := resolution("evt_b", claimed, voicehook.Completed(audio, at), succeeded(claimed))
		resolve(t, db, r, "evt_a")
		if diff := cmp.Diff(claimed, job(t, db, claimed.ID)); diff != "" {
			t.Errorf("unfinished job after a lost claim (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(voicehook.Segment{ID: "seg_open", Status: voicehook.SegmentPending, UpdatedAt: t0}, segment(t, db, "seg_open")); diff != "" {
			t.Errorf("segment after a lost claim (-want +got):\n%s", diff)
		}
		lost := voicehook.LostClaim(claimed.ID, "evt_a")
		if want := fmt.Sprintf("job %s is resolved by event evt_a", claimed.ID); lost.ErrorDetails != want {
			t.Fatalf("LostClaim reason %q, want %q", lost.ErrorDetails, want)
		}
		if diff := cmp.Diff(eventState{voicehook.EventIgnored, lost.ErrorDetails, claimed.ID, 1}, stateOf(t, db, "evt_b")); diff != "" {
			t.Errorf("evt_b (-want +got):\n%s", diff)
		}
		want := []voicehook.Attempt{{EventID: "evt_b", Attempt: 1, StartedAt: r.Started, FinishedAt: r.Finished, Outcome: voicehook.AttemptIgnored, Error: lost.ErrorDetails}}
		if diff := cmp.Diff(want, attempts(t, db, "evt_b")); diff != "" {
			t.Errorf("evt_b attempts (-want +got):\n%s", diff)
		}
		if got := stateOf(t, db, "evt_a"); got.Status != voicehook.EventReceived || got.Attempts != 0 {
			t.Errorf("the owner evt_a was touched: %+v", got)
		}

		// The owner has completed the job: a second event failing it moves
		// nothing either.
		done := createJob(t, db, "seg_done", voicehook.JobTypeVoiceover, "")
		resolve(t, db, resolution("evt_a", done, voicehook.Completed(audio, clock.Advance(time.Minute)), succeeded(done)), "evt_a")
		wantJob, wantSeg := job(t, db, done.ID), segment(t, db, "seg_done")
		if wantJob.Status != voicehook.JobCompleted {
			t.Fatalf("job %s after its owner completed it", wantJob.Status)
		}
		failure := voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: done.ID, ErrorDetails: "late failure"}
		resolve(t, db, resolution("evt_c", done, voicehook.Failed("late failure", clock.Advance(time.Minute)), failure), "evt_a")
		if diff := cmp.Diff(wantJob, job(t, db, done.ID)); diff != "" {
			t.Errorf("completed job after a lost claim (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSeg, segment(t, db, "seg_done")); diff != "" {
			t.Errorf("completed segment after a lost claim (-want +got):\n%s", diff)
		}
		lost = voicehook.LostClaim(done.ID, "evt_a")
		if diff := cmp.Diff(eventState{voicehook.EventIgnored, lost.ErrorDetails, done.ID, 1}, stateOf(t, db, "evt_c")); diff != "" {
			t.Errorf("evt_c (-want +got):\n%s", diff)
		}
		if as := attempts(t, db, "evt_c"); len(as) != 1 || as[0].Outcome != voicehook.AttemptIgnored || as[0].Error != lost.ErrorDetails {
			t.Errorf("evt_c attempts %+v; want one, ignored with %q", as, lost.ErrorDetails)
		}
		for jobID, want := range map[string]string{claimed.ID: "evt_a", done.ID: "evt_a"} {
			if owner, err := db.ClaimOwner(ctx, jobID); err != nil || owner != want {
				t.Errorf("ClaimOwner(%s) = %s, %v; want %s", jobID, owner, err, want)
			}
		}
	})
}

// TestResolveFails: the owner failing its job fails the job and its
// segment, and the event with the decided finish.
func TestResolveFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, clock := s.setup(t)
		j := createJob(t, db, "seg_2", voicehook.JobTypeVoiceover, "")
		ingest(t, db, newEvent("evt_c", "key_c", t0))
		at := clock.Advance(time.Minute)
		fin := voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: j.ID, ErrorDetails: "not audio"}
		r := resolution("evt_c", j, voicehook.Failed("not audio", at), fin)
		resolve(t, db, r, "evt_c")

		wantJob := j
		wantJob.Status, wantJob.ErrorDetails = voicehook.JobFailed, "not audio"
		wantJob.Timestamps.Failed = ptr(at)
		if diff := cmp.Diff(wantJob, job(t, db, j.ID)); diff != "" {
			t.Errorf("job (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(voicehook.Segment{ID: "seg_2", Status: voicehook.SegmentVoiceoverFailed, UpdatedAt: at}, segment(t, db, "seg_2")); diff != "" {
			t.Errorf("segment (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(eventState{voicehook.EventFailed, "not audio", j.ID, 1}, stateOf(t, db, "evt_c")); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
		if ev := event(t, db, "evt_c"); ev.Success == nil || *ev.Success {
			t.Errorf("event success %v, want false", ev.Success)
		}
		want := []voicehook.Attempt{{EventID: "evt_c", Attempt: 1, StartedAt: r.Started, FinishedAt: r.Finished, Outcome: voicehook.AttemptFailed, Error: "not audio"}}
		if diff := cmp.Diff(want, attempts(t, db, "evt_c")); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
	})
}

// TestResolveFinishedJob: the owner resolving a job that is already
// finished (by itself, or outside processing) moves nothing back; only its
// attempt and event end are recorded.
func TestResolveFinishedJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, clock := s.setup(t)
		ingest(t, db, newEvent("evt_a", "key_a", t0), newEvent("evt_x", "key_x", t0))
		audio := voicehook.StoredAudio{URL: "https://media.example/a.mp3", SHA256: "abc", Bytes: 42, DurationMS: 3000}
		other := voicehook.StoredAudio{URL: "https://media.example/other.mp3", SHA256: "fff", Bytes: 1, DurationMS: 1}

		// Completed by its owner, then resolved again by it, as failed and
		// as completed with other audio.
		j := createJob(t, db, "seg_1", voicehook.JobTypeVoiceover, "")
		resolve(t, db, resolution("evt_a", j, voicehook.Completed(audio, clock.Advance(time.Minute)), succeeded(j)), "evt_a")
		wantJob, wantSeg := job(t, db, j.ID), segment(t, db, "seg_1")
		if wantJob.Status != voicehook.JobCompleted || wantSeg.Voiceover != audio.URL {
			t.Fatalf("after the first Resolve: job %s, segment %+v", wantJob.Status, wantSeg)
		}
		failure := voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: j.ID, ErrorDetails: "late"}
		resolve(t, db, resolution("evt_a", j, voicehook.Failed("late", clock.Advance(time.Minute)), failure), "evt_a")
		resolve(t, db, resolution("evt_a", j, voicehook.Completed(other, clock.Advance(time.Minute)), succeeded(j)), "evt_a")
		if diff := cmp.Diff(wantJob, job(t, db, j.ID)); diff != "" {
			t.Errorf("completed job resolved again by its owner (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSeg, segment(t, db, "seg_1")); diff != "" {
			t.Errorf("its segment (-want +got):\n%s", diff)
		}
		// What the owner decided is recorded: the store does not second-guess it.
		if diff := cmp.Diff(eventState{voicehook.EventSucceeded, "late", j.ID, 3}, stateOf(t, db, "evt_a")); diff != "" {
			t.Errorf("evt_a (-want +got):\n%s", diff)
		}
		var outcomes []voicehook.AttemptOutcome
		for _, a := range attempts(t, db, "evt_a") {
			outcomes = append(outcomes, a.Outcome)
		}
		if diff := cmp.Diff([]voicehook.AttemptOutcome{voicehook.AttemptSucceeded, voicehook.AttemptFailed, voicehook.AttemptSucceeded}, outcomes); diff != "" {
			t.Errorf("evt_a attempt outcomes (-want +got):\n%s", diff)
		}

		// Failed outside processing (no claim yet): the first event to
		// resolve it owns the claim, and the job and segment stay failed.
		f := createJob(t, db, "seg_f", voicehook.JobTypeVoiceover, "")
		finishJob(t, db, f, voicehook.Failed("cancelled", clock.Advance(time.Minute)))
		wantJob, wantSeg = job(t, db, f.ID), segment(t, db, "seg_f")
		resolve(t, db, resolution("evt_x", f, voicehook.Completed(audio, clock.Advance(time.Minute)), succeeded(f)), "evt_x")
		if diff := cmp.Diff(wantJob, job(t, db, f.ID)); diff != "" {
			t.Errorf("failed job resolved as completed (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSeg, segment(t, db, "seg_f")); diff != "" {
			t.Errorf("failed segment (-want +got):\n%s", diff)
		}
		if wantJob.Status != voicehook.JobFailed || wantSeg.Status != voicehook.SegmentVoiceoverFailed {
			t.Errorf("job %s, segment %s; want failed, voiceover_failed", wantJob.Status, wantSeg.Status)
		}
		if got := stateOf(t, db, "evt_x"); got.Attempts != 1 || got.Status != voicehook.EventSucceeded {
			t.Errorf("evt_x %+v; want its attempt and end recorded", got)
		}
	})
}

// TestResolveRepeat: running the same Resolution again (a retry after a
// crash before the acknowledgement) gives the same owner and moves nothing
// again; each run records its attempt.
func TestResolveRepeat(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, clock := s.setup(t)
		ingest(t, db, newEvent("evt_a", "key_a", t0), newEvent("evt_b", "key_b", t0))
		j := createJob(t, db, "seg_1", voicehook.JobTypeVoiceover, "")
		audio := voicehook.StoredAudio{URL: "https://media.example/a.mp3", SHA256: "abc", Bytes: 42, DurationMS: 3000}
		win := resolution("evt_a", j, voicehook.Completed(audio, clock.Advance(time.Minute)), succeeded(j))
		lose := resolution("evt_b", j, voicehook.Completed(audio, clock.Advance(time.Minute)), succeeded(j))
		resolve(t, db, win, "evt_a")
		resolve(t, db, lose, "evt_a")
		wantJob, wantSeg := job(t, db, j.ID), segment(t, db, "seg_1")
		wantA, wantB := stateOf(t, db, "evt_a"), stateOf(t, db, "evt_b")
		attA, attB := attempts(t, db, "evt_a"), attempts(t, db, "evt_b")

		const runs = 3
		for i := range runs {
			clock.Advance(time.Minute)
			resolve(t, db, win, "evt_a")
			resolve(t, db, lose, "evt_a")
			if diff := cmp.Diff(wantJob, job(t, db, j.ID)); diff != "" {
				t.Errorf("run %d: job (-want +got):\n%s", i, diff)
			}
			if diff := cmp.Diff(wantSeg, segment(t, db, "seg_1")); diff != "" {
				t.Errorf("run %d: segment (-want +got):\n%s", i, diff)
			}
		}
		wantA.Attempts, wantB.Attempts = 1+runs, 1+runs
		if diff := cmp.Diff(wantA, stateOf(t, db, "evt_a")); diff != "" {
			t.Errorf("evt_a (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantB, stateOf(t, db, "evt_b")); diff != "" {
			t.Errorf("evt_b (-want +got):\n%s", diff)
		}
		for id, first := range map[string][]voicehook.Attempt{"evt_a": attA, "evt_b": attB} {
			got := attempts(t, db, id)
			if len(got) != 1+runs {
				t.Fatalf("%s: %d attempts, want %d", id, len(got), 1+runs)
			}
			for i, a := range got {
				want := first[0]
				want.Attempt = i + 1
				if diff := cmp.Diff(want, a); diff != "" {
					t.Errorf("%s attempt %d (-want +got):\n%s", id, i+1, diff)
				}
			}
		}
	})
}

// TestResolveConcurrentReplicas: events racing to resolve one job from two
// replicas: one owns it and its audio is the segment's; every other is
// ignored for it; each records one attempt.
func TestResolveConcurrentReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		const n = 12
		dbs, clock := s.replicas(t, 2)
		j := createJob(t, dbs[0], "seg_race", voicehook.JobTypeVoiceover, "")
		var evs []voicehook.NewEvent
		for i := range n {
			id := fmt.Sprintf("evt_%02d", i)
			evs = append(evs, newEvent(id, id, t0))
		}
		ingest(t, dbs[0], evs...)
		at := clock.Advance(time.Minute)
		owners := make([]string, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				id := evs[i].ID
				audio := voicehook.StoredAudio{URL: "https://media.example/" + id + ".mp3", SHA256: id, Bytes: int64(i + 1)}
				owners[i], errs[i] = dbs[i%len(dbs)].Resolve(context.Background(), resolution(id, j, voicehook.Completed(audio, at), succeeded(j)))
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		owner := owners[0]
		if !strings.HasPrefix(owner, "evt_") {
			t.Fatalf("owner %q is no claimant", owner)
		}
		for i, o := range owners {
			if o != owner {
				t.Errorf("claimant %d sees owner %s, claimant 0 sees %s", i, o, owner)
			}
		}
		if got := job(t, dbs[1], j.ID); got.Status != voicehook.JobCompleted || !got.Timestamps.Completed.Equal(at) {
			t.Errorf("job %s completed at %v; want completed at %v", got.Status, got.Timestamps.Completed, at)
		}
		if got := segment(t, dbs[1], "seg_race"); got.Voiceover != "https://media.example/"+owner+".mp3" || got.SHA256 != owner {
			t.Errorf("segment has %s (%s); want the owner %s's audio", got.Voiceover, got.SHA256, owner)
		}
		lost := voicehook.LostClaim(j.ID, owner)
		for _, ev := range evs {
			want := eventState{voicehook.EventIgnored, lost.ErrorDetails, j.ID, 1}
			if ev.ID == owner {
				want = eventState{voicehook.EventSucceeded, "", j.ID, 1}
			}
			if diff := cmp.Diff(want, stateOf(t, dbs[0], ev.ID)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", ev.ID, diff)
			}
		}
	})
}
