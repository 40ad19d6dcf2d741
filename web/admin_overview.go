package web

import (
	"context"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/voicehook/voicehook"
)

// chartWindow is a span the overview's charts can show.
type chartWindow struct {
	Name  string // the window query parameter
	Label string
	Span  time.Duration
	Step  time.Duration
}

// chartWindows: the first is the default.
var chartWindows = []chartWindow{
	{"1h", "Last hour", time.Hour, time.Minute},
	{"24h", "Last 24 hours", 24 * time.Hour, 15 * time.Minute},
}

// windowTab is a window as the overview offers it.
type windowTab struct {
	Label   string
	URL     string
	Current bool
}

// chartsData is the overview's charts section.
type chartsData struct {
	Tabs   []windowTab
	Window chartWindow
	// Events counts the events by outcome; the others are lines.
	Events     chart
	Queue      chart
	Oldest     chart
	Processing chart
	// Ack is nil without metrics.
	Ack *chart
	// Off says why there are no charts (a store without their history).
	Off string
	// Err says a store query failed; the charts it fed are left out.
	Err string
}

// eventLayers stack the outcomes, good at the bottom, bad on top.
var eventLayers = []layer{
	{"succeeded", "succeeded"}, {"ignored", "ignored"}, {"received", "received"}, {"failed", "failed"}, {"dead", "dead"},
}

var percentileLayers = []layer{{"p50", "p50"}, {"p95", "p95"}, {"p99", "p99"}}

// pickWindow reads the window parameter; ok is false for an unknown one
// (the default is shown).
func pickWindow(v string) (chartWindow, bool) {
	if v == "" {
		return chartWindows[0], true
	}
	for _, w := range chartWindows {
		if w.Name == v {
			return w, true
		}
	}
	return chartWindows[0], false
}

// windowAxis is w's axis ending with the bucket now falls in.
func windowAxis(w chartWindow, now time.Time) timeAxis {
	until := now.UTC().Truncate(w.Step).Add(w.Step)
	return timeAxis{Since: until.Add(-w.Span), Step: w.Step, N: int(w.Span / w.Step)}
}

// overviewCharts builds the charts of window w at now; q is the page's
// query, kept in the window tabs' links.
func (a *admin) overviewCharts(ctx context.Context, w chartWindow, now time.Time, q url.Values) chartsData {
	d := chartsData{Window: w}
	for _, o := range chartWindows {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("window", o.Name)
		d.Tabs = append(d.Tabs, windowTab{Label: o.Label, URL: "/?" + v.Encode(), Current: o.Name == w.Name})
	}
	ax := windowAxis(w, now)
	per := "per " + stepName(w.Step)
	if a.ack != nil {
		c := latencyChart("chart-ack", "Time to acknowledge a delivery", "time to acknowledge", ax, a.ack.latency(ax, now))
		c.Note = "This replica's deliveries since it started (each replica keeps its own); from the ack latency histogram."
		d.Ack = &c
	}
	tl, ok := a.s.Inbox.(voicehook.Timeline)
	if !ok {
		d.Off = "This store keeps no history for charts."
		return d
	}
	fail := func(what string, err error) {
		a.s.Logger.Warn("overview charts: store error", "what", what, "err", err)
		d.Err = "The store did not answer for some charts (" + what + "). Reload in a moment."
	}
	if hist, err := tl.EventHistory(ctx, ax.Since, ax.until(), ax.Step); err != nil {
		fail("events", err)
	} else {
		counts := make([][]int, len(eventLayers))
		for li, l := range eventLayers {
			counts[li] = make([]int, ax.N)
			for i, b := range hist[:min(len(hist), ax.N)] {
				counts[li][i] = b.Counts[voicehook.EventStatus(l.Class)]
			}
		}
		d.Events = newBarChart("chart-events", "Events by outcome, "+per, "events "+per, ax, eventLayers, counts)
		d.Events.Note = "Events received in each " + stepName(w.Step) + ", by their status now."
	}
	if samples, err := tl.QueueSamples(ctx, ax.Since); err != nil {
		fail("queue samples", err)
	} else {
		depth, oldest := nanRow(ax.N), nanRow(ax.N)
		for _, smp := range samples {
			i := int(smp.At.Sub(ax.Since) / ax.Step)
			if smp.At.Before(ax.Since) || i >= ax.N {
				continue
			}
			// The worst of the bucket's minutes.
			depth[i] = nanMax(depth[i], float64(smp.Depth))
			oldest[i] = nanMax(oldest[i], smp.OldestAge.Seconds())
		}
		d.Queue = newLineChart("chart-queue", "Queue depth", "events waiting", ax, []layer{{"depth", "waiting"}}, [][]float64{depth}, 1, fmtCount)
		d.Oldest = newLineChart("chart-oldest", "Oldest waiting event", "its wait", ax, []layer{{"oldest", "oldest wait"}}, [][]float64{oldest}, 0, fmtSeconds)
		note := "Sampled once a minute (the highest of each " + stepName(w.Step) + "); shared by every replica."
		d.Queue.Note, d.Oldest.Note = note, note
	}
	if lat, err := tl.ProcessingLatency(ctx, ax.Since, ax.until(), ax.Step); err != nil {
		fail("processing attempts", err)
	} else {
		d.Processing = latencyChart("chart-processing", "Processing time per attempt", "time per attempt", ax, lat)
		d.Processing.Note = "Every replica's attempts by the time they finished; polls that found no job yet are left out."
	}
	return d
}

// latencyChart draws p50, p95 and p99 lines; a bucket with nothing timed
// has no point.
func latencyChart(id, title, yLabel string, ax timeAxis, buckets []voicehook.LatencyBucket) chart {
	rows := [][]float64{nanRow(ax.N), nanRow(ax.N), nanRow(ax.N)}
	total := 0
	for i, b := range buckets[:min(len(buckets), ax.N)] {
		if b.Count == 0 {
			continue
		}
		total += b.Count
		rows[0][i], rows[1][i], rows[2][i] = b.P50.Seconds(), b.P95.Seconds(), b.P99.Seconds()
	}
	c := newLineChart(id, title, yLabel, ax, percentileLayers, rows, 0, fmtSeconds)
	if total > 0 {
		c.Desc += " " + strconv.Itoa(total) + " timed in all."
	}
	return c
}

func nanRow(n int) []float64 {
	row := make([]float64, n)
	for i := range row {
		row[i] = math.NaN()
	}
	return row
}

// nanMax is the larger of a and b, NaN counting as nothing.
func nanMax(a, b float64) float64 {
	if math.IsNaN(a) {
		return b
	}
	return math.Max(a, b)
}
