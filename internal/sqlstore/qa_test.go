package sqlstore_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

func qaStore(t *testing.T, db *sqlstore.DB) *sqlstore.QA {
	t.Helper()
	q, err := db.NewQueue(idleProcessor{}, sqlstore.QueueConfig{Checker: idleChecker{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("NewQueue: %v", err)
	}
	return q.QA()
}

type idleChecker struct{}

func (idleChecker) Check(context.Context, voicehook.QARun) voicehook.RunResult {
	return voicehook.RunResult{}
}

// qaJobs counts the QA queue jobs.
func qaJobs(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	var n int
	if err := db.Writer().QueryRow("SELECT COUNT(*) FROM river_job WHERE kind = 'voicehook.qa'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestQAChecksLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		qa := qaStore(t, db)
		audio := voicehook.StoredAudio{URL: "https://media.test/a.mp3", Key: "seg_1/a.mp3", DurationMS: 1200}

		// A callback job without a recorded script is not checked.
		cb := voicehook.Job{ID: "job_cb", SegmentID: "seg_1"}
		if queued, err := qa.QueueQA(ctx, cb, "", audio); err != nil || queued {
			t.Fatalf("QueueQA without a script = %v, %v; want false, nil", queued, err)
		}
		// With its script expected first, it is; twice is once.
		if err := qa.ExpectScript(ctx, cb, "Hello there."); err != nil {
			t.Fatal(err)
		}
		if err := qa.ExpectScript(ctx, cb, "Something else"); err != nil {
			t.Fatal(err)
		}
		if _, err := qa.SegmentQA(ctx, "seg_1"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Fatalf("SegmentQA before the audio = %v; want ErrNotFound (nothing to show yet)", err)
		}
		for range 2 {
			if _, err := qa.QueueQA(ctx, cb, "", audio); err != nil {
				t.Fatal(err)
			}
		}
		if n := qaJobs(t, db); n != 1 {
			t.Fatalf("queue jobs for job_cb = %d; want 1", n)
		}
		got, err := qa.QA(ctx, "job_cb")
		if err != nil {
			t.Fatal(err)
		}
		want := voicehook.QACheck{JobID: "job_cb", SegmentID: "seg_1", Script: "Hello there.", State: voicehook.QAQueued,
			Status: voicehook.QAUnchecked, Audio: &audio, Created: clock.Now(), Updated: clock.Now()}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("queued check (-want +got):\n%s", diff)
		}

		// Submitted, then checked; a second verdict changes nothing.
		clock.Advance(time.Second)
		got.State, got.RequestID = voicehook.QASubmitted, "req_1"
		if err := qa.SaveQA(ctx, got); err != nil {
			t.Fatal(err)
		}
		byReq, err := qa.QAByRequest(ctx, "req_1")
		if err != nil || byReq.JobID != "job_cb" {
			t.Fatalf("QAByRequest = %+v, %v", byReq, err)
		}
		result := &voicehook.QAResult{WER: 0.5, ScriptWords: 2, Differences: []voicehook.QADifference{
			{Kind: voicehook.DiffSubstitution, Expected: "there", Heard: "hair", At: 0.6, End: 0.9, ScriptIndex: 1}}}
		checked := byReq
		checked.State, checked.Status, checked.EventID, checked.Result, checked.Notes = voicehook.QAChecked, voicehook.QAFlagged, "evt_1", result, "WER 0.50"
		checked.Transcript = &voicehook.Transcript{Text: "Hello hair.", Words: []voicehook.TranscriptWord{{Text: "Hello", Start: 0, End: 0.5, Type: "word"}}}
		if err := qa.SaveQA(ctx, checked); err != nil {
			t.Fatal(err)
		}
		again := checked
		again.Status, again.EventID = voicehook.QAPassed, "evt_2"
		if err := qa.SaveQA(ctx, again); !errors.Is(err, voicehook.ErrFinished) {
			t.Fatalf("SaveQA on a checked check = %v; want ErrFinished", err)
		}
		seg, err := qa.SegmentQA(ctx, "seg_1")
		if err != nil {
			t.Fatal(err)
		}
		checked.Updated = clock.Now()
		if diff := cmp.Diff(checked, seg); diff != "" {
			t.Fatalf("SegmentQA (-want +got):\n%s", diff)
		}
		if err := qa.SaveQA(ctx, voicehook.QACheck{JobID: "job_none"}); !errors.Is(err, voicehook.ErrNotFound) {
			t.Fatalf("SaveQA of an unknown job = %v; want ErrNotFound", err)
		}
	})
}

func TestQAListFlaggedWorstFirst(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		qa := qaStore(t, db)
		verdicts := []struct {
			job    string
			status voicehook.QAStatus
			wer    float64
		}{
			{"job_a", voicehook.QAFlagged, 0.10},
			{"job_b", voicehook.QAPassed, 0.0},
			{"job_c", voicehook.QAFlagged, 0.40},
			{"job_d", voicehook.QAFlagged, 0.25},
			{"job_e", voicehook.QAUnchecked, -1},
		}
		for _, v := range verdicts {
			clock.Advance(time.Second)
			job := voicehook.Job{ID: v.job, SegmentID: "seg_" + v.job}
			if _, err := qa.QueueQA(ctx, job, "one two three", voicehook.StoredAudio{URL: "https://media.test/x.mp3"}); err != nil {
				t.Fatal(err)
			}
			if v.status == voicehook.QAUnchecked {
				continue
			}
			c := voicehook.QACheck{JobID: v.job, State: voicehook.QAChecked, Status: v.status, Result: &voicehook.QAResult{WER: v.wer, ScriptWords: 3}}
			if err := qa.SaveQA(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		list := func(f voicehook.QAFilter) []string {
			t.Helper()
			checks, err := qa.ListQA(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range checks {
				ids = append(ids, c.JobID)
			}
			return ids
		}
		if diff := cmp.Diff([]string{"job_c", "job_d", "job_a"}, list(voicehook.QAFilter{Status: voicehook.QAFlagged})); diff != "" {
			t.Errorf("flagged (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"job_e"}, list(voicehook.QAFilter{Status: voicehook.QAUnchecked})); diff != "" {
			t.Errorf("unchecked (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"job_c", "job_d"}, list(voicehook.QAFilter{Status: voicehook.QAFlagged, Limit: 2})); diff != "" {
			t.Errorf("flagged, limit 2 (-want +got):\n%s", diff)
		}
	})
}
