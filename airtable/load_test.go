package airtable

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable/airtabletest"
)

// driveEvents runs n events through the calls the processor makes of the
// records (FindJob, CompleteJob, MirrorEvent), on `workers` concurrent
// workers as River runs them, against the emulator with Airtable's real
// limit (5 requests/s per base, 30 s penalty) and latency, and the client's
// defaults (4 requests/s, 25 ms batch window). Between the calls a worker
// spends what the processor spends outside Airtable (fetching and storing
// the audio, claiming the job, finishing the event in the local store).
// It returns the requests the emulator received, including any refused.
func driveEvents(tb testing.TB, n, workers int) int {
	tb.Helper()
	emu := newEmulator(tb, airtabletest.Options{RateLimit: airtabletest.DefaultRateLimit, Latency: 150 * time.Millisecond})
	cfg := testConfig(emu, nil)
	cfg.RequestsPerSecond, cfg.BatchWindow, cfg.RetryBackoff, cfg.MirrorRetry = 0, 0, 0, 0 // the defaults
	r := newRecords(tb, cfg)
	segs := make([]string, n)
	for i := range segs {
		segs[i], _ = segmentWithJob(tb, emu, fmt.Sprintf("scene %d", i))
	}
	emu.ResetRequests()
	work := make(chan int)
	var wg sync.WaitGroup
	ctx := context.Background()
	for range workers {
		wg.Go(func() {
			for i := range work {
				if err := processEvent(ctx, r, segs[i], i); err != nil {
					tb.Errorf("event %d: %v", i, err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, seg := range segs {
		if rec, _ := emu.Record("Segments", seg); rec.Fields["Status"] != string(voicehook.SegmentVoiceoverReady) {
			tb.Errorf("segment %s is %v", seg, rec.Fields["Status"])
		}
	}
	if got := len(emu.Records("Webhook Events")); got != n {
		tb.Errorf("%d Webhook Events records, want %d", got, n)
	}
	return emu.TotalRequests()
}

// processEvent is one event as process.Processor handles it.
func processEvent(ctx context.Context, r *Records, seg string, i int) error {
	pause := func(max time.Duration) { time.Sleep(rand.N(max)) }
	pause(20 * time.Millisecond) // load the event, parse it
	job, err := r.FindJob(ctx, voicehook.JobQuery{SegmentID: seg})
	if err != nil {
		return fmt.Errorf("finding job: %w", err)
	}
	pause(100 * time.Millisecond) // fetch, check and store the audio; claim the job
	audio := voicehook.StoredAudio{URL: fmt.Sprintf("https://cdn.example.com/segments/%s.mp3", seg), Bytes: 1000, DurationMS: 2000}
	if err := r.FinishJob(ctx, job, voicehook.Completed(audio, time.Now())); err != nil {
		return fmt.Errorf("completing job: %w", err)
	}
	pause(20 * time.Millisecond) // finish the event in the local store
	ev := testEvent(fmt.Sprintf("evt_%03d", i), job.ID, true)
	if err := r.MirrorEvent(ctx, ev); err != nil {
		return fmt.Errorf("mirroring: %w", err)
	}
	return nil
}

// TestRequestsPerEvent holds voicehook to at most 1 Airtable request per
// processed event under load (the seed spends 5 to 6). The whole
// processing path is measured by cmd/voicehook's BenchmarkAirtableBurst.
func TestRequestsPerEvent(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes about 10 s at Airtable's rate limit")
	}
	const events, workers = 40, 8
	start := time.Now()
	reqs := driveEvents(t, events, workers)
	perEvent := float64(reqs) / events
	t.Logf("%d events on %d workers: %d requests, %.2f requests/event, %s", events, workers, reqs, perEvent, time.Since(start).Round(time.Millisecond))
	if perEvent > 1 {
		t.Errorf("%.2f requests/event, want at most 1", perEvent)
	}
}

// BenchmarkRequestsPerEvent reports requests/event: run with
// go test -run '^$' -bench RequestsPerEvent ./airtable/
func BenchmarkRequestsPerEvent(b *testing.B) {
	const events, workers = 40, 8
	total := 0
	for b.Loop() {
		total += driveEvents(b, events, workers)
	}
	b.ReportMetric(float64(total)/float64(events*b.N), "requests/event")
}
