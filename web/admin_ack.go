package web

// Acknowledgement latency over time, for the overview's chart. The process
// keeps it only as a Prometheus histogram (voicehook_ack_latency_seconds),
// whose bucket counts grow from the process's start. Once a minute the
// counts are copied into a ring of snapshots; the observations between two
// snapshots are those of the later one's minute, and a bucket of the chart
// sums those of its minutes. Percentiles come from the summed bucket counts
// as Prometheus's histogram_quantile computes them: linearly within the
// bucket the rank falls in. The numbers are this process's deliveries only,
// since each replica has its own histogram.
//
// The admin pages have no Close, and tests build and drop servers by the
// hundred, so the sampling goroutine holds the ring weakly and stops once
// the ring is garbage (runtime.AddCleanup).

import (
	"math"
	"runtime"
	"sort"
	"sync"
	"time"
	"weak"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicehook/voicehook"
)

// ackKeep is how long snapshots are kept: the overview's longest window, and
// a bucket's worth more.
const ackKeep = 24*time.Hour + 30*time.Minute

// ackSnap is the histogram at one moment: the cumulative count at or under
// each bound, the last entry counting everything (+Inf).
type ackSnap struct {
	At     time.Time
	Counts []uint64
}

type ackRing struct {
	// gather reads the histogram alone: a registry of its own, so that
	// reading it never runs the main registry's store queries.
	gather prometheus.Gatherer
	mu     sync.Mutex
	bounds []float64
	snaps  []ackSnap
}

func newAckRing(h prometheus.Histogram) *ackRing {
	reg := prometheus.NewRegistry()
	// A histogram may sit in several registries; this one is private.
	reg.MustRegister(h)
	return &ackRing{gather: reg}
}

// read copies the histogram's counts now.
func (r *ackRing) read(now time.Time) (ackSnap, []float64, bool) {
	fams, err := r.gather.Gather()
	if err != nil || len(fams) == 0 || len(fams[0].GetMetric()) == 0 {
		return ackSnap{}, nil, false
	}
	h := fams[0].GetMetric()[0].GetHistogram()
	var bounds []float64
	var counts []uint64
	for _, b := range h.GetBucket() {
		if math.IsInf(b.GetUpperBound(), 1) {
			continue
		}
		bounds = append(bounds, b.GetUpperBound())
		counts = append(counts, b.GetCumulativeCount())
	}
	counts = append(counts, h.GetSampleCount())
	return ackSnap{At: now, Counts: counts}, bounds, true
}

// sample keeps the histogram's counts at now.
func (r *ackRing) sample(now time.Time) {
	snap, bounds, ok := r.read(now)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bounds = bounds
	r.snaps = append(r.snaps, snap)
	cut := 0
	for cut < len(r.snaps)-1 && now.Sub(r.snaps[cut].At) > ackKeep {
		cut++
	}
	r.snaps = r.snaps[cut:]
}

// latency gives the percentiles of ax's buckets, the counts up to now
// included (read now, not kept).
func (r *ackRing) latency(ax timeAxis, now time.Time) []voicehook.LatencyBucket {
	out := make([]voicehook.LatencyBucket, ax.N)
	for i := range out {
		out[i].Start = ax.Since.Add(time.Duration(i) * ax.Step)
	}
	current, bounds, ok := r.read(now)
	r.mu.Lock()
	snaps := append([]ackSnap(nil), r.snaps...)
	if bounds == nil {
		bounds = r.bounds
	}
	r.mu.Unlock()
	if ok {
		snaps = append(snaps, current)
	}
	sums := make([][]uint64, ax.N)
	for i := 1; i < len(snaps); i++ {
		prev, cur := snaps[i-1], snaps[i]
		if cur.At.Before(ax.Since) || !cur.At.Before(ax.until()) || len(prev.Counts) != len(cur.Counts) {
			continue
		}
		b := int(cur.At.Sub(ax.Since) / ax.Step)
		if sums[b] == nil {
			sums[b] = make([]uint64, len(cur.Counts))
		}
		for j := range cur.Counts {
			if cur.Counts[j] >= prev.Counts[j] {
				sums[b][j] += cur.Counts[j] - prev.Counts[j]
			}
		}
	}
	for i, cum := range sums {
		if cum == nil || cum[len(cum)-1] == 0 || len(cum) != len(bounds)+1 {
			continue
		}
		sec := func(q float64) time.Duration {
			return time.Duration(histQuantile(q, bounds, cum) * float64(time.Second))
		}
		out[i].Count = int(cum[len(cum)-1])
		out[i].P50, out[i].P95, out[i].P99 = sec(0.50), sec(0.95), sec(0.99)
	}
	return out
}

// histQuantile is the q-quantile of a histogram whose cumulative counts
// are cum (one per bound, then the total), interpolated linearly within
// the bucket it falls in; past the last bound it is that bound.
func histQuantile(q float64, bounds []float64, cum []uint64) float64 {
	total := cum[len(cum)-1]
	rank := q * float64(total)
	i := sort.Search(len(bounds), func(i int) bool { return float64(cum[i]) >= rank })
	if i == len(bounds) {
		return bounds[len(bounds)-1]
	}
	lo, below := 0.0, 0.0
	if i > 0 {
		lo, below = bounds[i-1], float64(cum[i-1])
	}
	in := float64(cum[i]) - below
	if in <= 0 {
		return bounds[i]
	}
	return lo + (bounds[i]-lo)*(rank-below)/in
}

// startAckSampler samples r every interval until r is garbage; it returns a
// channel closed when it has stopped.
func startAckSampler(r *ackRing, every time.Duration, now func() time.Time) <-chan struct{} {
	wr := weak.Make(r)
	stop, stopped := make(chan struct{}), make(chan struct{})
	runtime.AddCleanup(r, func(stop chan struct{}) { close(stop) }, stop)
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r := wr.Value()
				if r == nil {
					return
				}
				r.sample(now())
			}
		}
	}()
	return stopped
}
