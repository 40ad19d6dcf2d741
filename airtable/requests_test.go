package airtable

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/voicehooktest"
)

// TestFinishReusesMatchRead: finishing the job FindJob just matched uses
// that read rather than reading the job again; a read older than
// reuseJobRead is not trusted, so a job finished by hand meanwhile is
// seen and left alone.
func TestFinishReusesMatchRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		after   time.Duration // between the match and the finish
		byHand  string        // the job's status set by hand in between
		want    map[string]int
		wantJob string
	}{
		{"right after the match", 10 * time.Second, "",
			map[string]int{"GET Segments": 1, "GET Jobs": 1, "PATCH Segments": 1, "PATCH Jobs": 1}, "completed"},
		{"a stale read", 2 * time.Minute, "",
			map[string]int{"GET Segments": 1, "GET Jobs": 2, "PATCH Segments": 1, "PATCH Jobs": 1}, "completed"},
		{"finished by hand meanwhile", 2 * time.Minute, "failed",
			map[string]int{"GET Segments": 1, "GET Jobs": 2}, "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t, airtabletest.Options{})
			clock := voicehooktest.NewClock()
			r := newRecords(t, testConfig(emu, clock))
			seg, jobID := segmentWithJob(t, emu, "scene 1")
			ctx := context.Background()
			job, err := r.FindJob(ctx, voicehook.JobQuery{SegmentID: seg})
			if err != nil {
				t.Fatal(err)
			}
			if tt.byHand != "" {
				if _, err := r.Client().Update(ctx, "Jobs", []Record{{ID: jobID, Fields: map[string]any{"Status": tt.byHand}}}); err != nil {
					t.Fatal(err)
				}
			}
			at := clock.Advance(tt.after)
			audio := voicehook.StoredAudio{URL: "https://cdn.example.com/a.mp3", Bytes: 1000, DurationMS: 2000}
			if err := r.FinishJob(ctx, job, voicehook.Completed(audio, at)); err != nil {
				t.Fatal(err)
			}
			got := emu.Requests()
			delete(got, "PATCH Jobs") // the hand edit's
			if tt.byHand == "" {
				got["PATCH Jobs"] = emu.Requests()["PATCH Jobs"]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if rec, _ := emu.Record("Jobs", jobID); rec.Fields["Status"] != tt.wantJob {
				t.Errorf("job is %v, want %s", rec.Fields["Status"], tt.wantJob)
			}
		})
	}
}

// TestBatchWaitsForStragglers: workers released together reach the
// batcher a little apart; a batch waits until none has joined it for the
// batch window (not a window from its first item), so a group arriving
// over longer than the window still shares one request.
func TestBatchWaitsForStragglers(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	cfg := testConfig(emu, nil)
	cfg.BatchWindow, cfg.BatchMaxWait = 150*time.Millisecond, 5*time.Second
	r := newRecords(t, cfg)
	var segs []string
	for range 5 {
		segs = append(segs, insert(t, emu, "Segments", map[string]any{"Name": "s"}))
	}
	emu.ResetRequests()
	start := time.Now()
	var wg sync.WaitGroup
	for i, seg := range segs {
		// 60 ms apart: 240 ms from the first to the last, each well
		// within the window of the one before.
		time.Sleep(time.Until(start.Add(time.Duration(i) * 60 * time.Millisecond)))
		wg.Go(func() {
			if _, err := r.Segment(context.Background(), seg); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if diff := cmp.Diff(map[string]int{"GET Segments": 1}, emu.Requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestBatchFullestFirst: when the base's next request is due, the ready
// batch that does the most work goes first, not the oldest: one slot
// then serves four callers instead of one.
func TestBatchFullestFirst(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	cfg := testConfig(emu, nil)
	cfg.RequestsPerSecond = 2 // a slot every 500 ms
	cfg.BatchWindow, cfg.BatchMaxWait = 20*time.Millisecond, 10*time.Second
	r := newRecords(t, cfg)
	ctx := context.Background()
	seg, jobID := segmentWithJob(t, emu, "scene 0")
	var segs []string
	for range 4 {
		segs = append(segs, insert(t, emu, "Segments", map[string]any{"Name": "s"}))
	}
	// Take the gate's first slot, so the next ones are spaced.
	if _, err := r.Job(ctx, jobID); err != nil {
		t.Fatal(err)
	}
	emu.ResetRequests()
	order := make(chan string, 6)
	var wg sync.WaitGroup
	wg.Go(func() { // the oldest: one job read
		if _, err := r.Job(ctx, jobID); err != nil {
			t.Error(err)
		}
		order <- "job"
	})
	time.Sleep(50 * time.Millisecond)
	for _, s := range append(segs, seg) {
		wg.Go(func() {
			if _, err := r.Segment(ctx, s); err != nil {
				t.Error(err)
			}
			order <- "segment"
		})
	}
	wg.Wait()
	close(order)
	if first := <-order; first != "segment" {
		t.Errorf("the single job read went first; want the five segment reads' request first")
	}
	if diff := cmp.Diff(map[string]int{"GET Segments": 1, "GET Jobs": 1}, emu.Requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestBatchWaitsForItsGroup: callers one request served come back a little
// apart (River hands the first freed worker its next event at once, the
// others up to a poll later). The first back waits for the rest of its
// group rather than going ahead alone, so the group keeps sharing one
// request a step.
func TestBatchWaitsForItsGroup(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	cfg := testConfig(emu, nil)
	cfg.BatchMaxWait = 3 * time.Second
	r := newRecords(t, cfg)
	ctx := context.Background()
	var segs, jobs []string
	for i := range 4 {
		seg, job := segmentWithJob(t, emu, fmt.Sprintf("scene %d", i))
		segs, jobs = append(segs, seg), append(jobs, job)
	}
	emu.ResetRequests()
	var wg sync.WaitGroup
	for _, seg := range segs { // a group of four, served together
		wg.Go(func() {
			if _, err := r.Segment(ctx, seg); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, job := range jobs { // back one first, the rest 300 ms later
		if i == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		wg.Go(func() {
			if _, err := r.Job(ctx, job); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if diff := cmp.Diff(map[string]int{"GET Segments": 1, "GET Jobs": 1}, emu.Requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
