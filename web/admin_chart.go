package web

// The overview's charts: laid out here, in Go, as plain numbers and labels;
// templates/overview.html only places them as inline SVG, so html/template
// escapes every label and no script draws anything. Colours come from
// style.css through class names (the CSP allows no inline style), so the
// charts follow the light and dark themes.
//
// A chart is a time axis of equal buckets (one minute over the last hour,
// fifteen over the last day) and either stacked bars (counts) or lines
// (values; a missing value breaks its line). The y axis starts at 0 and ends
// at a "nice" number (1, 2 or 5 times a power of ten, a multiple of the tick
// step) above the largest value.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The charts' boxes, in SVG user units: about the width they are shown at
// on a laptop (the SVG scales to its container), so that the text stays
// near the page's size. The events chart spans the page; the others share
// it two by two.
const (
	wideW, wideH   = 1160.0, 250.0
	smallW, smallH = 560.0, 230.0
	chartLeft      = 66.0 // y tick labels and the y axis label
	chartRight     = 14.0
	chartTop       = 12.0
	chartBottom    = 40.0 // x tick labels and the x axis label
)

type chart struct {
	ID    string
	Title string
	// Desc sums the chart up in words: what a screen reader reads, and
	// what a reader of the HTML source sees.
	Desc string
	// Note is said under the chart (e.g. that it counts this replica only).
	Note   string
	W, H   float64
	Plot   box
	XTicks []tick
	YTicks []tick
	XLabel string
	YLabel string
	// Columns are stacked bars, one per bucket; Lines are series of points,
	// in the legend's order. Drawn lists them the other way round: the
	// first series (p50) is drawn last, on top of the others it often meets.
	Columns []column
	Lines   []line
	Drawn   []line
	Legend  []legendItem
	// Empty, when set, is written across a chart with nothing to draw.
	Empty string
}

type box struct{ X, Y, W, H float64 }

// Right and Bottom are where the box ends.
func (b box) Right() float64  { return b.X + b.W }
func (b box) Bottom() float64 { return b.Y + b.H }

// YLabelX and YLabelY place the rotated y axis label (in the rotated frame).
func (c chart) YLabelX() float64 { return -(c.Plot.Y + c.Plot.H/2) }
func (c chart) YLabelY() float64 { return 14 }

// XLabelY places the x axis label.
func (c chart) XLabelY() float64 { return c.H - 6 }

// tick is one grid line: Pos is x on the x axis, y on the y axis.
type tick struct {
	Pos   float64
	Label string
}

// column is one bucket's stacked bar; Title is its tooltip.
type column struct {
	Title string
	Rects []rect
}

type rect struct {
	X, Y, W, H float64
	Class      string
}

// line is one series: Runs are the points of its unbroken stretches, as an
// SVG points list; Dots mark every point (a lone one has no line).
type line struct {
	Class string
	Label string
	Runs  []string
	Dots  []dot
}

type dot struct {
	X, Y  float64
	Title string
}

type legendItem struct {
	Class string
	Label string
	// Line: the item is a line's (drawn as a stroke), not a bar's.
	Line bool
}

// timeAxis is a chart's x axis: N buckets of Step from Since (UTC).
type timeAxis struct {
	Since time.Time
	Step  time.Duration
	N     int
}

func (ax timeAxis) until() time.Time { return ax.Since.Add(time.Duration(ax.N) * ax.Step) }

// span says the window in words: "from 2025-03-14 14:10 to 15:10 UTC", the
// date repeated when the window crosses midnight.
func (ax timeAxis) span() string {
	from, to := ax.Since.UTC(), ax.until().UTC()
	end := to.Format("15:04")
	if to.YearDay() != from.YearDay() || to.Year() != from.Year() {
		end = to.Format("2006-01-02 15:04")
	}
	return "from " + from.Format("2006-01-02 15:04") + " to " + end + " UTC"
}

// layer is one series of a chart: its CSS class (chart-<Class>) and label.
type layer struct {
	Class, Label string
}

// round1 keeps one decimal: enough for a 720-unit box, and a small page.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// newChart lays out the frame every chart shares: the plot box, the x ticks
// and the y scale (0 to top, in ticks of step).
func newChart(id, title string, ax timeAxis, top, step float64, yLabel func(float64) string, w, h float64) chart {
	c := chart{ID: id, Title: title, W: w, H: h,
		Plot:   box{chartLeft, chartTop, w - chartLeft - chartRight, h - chartTop - chartBottom},
		XLabel: "time (UTC)"}
	for i := 0; float64(i)*step <= top+step/2; i++ {
		v := float64(i) * step
		c.YTicks = append(c.YTicks, tick{Pos: round1(c.y(v, top)), Label: yLabel(v)})
	}
	every, layout := xTickEvery(ax.until().Sub(ax.Since))
	for t := ax.Since.Truncate(every); !t.After(ax.until()); t = t.Add(every) {
		if t.Before(ax.Since) {
			continue
		}
		c.XTicks = append(c.XTicks, tick{Pos: round1(c.Plot.X + c.Plot.W*float64(t.Sub(ax.Since))/float64(ax.until().Sub(ax.Since))), Label: t.UTC().Format(layout)})
	}
	return c
}

// y is the height of v on a scale from 0 to top.
func (c chart) y(v, top float64) float64 {
	if top <= 0 {
		return c.Plot.Bottom()
	}
	return c.Plot.Bottom() - c.Plot.H*v/top
}

// xTickEvery is how far apart the x axis labels are for a window, and how
// they are written.
func xTickEvery(window time.Duration) (time.Duration, string) {
	switch {
	case window <= 2*time.Hour:
		return 10 * time.Minute, "15:04"
	case window <= 12*time.Hour:
		return time.Hour, "15:04"
	default:
		return 3 * time.Hour, "15:04"
	}
}

// niceScale picks the top of a y axis from 0 and its tick step: at most
// about five ticks, each step 1, 2 or 5 times a power of ten, and at least
// minStep (1 for counts).
func niceScale(maxVal, minStep float64) (top, step float64) {
	if maxVal <= 0 || math.IsNaN(maxVal) {
		return max(minStep, 1) * 4, max(minStep, 1)
	}
	raw := maxVal / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	step = max(step, minStep)
	top = math.Ceil(maxVal/step) * step
	return top, step
}

// bucketSpan names a bucket for tooltips: "15:04–15:05".
func bucketSpan(start time.Time, step time.Duration) string {
	return start.UTC().Format("15:04") + "–" + start.Add(step).UTC().Format("15:04")
}

// newBarChart stacks counts[layer][bucket], the first layer at the bottom,
// as a wide chart.
func newBarChart(id, title, yLabel string, ax timeAxis, layers []layer, counts [][]int) chart {
	totals := make([]int, ax.N)
	maxTotal, all := 0, 0
	for _, row := range counts {
		for i, v := range row[:min(len(row), ax.N)] {
			totals[i] += v
			all += v
		}
	}
	for _, t := range totals {
		maxTotal = max(maxTotal, t)
	}
	top, step := niceScale(float64(maxTotal), 1)
	c := newChart(id, title, ax, top, step, func(v float64) string { return strconv.Itoa(int(v)) }, wideW, wideH)
	c.YLabel = yLabel
	for _, l := range layers {
		c.Legend = append(c.Legend, legendItem{Class: l.Class, Label: l.Label})
	}
	slot := c.Plot.W / float64(ax.N)
	gap := math.Min(slot*0.2, 2)
	for i := range ax.N {
		if totals[i] == 0 {
			continue
		}
		col := column{}
		var parts []string
		base := 0.0
		for li, l := range layers {
			v := 0
			if i < len(counts[li]) {
				v = counts[li][i]
			}
			if v == 0 {
				continue
			}
			y0, y1 := c.y(base, top), c.y(base+float64(v), top)
			col.Rects = append(col.Rects, rect{X: round1(c.Plot.X + slot*float64(i) + gap/2), Y: round1(y1),
				W: round1(math.Max(slot-gap, 0.5)), H: round1(math.Max(y0-y1, 0.5)), Class: l.Class})
			base += float64(v)
			parts = append(parts, fmt.Sprintf("%d %s", v, l.Label))
		}
		start := ax.Since.Add(time.Duration(i) * ax.Step)
		col.Title = bucketSpan(start, ax.Step) + " UTC: " + strings.Join(parts, ", ")
		c.Columns = append(c.Columns, col)
	}
	if all == 0 {
		c.Empty = "Nothing in this window."
	}
	// The summary: the window and the totals by layer.
	var sums []string
	for li, l := range layers {
		n := 0
		for _, v := range counts[li] {
			n += v
		}
		sums = append(sums, fmt.Sprintf("%d %s", n, l.Label))
	}
	c.Desc = fmt.Sprintf("%d bars, one per %s, %s; %d in all: %s.", ax.N, stepName(ax.Step), ax.span(), all, strings.Join(sums, ", "))
	return c
}

// newLineChart draws values[series][bucket] at the buckets' middles, as a
// small chart; NaN is a missing value. format writes a value for the axis
// and the tooltips.
func newLineChart(id, title, yLabel string, ax timeAxis, series []layer, values [][]float64, minStep float64, format func(float64) string) chart {
	maxVal, points := 0.0, 0
	for _, row := range values {
		for _, v := range row {
			if !math.IsNaN(v) {
				maxVal = math.Max(maxVal, v)
				points++
			}
		}
	}
	top, step := niceScale(maxVal, minStep)
	c := newChart(id, title, ax, top, step, format, smallW, smallH)
	c.YLabel = yLabel
	slot := c.Plot.W / float64(ax.N)
	var peaks []string
	for si, s := range series {
		l := line{Class: s.Class, Label: s.Label}
		var run []string
		peak := math.NaN()
		flush := func() {
			if len(run) > 1 {
				l.Runs = append(l.Runs, strings.Join(run, " "))
			}
			run = nil
		}
		for i := range ax.N {
			v := math.NaN()
			if i < len(values[si]) {
				v = values[si][i]
			}
			if math.IsNaN(v) {
				flush()
				continue
			}
			if math.IsNaN(peak) || v > peak {
				peak = v
			}
			x, y := round1(c.Plot.X+slot*(float64(i)+0.5)), round1(c.y(v, top))
			run = append(run, strconv.FormatFloat(x, 'f', -1, 64)+","+strconv.FormatFloat(y, 'f', -1, 64))
			start := ax.Since.Add(time.Duration(i) * ax.Step)
			l.Dots = append(l.Dots, dot{X: x, Y: y, Title: bucketSpan(start, ax.Step) + " UTC: " + s.Label + " " + format(v)})
		}
		flush()
		c.Lines = append(c.Lines, l)
		c.Legend = append(c.Legend, legendItem{Class: s.Class, Label: s.Label, Line: true})
		if !math.IsNaN(peak) {
			peaks = append(peaks, s.Label+" at most "+format(peak))
		}
	}
	for i := len(c.Lines) - 1; i >= 0; i-- {
		c.Drawn = append(c.Drawn, c.Lines[i])
	}
	if points == 0 {
		c.Empty = "No data in this window."
		c.Desc = "No data " + ax.span() + "."
		return c
	}
	c.Desc = fmt.Sprintf("Lines with a point per %s, %s; %s.", stepName(ax.Step), ax.span(), strings.Join(peaks, "; "))
	return c
}

// stepName says a bucket's width in words.
func stepName(step time.Duration) string {
	switch {
	case step == time.Minute:
		return "minute"
	case step == time.Hour:
		return "hour"
	case step%time.Hour == 0:
		return fmt.Sprintf("%d hours", step/time.Hour)
	case step%time.Minute == 0:
		return fmt.Sprintf("%d minutes", step/time.Minute)
	}
	return step.String()
}

// fmtSeconds writes a duration given in seconds for an axis: "0", "250 ms",
// "1.5 s", "2 min".
func fmtSeconds(sec float64) string {
	switch {
	case sec == 0:
		return "0"
	case sec < 0.001:
		return trimFloat(sec*1e6) + " µs"
	case sec < 1:
		return trimFloat(sec*1000) + " ms"
	case sec < 120:
		return trimFloat(sec) + " s"
	case sec < 7200:
		return trimFloat(sec/60) + " min"
	default:
		return trimFloat(sec/3600) + " h"
	}
}

// trimFloat writes v with up to three significant decimals, no trailing
// zeros.
func trimFloat(v float64) string {
	prec := 0
	switch {
	case v < 10:
		prec = 2
	case v < 100:
		prec = 1
	}
	return strconv.FormatFloat(math.Round(v*math.Pow(10, float64(prec)))/math.Pow(10, float64(prec)), 'f', -1, 64)
}

// fmtCount writes a count for an axis or a tooltip.
func fmtCount(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', -1, 64) }
