package web

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicehook/voicehook"
)

func newAckHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ack_test_seconds", Buckets: []float64{.001, .01, .1, 1}})
}

func TestHistQuantile(t *testing.T) {
	t.Parallel()
	bounds := []float64{.001, .01, .1, 1}
	// 10 under 1 ms, 80 in (1, 10] ms, 10 in (10, 100] ms, none above.
	cum := []uint64{10, 90, 100, 100, 100}
	for _, c := range []struct {
		q, want float64
	}{
		{0.05, 0.0005},                // halfway through the first bucket
		{0.50, 0.001 + 0.009*40.0/80}, // 50th of 100: 40 into the second bucket's 80
		{0.95, 0.01 + 0.09*5.0/10},    // 95th: 5 into the third's 10
		{0.99, 0.01 + 0.09*9.0/10},    //
		{1.00, 0.1},                   // the top of the third
	} {
		if got := histQuantile(c.q, bounds, cum); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
	// Past the last bound: the last bound.
	if got := histQuantile(0.99, bounds, []uint64{0, 0, 0, 1, 10}); got != 1 {
		t.Errorf("in +Inf: %v, want 1", got)
	}
}

func TestAckRingBuckets(t *testing.T) {
	t.Parallel()
	h := newAckHistogram()
	r := newAckRing(h)
	start := time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)
	r.sample(start) // the baseline, before any delivery
	for range 9 {
		h.Observe(0.005) // minute 0: nine at 5 ms
	}
	h.Observe(0.5) // and one slow one
	r.sample(start.Add(time.Minute))
	// Minute 1: nothing. Minute 2: two at 50 ms, not sampled yet: the
	// chart reads them at its time.
	r.sample(start.Add(2 * time.Minute))
	h.Observe(0.05)
	h.Observe(0.05)

	ax := timeAxis{Since: start, Step: time.Minute, N: 4}
	got := r.latency(ax, start.Add(2*time.Minute+30*time.Second))
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	// The first sample after the baseline is at 15:01: its observations
	// fall in the 15:01 bucket (the minute they were read in).
	want := []voicehook.LatencyBucket{
		{Start: start},
		{Start: start.Add(time.Minute), Count: 10, P50: ms(1 + 9*5.0/9), P95: ms(100 + 900*0.5/1), P99: ms(100 + 900*0.9/1)},
		{Start: start.Add(2 * time.Minute), Count: 2, P50: ms(10 + 90*1.0/2), P95: ms(10 + 90*1.9/2), P99: ms(10 + 90*1.98/2)},
		{Start: start.Add(3 * time.Minute)},
	}
	approx := cmp.Comparer(func(a, b time.Duration) bool { return (a - b).Abs() < time.Microsecond })
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}

	// Snapshots older than a day and a bit are dropped.
	r.sample(start.Add(ackKeep + 3*time.Minute))
	r.mu.Lock()
	n := len(r.snaps)
	r.mu.Unlock()
	if n != 1 {
		t.Errorf("%d snapshots kept after a day, want 1", n)
	}
}

// TestAckSamplerStopsWithItsRing: the sampling goroutine ends once nothing
// holds the ring (a server dropped without a Close).
func TestAckSamplerStopsWithItsRing(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(10 * time.Second)
	// The ring lives only inside this function.
	stopped := func() <-chan struct{} {
		r := newAckRing(newAckHistogram())
		// Between samples the goroutine holds the ring only weakly: an
		// interval long next to a sample keeps it there most of the time,
		// even on a busy machine.
		stopped := startAckSampler(r, 20*time.Millisecond, time.Now)
		for { // samples are taken while the ring is alive
			r.mu.Lock()
			n := len(r.snaps)
			r.mu.Unlock()
			if n > 0 {
				return stopped
			}
			if time.Now().After(deadline) {
				t.Fatal("no sample taken")
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for {
		runtime.GC()
		select {
		case <-stopped:
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the sampler still runs after its ring was dropped")
		}
	}
}
