package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

func TestCreateJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		// A clock reading finer than storage keeps: what CreateJob returns is
		// what a later read returns.
		clock.Set(t0.Add(789 * time.Nanosecond))
		j1 := createJob(t, db, "seg_1", voicehook.JobTypeVoiceover, "")
		if !strings.HasPrefix(j1.ID, "job_") {
			t.Errorf("job id %q lacks the job_ prefix", j1.ID)
		}
		want := voicehook.Job{
			ID:         j1.ID,
			SegmentID:  "seg_1",
			Type:       voicehook.JobTypeVoiceover,
			Status:     voicehook.JobProcessing,
			Timestamps: voicehook.Timestamps{Created: ptr(t0)},
		}
		if diff := cmp.Diff(want, j1); diff != "" {
			t.Errorf("CreateJob (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, job(t, db, j1.ID)); diff != "" {
			t.Errorf("Job (-want +got):\n%s", diff)
		}
		wantSeg := voicehook.Segment{ID: "seg_1", Status: voicehook.SegmentPending, UpdatedAt: t0}
		if diff := cmp.Diff(wantSeg, segment(t, db, "seg_1")); diff != "" {
			t.Errorf("Segment (-want +got):\n%s", diff)
		}

		// A second job on the segment reuses it, and supersedes the first,
		// still processing.
		later := clock.Advance(time.Hour)
		j2 := createJob(t, db, "seg_1", voicehook.JobTypeVoiceover, "req_9")
		if j2.ID == j1.ID {
			t.Fatalf("second job reused id %s", j1.ID)
		}
		if diff := cmp.Diff(wantSeg, segment(t, db, "seg_1")); diff != "" {
			t.Errorf("Segment after second job (-want +got):\n%s", diff)
		}
		want2 := voicehook.Job{
			ID: j2.ID, SegmentID: "seg_1", Type: voicehook.JobTypeVoiceover, Status: voicehook.JobProcessing,
			ExternalID: "req_9", Timestamps: voicehook.Timestamps{Created: ptr(later.Truncate(time.Microsecond))},
		}
		if diff := cmp.Diff(want2, job(t, db, j2.ID)); diff != "" {
			t.Errorf("second Job (-want +got):\n%s", diff)
		}
		jobs, err := db.ListJobs(ctx, voicehook.JobFilter{SegmentID: "seg_1"})
		if err != nil {
			t.Fatal(err)
		}
		superseded := want
		superseded.Status, superseded.ErrorDetails = voicehook.JobFailed, "superseded by "+j2.ID
		superseded.Timestamps.Failed = ptr(later.Truncate(time.Microsecond))
		if diff := cmp.Diff([]voicehook.Job{want2, superseded}, jobs); diff != "" {
			t.Errorf("ListJobs(seg_1) (-want +got):\n%s", diff)
		}

		if _, err := db.Job(ctx, "job_missing"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("Job(missing): got %v, want ErrNotFound", err)
		}
		if _, err := db.Segment(ctx, "seg_missing"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("Segment(missing): got %v, want ErrNotFound", err)
		}
	})
}

func TestFindJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		find := func(q voicehook.JobQuery) string {
			t.Helper()
			j, err := db.FindJob(ctx, q)
			if err != nil {
				t.Fatalf("FindJob(%+v): %v", q, err)
			}
			return j.ID
		}
		notFound := func(q voicehook.JobQuery) {
			t.Helper()
			if j, err := db.FindJob(ctx, q); !errors.Is(err, voicehook.ErrNotFound) {
				t.Errorf("FindJob(%+v) = %s, %v; want ErrNotFound", q, j.ID, err)
			}
		}

		// (A segment has one processing job at most: a new job supersedes
		// the processing one.)
		older := createJob(t, db, "seg_s", voicehook.JobTypeVoiceover, "")
		finishJob(t, db, older, voicehook.Failed("boom", clock.Advance(time.Minute)))
		newer := createJob(t, db, "seg_s", voicehook.JobTypeVoiceover, "")
		if got := find(voicehook.JobQuery{SegmentID: "seg_s"}); got != newer.ID {
			t.Errorf("processing vs older finished: found %s, want the processing %s", got, newer.ID)
		}
		finishJob(t, db, newer, voicehook.Completed(voicehook.StoredAudio{URL: "https://x/a.mp3"}, clock.Advance(time.Minute)))
		if got := find(voicehook.JobQuery{SegmentID: "seg_s"}); got != newer.ID {
			t.Errorf("both finished: found %s, want the newest %s", got, newer.ID)
		}
		clock.Advance(time.Minute)
		stuck := createJob(t, db, "seg_s2", voicehook.JobTypeVoiceover, "")
		clock.Advance(time.Minute)
		again := createJob(t, db, "seg_s2", voicehook.JobTypeVoiceover, "")
		if got := find(voicehook.JobQuery{SegmentID: "seg_s2"}); got != again.ID {
			t.Errorf("after superseding %s: found %s, want the new job %s", stuck.ID, got, again.ID)
		}

		req := createJob(t, db, "seg_t", voicehook.JobTypeVoiceover, "req_1")
		proj := createJob(t, db, "seg_u", voicehook.JobTypeVoiceover, "proj_9")
		createJob(t, db, "seg_v", "other_type", "other_1")
		createJob(t, db, "seg_w", voicehook.JobTypeVoiceover, "")

		if got := find(voicehook.JobQuery{ExternalIDs: []string{"req_1"}}); got != req.ID {
			t.Errorf("by external id: found %s, want %s", got, req.ID)
		}
		if got := find(voicehook.JobQuery{ExternalIDs: []string{"nope", "chap_3", "proj_9"}}); got != proj.ID {
			t.Errorf("by any of several ids: found %s, want %s", got, proj.ID)
		}
		if got := find(voicehook.JobQuery{SegmentID: "seg_unknown", ExternalIDs: []string{"req_1"}}); got != req.ID {
			t.Errorf("unknown segment, known id: found %s, want %s", got, req.ID)
		}
		if got := find(voicehook.JobQuery{SegmentID: "seg_u", ExternalIDs: []string{"req_1"}}); got != proj.ID {
			t.Errorf("segment first: found %s, want %s", got, proj.ID)
		}
		notFound(voicehook.JobQuery{})
		notFound(voicehook.JobQuery{SegmentID: "seg_unknown"})
		notFound(voicehook.JobQuery{ExternalIDs: []string{"nope"}})
		notFound(voicehook.JobQuery{ExternalIDs: []string{""}}) // jobs without an external id never match
		notFound(voicehook.JobQuery{SegmentID: "seg_v"})        // not a voiceover job
		notFound(voicehook.JobQuery{ExternalIDs: []string{"other_1"}})
	})
}

func TestFinishJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)

		done := createJob(t, db, "seg_ok", voicehook.JobTypeVoiceover, "")
		audio := voicehook.StoredAudio{URL: "https://cdn.example.com/seg_ok.mp3", Key: "k", SHA256: strings.Repeat("ab", 32),
			Bytes: 123456, DurationMS: 7890, ContentType: "audio/mpeg"}
		doneAt := clock.Advance(time.Minute).Add(321 * time.Nanosecond)
		if err := db.FinishJob(ctx, done, voicehook.Completed(audio, doneAt)); err != nil {
			t.Fatalf("FinishJob(completed): %v", err)
		}
		wantJob := done
		wantJob.Status = voicehook.JobCompleted
		wantJob.Timestamps.Completed = ptr(doneAt.Truncate(time.Microsecond))
		wantSeg := voicehook.Segment{ID: "seg_ok", Status: voicehook.SegmentVoiceoverReady, Voiceover: audio.URL, SHA256: audio.SHA256,
			Bytes: audio.Bytes, DurationMS: audio.DurationMS, UpdatedAt: doneAt.Truncate(time.Microsecond)}
		check := func(step string, jobID string, wantJob voicehook.Job, wantSeg voicehook.Segment) {
			t.Helper()
			if diff := cmp.Diff(wantJob, job(t, db, jobID)); diff != "" {
				t.Errorf("%s: job (-want +got):\n%s", step, diff)
			}
			if diff := cmp.Diff(wantSeg, segment(t, db, wantSeg.ID)); diff != "" {
				t.Errorf("%s: segment (-want +got):\n%s", step, diff)
			}
		}
		check("completed", done.ID, wantJob, wantSeg)

		// A finished job never moves, whatever the caller's copy says.
		other := voicehook.StoredAudio{URL: "https://cdn.example.com/other.mp3", SHA256: "ff", Bytes: 1, DurationMS: 1}
		if err := db.FinishJob(ctx, done, voicehook.Completed(other, clock.Advance(time.Minute))); err != nil {
			t.Fatalf("FinishJob(completed) again: %v", err)
		}
		check("completed on completed", done.ID, wantJob, wantSeg)
		if err := db.FinishJob(ctx, done, voicehook.Failed("late failure", clock.Advance(time.Minute))); err != nil {
			t.Fatalf("FinishJob(failed) on completed: %v", err)
		}
		check("failed on completed", done.ID, wantJob, wantSeg)

		failed := createJob(t, db, "seg_bad", voicehook.JobTypeVoiceover, "")
		failAt := clock.Advance(time.Minute)
		if err := db.FinishJob(ctx, failed, voicehook.Failed("quota exceeded", failAt)); err != nil {
			t.Fatalf("FinishJob(failed): %v", err)
		}
		wantFailed := failed
		wantFailed.Status = voicehook.JobFailed
		wantFailed.ErrorDetails = "quota exceeded"
		wantFailed.Timestamps.Failed = ptr(failAt)
		wantBadSeg := voicehook.Segment{ID: "seg_bad", Status: voicehook.SegmentVoiceoverFailed, UpdatedAt: failAt}
		check("failed", failed.ID, wantFailed, wantBadSeg)
		if err := db.FinishJob(ctx, failed, voicehook.Failed("another reason", clock.Advance(time.Minute))); err != nil {
			t.Fatalf("FinishJob(failed) again: %v", err)
		}
		check("failed on failed", failed.ID, wantFailed, wantBadSeg)
		if err := db.FinishJob(ctx, failed, voicehook.Completed(audio, clock.Advance(time.Minute))); err != nil {
			t.Fatalf("FinishJob(completed) on failed: %v", err)
		}
		check("completed on failed", failed.ID, wantFailed, wantBadSeg)

		// An end that is not a final status is refused and moves nothing.
		pending := createJob(t, db, "seg_open", voicehook.JobTypeVoiceover, "")
		for _, st := range []voicehook.JobStatus{voicehook.JobProcessing, "", "done"} {
			if err := db.FinishJob(ctx, pending, voicehook.JobEnd{Status: st, At: clock.Advance(time.Minute)}); err == nil {
				t.Errorf("FinishJob to %q succeeded", st)
			}
		}
		check("refused end", pending.ID, pending, voicehook.Segment{ID: "seg_open", Status: voicehook.SegmentPending, UpdatedAt: pending.Timestamps.Created.UTC()})

		// The other segment was never touched.
		check("untouched", done.ID, wantJob, wantSeg)
	})
}

func TestListJobs(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		a1 := createJob(t, db, "seg_a", voicehook.JobTypeVoiceover, "")
		clock.Advance(time.Second)
		b1 := createJob(t, db, "seg_b", voicehook.JobTypeVoiceover, "")
		finishJob(t, db, a1, voicehook.Completed(voicehook.StoredAudio{URL: "u"}, clock.Advance(time.Second)))
		finishJob(t, db, b1, voicehook.Failed("x", clock.Advance(time.Second)))
		clock.Advance(time.Second)
		a2 := createJob(t, db, "seg_a", voicehook.JobTypeVoiceover, "")
		clock.Advance(time.Second)
		b2 := createJob(t, db, "seg_b", voicehook.JobTypeVoiceover, "")
		tests := []struct {
			name string
			f    voicehook.JobFilter
			want []string
		}{
			{"all newest first", voicehook.JobFilter{}, []string{b2.ID, a2.ID, b1.ID, a1.ID}},
			{"segment", voicehook.JobFilter{SegmentID: "seg_a"}, []string{a2.ID, a1.ID}},
			{"status processing", voicehook.JobFilter{Status: voicehook.JobProcessing}, []string{b2.ID, a2.ID}},
			{"status completed", voicehook.JobFilter{Status: voicehook.JobCompleted}, []string{a1.ID}},
			{"status and segment", voicehook.JobFilter{Status: voicehook.JobFailed, SegmentID: "seg_b"}, []string{b1.ID}},
			{"no match", voicehook.JobFilter{Status: voicehook.JobFailed, SegmentID: "seg_a"}, []string{}},
			{"limit", voicehook.JobFilter{Limit: 3}, []string{b2.ID, a2.ID, b1.ID}},
		}
		for _, tt := range tests {
			jobs, err := db.ListJobs(ctx, tt.f)
			if err != nil {
				t.Fatalf("%s: ListJobs: %v", tt.name, err)
			}
			got := []string{}
			for _, j := range jobs {
				got = append(got, j.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}
	})
}

func TestCountJobs(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		count := func(status voicehook.JobStatus, upTo int) int {
			t.Helper()
			n, err := db.CountJobs(ctx, status, upTo)
			if err != nil {
				t.Fatalf("CountJobs(%s, %d): %v", status, upTo, err)
			}
			return n
		}
		for _, st := range voicehook.JobStatuses {
			if n := count(st, 10); n != 0 {
				t.Errorf("empty store: CountJobs(%s) = %d, want 0", st, n)
			}
		}

		var jobs []voicehook.Job
		for i := range 6 {
			jobs = append(jobs, createJob(t, db, fmt.Sprintf("seg_%d", i), voicehook.JobTypeVoiceover, ""))
			clock.Advance(time.Second)
		}
		finishJob(t, db, jobs[0], voicehook.Completed(voicehook.StoredAudio{URL: "u"}, clock.Now()))
		finishJob(t, db, jobs[1], voicehook.Failed("x", clock.Now()))
		finishJob(t, db, jobs[2], voicehook.Failed("y", clock.Now()))
		// A finished job finished again is still counted once.
		finishJob(t, db, jobs[0], voicehook.Failed("late", clock.Now()))

		tests := []struct {
			status voicehook.JobStatus
			upTo   int
			want   int
		}{
			{voicehook.JobProcessing, 100, 3},
			{voicehook.JobProcessing, 3, 3},
			{voicehook.JobProcessing, 2, 2}, // "2 or more"
			{voicehook.JobProcessing, 1, 1},
			{voicehook.JobProcessing, 0, 0},
			{voicehook.JobCompleted, 100, 1},
			{voicehook.JobFailed, 100, 2},
			{voicehook.JobFailed, 1, 1},
			{"unknown", 100, 0},
		}
		for _, tt := range tests {
			if n := count(tt.status, tt.upTo); n != tt.want {
				t.Errorf("CountJobs(%s, %d) = %d, want %d", tt.status, tt.upTo, n, tt.want)
			}
		}

		// The counts agree with the listing.
		for _, st := range voicehook.JobStatuses {
			listed, err := db.ListJobs(ctx, voicehook.JobFilter{Status: st})
			if err != nil {
				t.Fatal(err)
			}
			if n := count(st, 100); n != len(listed) {
				t.Errorf("CountJobs(%s) = %d, ListJobs lists %d", st, n, len(listed))
			}
		}

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := db.CountJobs(cctx, voicehook.JobProcessing, 10); err == nil {
			t.Error("CountJobs with a cancelled context succeeded")
		}
	})
}
