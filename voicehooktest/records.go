package voicehooktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/voicehook/voicehook"
)

// RecordsHarness is one Records backend under test, fresh (empty) for each
// case.
type RecordsHarness struct {
	Records voicehook.Records
	// Clock is the clock Records stamps new jobs with. The suite moves it
	// between jobs so that "newest" is never a tie.
	Clock *Clock
	// NewSegment returns the id of a segment CreateJob accepts, new to the
	// store: a made-up id where the first job creates its segment (SQL), a
	// record made in the user's table where segments must exist first
	// (Airtable).
	NewSegment func(t *testing.T) string
	// Stores says what the backend keeps beyond what every backend must.
	Stores RecordsStores
}

// RecordsStores lists what a Records backend may or may not keep.
type RecordsStores struct {
	// ExternalIDs: jobs keep NewJob.ExternalID and FindJob finds them by it
	// (Airtable only with --airtable-field-external-id).
	ExternalIDs bool
	// AudioDetails: a completed job's segment keeps the audio's SHA256,
	// Bytes and DurationMS besides its URL (Airtable only with the optional
	// fields).
	AudioDetails bool
	// SegmentUpdatedAt: a segment says when it last changed.
	SegmentUpdatedAt bool
}

// unknownIDs are ids no backend has made: one shaped like an Airtable record
// id, so Airtable has to look it up, and one like the SQL store's.
var unknownIDs = []string{"recAAAAAAAAAAAAAA", "job_01890000-0000-7000-8000-000000000000", "no-such-id"}

// RunRecords runs the voicehook.Records contract against the backend
// newRecords builds; it calls newRecords once per case, in the case's own
// (parallel) subtest, so counts and lists see only the case's jobs.
func RunRecords(t *testing.T, newRecords func(t *testing.T) RecordsHarness) {
	t.Helper()
	ctx := context.Background()
	audio := voicehook.StoredAudio{
		URL:         "https://cdn.example.com/segments/seg-1/" + strings.Repeat("ab", 32) + ".mp3",
		Key:         "segments/seg-1/" + strings.Repeat("ab", 32) + ".mp3",
		SHA256:      strings.Repeat("ab", 32),
		Bytes:       48213,
		DurationMS:  2040,
		ContentType: "audio/mpeg",
	}

	// create makes a voiceover job a second after the previous one.
	create := func(t *testing.T, h RecordsHarness, seg, externalID string) voicehook.Job {
		t.Helper()
		h.Clock.Advance(time.Second)
		nj := voicehook.NewJob{SegmentID: seg, Type: voicehook.JobTypeVoiceover}
		if h.Stores.ExternalIDs {
			nj.ExternalID = externalID
		}
		job, err := h.Records.CreateJob(ctx, nj)
		if err != nil {
			t.Fatalf("CreateJob(%+v): %v", nj, err)
		}
		return job
	}
	job := func(t *testing.T, h RecordsHarness, id string) voicehook.Job {
		t.Helper()
		j, err := h.Records.Job(ctx, id)
		if err != nil {
			t.Fatalf("Job(%s): %v", id, err)
		}
		return j
	}
	segment := func(t *testing.T, h RecordsHarness, id string) voicehook.Segment {
		t.Helper()
		s, err := h.Records.Segment(ctx, id)
		if err != nil {
			t.Fatalf("Segment(%s): %v", id, err)
		}
		return s
	}
	finish := func(t *testing.T, h RecordsHarness, j voicehook.Job, end voicehook.JobEnd) {
		t.Helper()
		if err := h.Records.FinishJob(ctx, j, end); err != nil {
			t.Fatalf("FinishJob(%s, %s): %v", j.ID, end.Status, err)
		}
	}
	// wantSegment is the segment as the backend keeps it: without what it
	// does not store.
	wantSegment := func(h RecordsHarness, s voicehook.Segment) voicehook.Segment {
		if !h.Stores.AudioDetails {
			s.SHA256, s.Bytes, s.DurationMS = "", 0, 0
		}
		return s
	}
	segmentOpts := func(h RecordsHarness) cmp.Option {
		if h.Stores.SegmentUpdatedAt {
			return cmp.Options{}
		}
		return cmpopts.IgnoreFields(voicehook.Segment{}, "UpdatedAt")
	}
	completed := func(s voicehook.Segment, a voicehook.StoredAudio, at time.Time) voicehook.Segment {
		s.Status, s.Voiceover, s.SHA256, s.Bytes, s.DurationMS, s.UpdatedAt = voicehook.SegmentVoiceoverReady, a.URL, a.SHA256, a.Bytes, a.DurationMS, at
		return s
	}

	t.Run("CreateJob", func(t *testing.T) {
		t.Parallel()
		h := newRecords(t)
		seg := h.NewSegment(t)
		got := create(t, h, seg, "proj-1")
		now := h.Clock.Now()
		want := voicehook.Job{ID: got.ID, SegmentID: seg, Type: voicehook.JobTypeVoiceover, Status: voicehook.JobProcessing,
			Timestamps: voicehook.Timestamps{Created: &now}}
		if h.Stores.ExternalIDs {
			want.ExternalID = "proj-1"
		}
		if got.ID == "" {
			t.Error("CreateJob returned a job without an id")
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CreateJob (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, job(t, h, got.ID)); diff != "" {
			t.Errorf("Job reads back (-want +got):\n%s", diff)
		}
		wantSeg := voicehook.Segment{ID: seg, Status: voicehook.SegmentPending, UpdatedAt: now}
		if diff := cmp.Diff(wantSeg, segment(t, h, seg), segmentOpts(h)); diff != "" {
			t.Errorf("Segment (-want +got):\n%s", diff)
		}
	})

	// A segment gets a new job when its voiceover is made again; the new
	// job does not undo what the earlier one left on the segment.
	t.Run("SecondJobOnASegment", func(t *testing.T) {
		t.Parallel()
		h := newRecords(t)
		seg := h.NewSegment(t)
		first := create(t, h, seg, "")
		before := segment(t, h, seg)
		at := h.Clock.Advance(time.Second)
		finish(t, h, first, voicehook.Completed(audio, at))
		second := create(t, h, seg, "")
		if second.ID == first.ID {
			t.Fatalf("the second job has the first's id %s", first.ID)
		}
		if second.Status != voicehook.JobProcessing || second.SegmentID != seg {
			t.Errorf("second job %+v, want processing on %s", second, seg)
		}
		if diff := cmp.Diff(wantSegment(h, completed(before, audio, at)), segment(t, h, seg), segmentOpts(h)); diff != "" {
			t.Errorf("segment after a second job (-want +got):\n%s", diff)
		}
		jobs, err := h.Records.ListJobs(ctx, voicehook.JobFilter{SegmentID: seg})
		if err != nil {
			t.Fatal(err)
		}
		want := []voicehook.Job{job(t, h, second.ID), job(t, h, first.ID)}
		if diff := cmp.Diff(want, jobs); diff != "" {
			t.Errorf("the segment's jobs (-want +got):\n%s", diff)
		}
	})

	// A new job for a segment whose job is still processing supersedes it:
	// the old job fails, saying by which job, instead of staying
	// processing forever. The segment is left as it is (its new job is
	// under way), and jobs of other segments are not touched. An event
	// naming the segment then resolves the new job.
	t.Run("SecondJobSupersedesAProcessingOne", func(t *testing.T) {
		t.Parallel()
		h := newRecords(t)
		seg, other := h.NewSegment(t), h.NewSegment(t)
		first := create(t, h, seg, "proj-1")
		otherJob := create(t, h, other, "")
		// An event matched the first job (and is fetching its audio)
		// when the operator creates the new one.
		if got, err := h.Records.FindJob(ctx, voicehook.JobQuery{SegmentID: seg}); err != nil || got.ID != first.ID {
			t.Fatalf("FindJob before the new job = %+v, %v; want %s", got, err, first.ID)
		}
		before := segment(t, h, seg)
		second := create(t, h, seg, "proj-2")
		at := h.Clock.Now()

		wantFirst := job(t, h, first.ID)
		wantFirst.Status, wantFirst.ErrorDetails, wantFirst.Timestamps.Failed = voicehook.JobFailed, "superseded by "+second.ID, &at
		if diff := cmp.Diff(wantFirst, job(t, h, first.ID)); diff != "" {
			t.Errorf("the superseded job (-want +got):\n%s", diff)
		}
		if got := job(t, h, second.ID); got.Status != voicehook.JobProcessing {
			t.Errorf("the new job is %s, want processing", got.Status)
		}
		if got := job(t, h, otherJob.ID); got.Status != voicehook.JobProcessing {
			t.Errorf("another segment's job is %s, want processing (untouched)", got.Status)
		}
		if diff := cmp.Diff(before, segment(t, h, seg), segmentOpts(h)); diff != "" {
			t.Errorf("the segment changed (-before +after):\n%s", diff)
		}

		// The superseded job's own event cannot finish it any more.
		finish(t, h, first, voicehook.Completed(audio, h.Clock.Advance(time.Second)))
		if got := job(t, h, first.ID); got.Status != voicehook.JobFailed {
			t.Errorf("the superseded job moved to %s when its event finished it", got.Status)
		}
		if diff := cmp.Diff(before, segment(t, h, seg), segmentOpts(h)); diff != "" {
			t.Errorf("finishing the superseded job changed the segment (-before +after):\n%s", diff)
		}

		// An event naming the segment (with or without the old job's id)
		// resolves the new job.
		queries := []voicehook.JobQuery{{SegmentID: seg}}
		if h.Stores.ExternalIDs {
			queries = append(queries, voicehook.JobQuery{SegmentID: seg, ExternalIDs: []string{"proj-1"}})
		}
		for _, q := range queries {
			got, err := h.Records.FindJob(ctx, q)
			if err != nil {
				t.Fatalf("FindJob(%+v): %v", q, err)
			}
			if got.ID != second.ID {
				t.Errorf("FindJob(%+v) = %s (%s), want the new job %s", q, got.ID, got.Status, second.ID)
			}
		}

		// A third job supersedes the second; the first keeps what it said.
		third := create(t, h, seg, "")
		if got := job(t, h, second.ID); got.Status != voicehook.JobFailed || got.ErrorDetails != "superseded by "+third.ID {
			t.Errorf("the second job after a third = %s %q, want failed %q", got.Status, got.ErrorDetails, "superseded by "+third.ID)
		}
		if got := job(t, h, first.ID); got.ErrorDetails != "superseded by "+second.ID {
			t.Errorf("the first job now says %q, want %q", got.ErrorDetails, "superseded by "+second.ID)
		}
		// A finished job is not superseded: it keeps its end.
		finish(t, h, third, voicehook.Completed(audio, h.Clock.Advance(time.Second)))
		doneThird := job(t, h, third.ID)
		create(t, h, seg, "")
		if diff := cmp.Diff(doneThird, job(t, h, third.ID)); diff != "" {
			t.Errorf("a new job moved a completed one (-before +after):\n%s", diff)
		}
	})

	t.Run("ListJobs", func(t *testing.T) {
		t.Parallel()
		h := newRecords(t)
		segA, segB := h.NewSegment(t), h.NewSegment(t)
		// Each first job finishes before its segment's second is created
		// (a second job would supersede a processing one).
		a1 := create(t, h, segA, "")
		b1 := create(t, h, segB, "")
		finish(t, h, a1, voicehook.Completed(audio, h.Clock.Advance(time.Second)))
		finish(t, h, b1, voicehook.Failed("quota exceeded", h.Clock.Advance(time.Second)))
		a2 := create(t, h, segA, "")
		b2 := create(t, h, segB, "")
		byID := map[string]voicehook.Job{}
		for _, j := range []voicehook.Job{a1, b1, a2, b2} {
			byID[j.ID] = job(t, h, j.ID)
		}
		jobs := func(js ...voicehook.Job) []voicehook.Job {
			var out []voicehook.Job
			for _, j := range js {
				out = append(out, byID[j.ID])
			}
			return out
		}
		tests := []struct {
			name string
			f    voicehook.JobFilter
			want []voicehook.Job
		}{
			{"all, newest first", voicehook.JobFilter{}, jobs(b2, a2, b1, a1)},
			{"processing", voicehook.JobFilter{Status: voicehook.JobProcessing}, jobs(b2, a2)},
			{"completed", voicehook.JobFilter{Status: voicehook.JobCompleted}, jobs(a1)},
			{"failed", voicehook.JobFilter{Status: voicehook.JobFailed}, jobs(b1)},
			{"segment", voicehook.JobFilter{SegmentID: segA}, jobs(a2, a1)},
			{"segment and status", voicehook.JobFilter{SegmentID: segB, Status: voicehook.JobProcessing}, jobs(b2)},
			{"limit", voicehook.JobFilter{Limit: 3}, jobs(b2, a2, b1)},
			{"limit within a segment", voicehook.JobFilter{SegmentID: segA, Limit: 1}, jobs(a2)},
			{"segment without jobs", voicehook.JobFilter{SegmentID: h.NewSegment(t)}, nil},
			{"unknown segment", voicehook.JobFilter{SegmentID: unknownIDs[0]}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := h.Records.ListJobs(ctx, tt.f)
				if err != nil {
					t.Fatalf("ListJobs(%+v): %v", tt.f, err)
				}
				if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("ListJobs(%+v) (-want +got):\n%s", tt.f, diff)
				}
			})
		}
	})

	t.Run("CountJobs", func(t *testing.T) {
		t.Parallel()
		h := newRecords(t)
		var created []voicehook.Job
		for range 4 {
			created = append(created, create(t, h, h.NewSegment(t), ""))
		}
		finish(t, h, created[0], voicehook.Completed(audio, h.Clock.Advance(time.Second)))
		tests := []struct {
			status voicehook.JobStatus
			upTo   int
			want   int
		}{
			{voicehook.JobProcessing, 100, 3},
			{voicehook.JobProcessing, 3, 3},
			// upTo caps the count: 2 means "2 or more".
			{voicehook.JobProcessing, 2, 2},
			{voicehook.JobProcessing, 1, 1},
			{voicehook.JobCompleted, 100, 1},
			{voicehook.JobFailed, 100, 0},
		}
		for _, tt := range tests {
			got, err := h.Records.CountJobs(ctx, tt.status, tt.upTo)
			if err != nil {
				t.Fatalf("CountJobs(%s, %d): %v", tt.status, tt.upTo, err)
			}
			if got != tt.want {
				t.Errorf("CountJobs(%s, %d) = %d, want %d", tt.status, tt.upTo, got, tt.want)
			}
		}
	})

	t.Run("FindJob", func(t *testing.T) {
		t.Parallel()
		h := newRecords(t)
		// A segment's processing job over its finished ones. (A segment
		// holds at most one processing job: a new one supersedes it, see
		// SecondJobSupersedesAProcessingOne.)
		segP := h.NewSegment(t)
		olderDone := create(t, h, segP, "")
		finish(t, h, olderDone, voicehook.Completed(audio, h.Clock.Advance(time.Second)))
		processing := create(t, h, segP, "")
		// With only finished jobs, the newest.
		segF := h.NewSegment(t)
		older := create(t, h, segF, "")
		finish(t, h, older, voicehook.Completed(audio, h.Clock.Advance(time.Second)))
		newer := create(t, h, segF, "")
		finish(t, h, newer, voicehook.Failed("quota exceeded", h.Clock.Advance(time.Second)))
		// By the sender's id, a processing job wins over a newer finished
		// one (jobs of different segments may share an id); the id has the
		// characters a formula or query must escape.
		const extID = `it's "proj"/1\`
		byExt := create(t, h, h.NewSegment(t), extID)
		extDone := create(t, h, h.NewSegment(t), extID)
		finish(t, h, extDone, voicehook.Failed("quota exceeded", h.Clock.Advance(time.Second)))
		withoutJobs := h.NewSegment(t)

		type test struct {
			name string
			q    voicehook.JobQuery
			want *voicehook.Job // nil: ErrNotFound
		}
		tests := []test{
			{"processing over finished", voicehook.JobQuery{SegmentID: segP}, &processing},
			{"newest finished", voicehook.JobQuery{SegmentID: segF}, &newer},
			{"segment without jobs", voicehook.JobQuery{SegmentID: withoutJobs}, nil},
			{"nothing asked", voicehook.JobQuery{}, nil},
		}
		for _, id := range unknownIDs {
			tests = append(tests, test{"unknown segment " + id, voicehook.JobQuery{SegmentID: id}, nil})
		}
		if h.Stores.ExternalIDs {
			tests = append(tests,
				test{"external id", voicehook.JobQuery{ExternalIDs: []string{"req_9", extID}}, &byExt},
				test{"segment before external id", voicehook.JobQuery{SegmentID: segP, ExternalIDs: []string{extID}}, &processing},
				test{"external id when the segment has no job", voicehook.JobQuery{SegmentID: withoutJobs, ExternalIDs: []string{extID}}, &byExt},
				test{"unknown external id", voicehook.JobQuery{ExternalIDs: []string{"req_9"}}, nil},
			)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := h.Records.FindJob(ctx, tt.q)
				if tt.want == nil {
					if !errors.Is(err, voicehook.ErrNotFound) {
						t.Errorf("FindJob(%+v) = %+v, %v; want ErrNotFound", tt.q, got, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("FindJob(%+v): %v", tt.q, err)
				}
				if diff := cmp.Diff(job(t, h, tt.want.ID), got); diff != "" {
					t.Errorf("FindJob(%+v) (-want +got):\n%s", tt.q, diff)
				}
			})
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		h := newRecords(t)
		create(t, h, h.NewSegment(t), "") // the store is not empty
		for _, id := range unknownIDs {
			if j, err := h.Records.Job(ctx, id); !errors.Is(err, voicehook.ErrNotFound) {
				t.Errorf("Job(%s) = %+v, %v; want ErrNotFound", id, j, err)
			}
			if s, err := h.Records.Segment(ctx, id); !errors.Is(err, voicehook.ErrNotFound) {
				t.Errorf("Segment(%s) = %+v, %v; want ErrNotFound", id, s, err)
			}
		}
	})

	t.Run("FinishJob", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			end     func(at time.Time) voicehook.JobEnd
			wantJob func(j voicehook.Job, at time.Time) voicehook.Job
			wantSeg func(s voicehook.Segment, at time.Time) voicehook.Segment
		}{
			{
				name: "completed",
				end:  func(at time.Time) voicehook.JobEnd { return voicehook.Completed(audio, at) },
				wantJob: func(j voicehook.Job, at time.Time) voicehook.Job {
					j.Status, j.Timestamps.Completed = voicehook.JobCompleted, &at
					return j
				},
				wantSeg: func(s voicehook.Segment, at time.Time) voicehook.Segment { return completed(s, audio, at) },
			},
			{
				name: "failed",
				end:  func(at time.Time) voicehook.JobEnd { return voicehook.Failed("quota exceeded: 0 characters left", at) },
				wantJob: func(j voicehook.Job, at time.Time) voicehook.Job {
					j.Status, j.ErrorDetails, j.Timestamps.Failed = voicehook.JobFailed, "quota exceeded: 0 characters left", &at
					return j
				},
				wantSeg: func(s voicehook.Segment, at time.Time) voicehook.Segment {
					s.Status, s.UpdatedAt = voicehook.SegmentVoiceoverFailed, at
					return s
				},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				h := newRecords(t)
				seg := h.NewSegment(t)
				j := create(t, h, seg, "")
				before := segment(t, h, seg)
				at := h.Clock.Advance(time.Minute)
				finish(t, h, j, tt.end(at))
				if diff := cmp.Diff(tt.wantJob(j, at), job(t, h, j.ID)); diff != "" {
					t.Errorf("job (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantSegment(h, tt.wantSeg(before, at)), segment(t, h, seg), segmentOpts(h)); diff != "" {
					t.Errorf("segment (-want +got):\n%s", diff)
				}
			})
		}
	})

	// A finished job is never moved: not by a repeat of the same end (a
	// retry), not by another end (another event about the same job). The
	// caller still holds the job as it was, processing.
	t.Run("FinishedJobNeverMoves", func(t *testing.T) {
		t.Parallel()
		other := audio
		other.URL, other.SHA256 = strings.Replace(audio.URL, "ab", "cd", 1), strings.Repeat("cd", 32)
		ends := map[string]func(at time.Time) voicehook.JobEnd{
			"completed":       func(at time.Time) voicehook.JobEnd { return voicehook.Completed(audio, at) },
			"completed other": func(at time.Time) voicehook.JobEnd { return voicehook.Completed(other, at) },
			"failed":          func(at time.Time) voicehook.JobEnd { return voicehook.Failed("quota exceeded", at) },
			"failed other":    func(at time.Time) voicehook.JobEnd { return voicehook.Failed("voice not found", at) },
		}
		tests := []struct{ first, then string }{
			{"completed", "completed"},
			{"completed", "completed other"},
			{"completed", "failed"},
			{"failed", "failed"},
			{"failed", "failed other"},
			{"failed", "completed"},
		}
		for _, tt := range tests {
			t.Run(tt.first+" then "+tt.then, func(t *testing.T) {
				t.Parallel()
				h := newRecords(t)
				seg := h.NewSegment(t)
				j := create(t, h, seg, "")
				finish(t, h, j, ends[tt.first](h.Clock.Advance(time.Minute)))
				wantJob, wantSeg := job(t, h, j.ID), segment(t, h, seg)
				finish(t, h, j, ends[tt.then](h.Clock.Advance(time.Minute)))
				if diff := cmp.Diff(wantJob, job(t, h, j.ID)); diff != "" {
					t.Errorf("the finished job moved (-before +after):\n%s", diff)
				}
				if diff := cmp.Diff(wantSeg, segment(t, h, seg)); diff != "" {
					t.Errorf("its segment moved (-before +after):\n%s", diff)
				}
			})
		}
	})

	t.Run("FinishJobRefusesAnUnfinishedEnd", func(t *testing.T) {
		t.Parallel()
		h := newRecords(t)
		seg := h.NewSegment(t)
		j := create(t, h, seg, "")
		before := segment(t, h, seg)
		end := voicehook.JobEnd{Status: voicehook.JobProcessing, At: h.Clock.Advance(time.Minute)}
		if err := h.Records.FinishJob(ctx, j, end); err == nil {
			t.Error("FinishJob to processing succeeded, want an error")
		}
		if diff := cmp.Diff(j, job(t, h, j.ID)); diff != "" {
			t.Errorf("job changed (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(before, segment(t, h, seg)); diff != "" {
			t.Errorf("segment changed (-before +after):\n%s", diff)
		}
	})

	t.Run("Check", func(t *testing.T) {
		t.Parallel()
		h := newRecords(t)
		if err := h.Records.Check(ctx); err != nil {
			t.Fatalf("Check on a healthy backend: %v", err)
		}
	})
}

// SegmentIDs returns a NewSegment for backends whose first job creates its
// segment: ids seg-1, seg-2, … that no earlier call returned.
func SegmentIDs() func(t *testing.T) string {
	var n atomic.Int64
	return func(*testing.T) string { return fmt.Sprintf("seg-%d", n.Add(1)) }
}
