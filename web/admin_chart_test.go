package web

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNiceScale(t *testing.T) {
	t.Parallel()
	type scale struct{ Top, Step float64 }
	for _, c := range []struct {
		max, minStep float64
		want         scale
	}{
		{0, 1, scale{4, 1}},
		{1, 1, scale{1, 1}},
		{3, 1, scale{3, 1}},
		{7, 1, scale{8, 2}},
		{10, 1, scale{10, 5}},
		{43, 1, scale{60, 20}}, // the first multiple of the step at or above
		{120, 1, scale{150, 50}},
		{0.0042, 0, scale{0.006, 0.002}},
		{1.7, 0, scale{2, 0.5}},
		{math.NaN(), 1, scale{4, 1}},
	} {
		top, step := niceScale(c.max, c.minStep)
		got := scale{math.Round(top*1e9) / 1e9, math.Round(step*1e9) / 1e9}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("niceScale(%v, %v) (-want +got):\n%s", c.max, c.minStep, diff)
		}
		if got.Top < c.max {
			t.Errorf("niceScale(%v): top %v under the largest value", c.max, got.Top)
		}
	}
}

var chartSince = time.Date(2025, 3, 14, 14, 10, 0, 0, time.UTC)

func TestBarChartStacksAndScales(t *testing.T) {
	t.Parallel()
	ax := timeAxis{Since: chartSince, Step: time.Minute, N: 60}
	layers := []layer{{"succeeded", "succeeded"}, {"failed", "failed"}}
	counts := [][]int{make([]int, 60), make([]int, 60)}
	counts[0][0], counts[1][0] = 3, 1 // the first minute: 4, the tallest
	counts[0][59] = 2                 // the last minute
	c := newBarChart("events", "Events", "events per minute", ax, layers, counts)

	if len(c.Columns) != 2 {
		t.Fatalf("%d columns, want one per bucket with events (2)", len(c.Columns))
	}
	first := c.Columns[0]
	if first.Title != "14:10–14:11 UTC: 3 succeeded, 1 failed" {
		t.Errorf("first column title %q", first.Title)
	}
	if len(first.Rects) != 2 || first.Rects[0].Class != "succeeded" || first.Rects[1].Class != "failed" {
		t.Fatalf("first column %+v", first.Rects)
	}
	ok, bad := first.Rects[0], first.Rects[1]
	// Top 4: the stack fills the plot, succeeded at the bottom.
	if got := ok.H + bad.H; math.Abs(got-c.Plot.H) > 0.2 {
		t.Errorf("stack height %.1f, want the plot's %.1f", got, c.Plot.H)
	}
	if math.Abs(ok.H-3*bad.H) > 0.3 || math.Abs(ok.Y+ok.H-c.Plot.Bottom()) > 0.1 || math.Abs(bad.Y+bad.H-ok.Y) > 0.1 {
		t.Errorf("stack geometry: succeeded %+v, failed %+v, plot bottom %.1f", ok, bad, c.Plot.Bottom())
	}
	last := c.Columns[1].Rects[0]
	if last.X+last.W > c.Plot.Right()+0.1 || last.X < c.Plot.Right()-c.Plot.W/60 {
		t.Errorf("the last bucket's bar at x %.1f–%.1f, want inside the plot's last slot (right %.1f)", last.X, last.X+last.W, c.Plot.Right())
	}
	var yLabels, xLabels []string
	for _, tk := range c.YTicks {
		yLabels = append(yLabels, tk.Label)
	}
	for _, tk := range c.XTicks {
		xLabels = append(xLabels, tk.Label)
	}
	if diff := cmp.Diff([]string{"0", "1", "2", "3", "4"}, yLabels); diff != "" {
		t.Errorf("y ticks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"14:10", "14:20", "14:30", "14:40", "14:50", "15:00", "15:10"}, xLabels); diff != "" {
		t.Errorf("x ticks (-want +got):\n%s", diff)
	}
	if c.XTicks[0].Pos != c.Plot.X || c.XTicks[len(c.XTicks)-1].Pos != round1(c.Plot.Right()) {
		t.Errorf("x ticks span %.1f–%.1f, want the plot's %.1f–%.1f", c.XTicks[0].Pos, c.XTicks[len(c.XTicks)-1].Pos, c.Plot.X, c.Plot.Right())
	}
	if want := "60 bars, one per minute, from 2025-03-14 14:10 to 15:10 UTC; 6 in all: 5 succeeded, 1 failed."; c.Desc != want {
		t.Errorf("desc %q, want %q", c.Desc, want)
	}
	if c.Empty != "" {
		t.Errorf("a chart with data says %q", c.Empty)
	}
	if diff := cmp.Diff([]legendItem{{"succeeded", "succeeded", false}, {"failed", "failed", false}}, c.Legend); diff != "" {
		t.Errorf("legend (-want +got):\n%s", diff)
	}

	empty := newBarChart("events", "Events", "events per minute", ax, layers, [][]int{make([]int, 60), make([]int, 60)})
	if empty.Empty == "" || len(empty.Columns) != 0 || len(empty.YTicks) == 0 {
		t.Errorf("empty chart: %q, %d columns, %d y ticks", empty.Empty, len(empty.Columns), len(empty.YTicks))
	}
}

func TestLineChartBreaksAtMissingValues(t *testing.T) {
	t.Parallel()
	ax := timeAxis{Since: chartSince, Step: 15 * time.Minute, N: 96}
	nan := math.NaN()
	p50 := make([]float64, 96)
	for i := range p50 {
		p50[i] = nan
	}
	p50[0], p50[1], p50[2] = 0.010, 0.020, 0.040 // a run of three
	p50[10] = 0.030                              // a lone point
	p50[20], p50[21] = 0.005, 0.005              // another run
	c := newLineChart("ack", "Ack", "seconds", ax, []layer{{"p50", "p50"}}, [][]float64{p50}, 0, fmtSeconds)
	if len(c.Lines) != 1 {
		t.Fatalf("%d lines", len(c.Lines))
	}
	l := c.Lines[0]
	if len(l.Runs) != 2 || len(l.Dots) != 6 {
		t.Fatalf("runs %q, %d dots; want 2 runs and 6 dots", l.Runs, len(l.Dots))
	}
	if n := len(strings.Fields(l.Runs[0])); n != 3 {
		t.Errorf("first run has %d points, want 3", n)
	}
	// 40 ms is the tallest: the scale is 0–40 ms in 10 ms steps.
	var yLabels []string
	for _, tk := range c.YTicks {
		yLabels = append(yLabels, tk.Label)
	}
	if diff := cmp.Diff([]string{"0", "10 ms", "20 ms", "30 ms", "40 ms"}, yLabels); diff != "" {
		t.Errorf("y ticks (-want +got):\n%s", diff)
	}
	if top := l.Dots[2]; math.Abs(top.Y-c.Plot.Y) > 0.1 {
		t.Errorf("the 40 ms point at y %.1f, want the plot's top %.1f", top.Y, c.Plot.Y)
	}
	if d := l.Dots[0]; d.X != round1(c.Plot.X+c.Plot.W/96/2) || d.Title != "14:10–14:25 UTC: p50 10 ms" {
		t.Errorf("first dot %+v", d)
	}
	var xLabels []string
	for _, tk := range c.XTicks {
		xLabels = append(xLabels, tk.Label)
	}
	if diff := cmp.Diff([]string{"15:00", "18:00", "21:00", "00:00", "03:00", "06:00", "09:00", "12:00"}, xLabels); diff != "" {
		t.Errorf("x ticks of a day (-want +got):\n%s", diff)
	}
	if !strings.Contains(c.Desc, "p50 at most 40 ms") || !strings.Contains(c.Desc, "per 15 minutes, from 2025-03-14 14:10 to 2025-03-15 14:10 UTC") {
		t.Errorf("desc %q", c.Desc)
	}

	none := newLineChart("ack", "Ack", "seconds", ax, []layer{{"p50", "p50"}}, [][]float64{{nan, nan}}, 0, fmtSeconds)
	if none.Empty == "" || len(none.Lines[0].Dots) != 0 {
		t.Errorf("a chart without data: %q %+v", none.Empty, none.Lines)
	}
}

func TestFmtSeconds(t *testing.T) {
	t.Parallel()
	for sec, want := range map[float64]string{0: "0", 0.0005: "500 µs", 0.25: "250 ms", 0.0125: "12.5 ms", 1.5: "1.5 s", 90: "90 s", 300: "5 min", 7200: "2 h"} {
		if got := fmtSeconds(sec); got != want {
			t.Errorf("fmtSeconds(%v) = %q, want %q", sec, got, want)
		}
	}
}
