package web

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

// timelineStore is the fake inbox with the history the charts draw
// (voicehook.Timeline), computed from the fake's own events and attempts.
type timelineStore struct {
	*fakeStore
	samples []voicehook.QueueSample
	audio   map[string]voicehook.EventAudio
	failing bool
	// jobEventCalls counts JobEvents calls.
	jobEventCalls int
}

var errTimeline = errors.New("timeline: store down")

func (f *timelineStore) EventHistory(ctx context.Context, since, until time.Time, step time.Duration) ([]voicehook.EventBucket, error) {
	if f.failing {
		return nil, errTimeline
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := int((until.Sub(since) + step - 1) / step)
	out := make([]voicehook.EventBucket, n)
	for i := range out {
		out[i] = voicehook.EventBucket{Start: since.Add(time.Duration(i) * step), Counts: map[voicehook.EventStatus]int{}}
	}
	for _, ev := range f.events {
		if !ev.ReceivedAt.Before(since) && ev.ReceivedAt.Before(until) {
			out[ev.ReceivedAt.Sub(since)/step].Counts[ev.Status]++
		}
	}
	return out, nil
}

func (f *timelineStore) ProcessingLatency(ctx context.Context, since, until time.Time, step time.Duration) ([]voicehook.LatencyBucket, error) {
	if f.failing {
		return nil, errTimeline
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := int((until.Sub(since) + step - 1) / step)
	out := make([]voicehook.LatencyBucket, n)
	for i := range out {
		out[i].Start = since.Add(time.Duration(i) * step)
	}
	for _, as := range f.attempts {
		for _, a := range as {
			if a.FinishedAt.Before(since) || !a.FinishedAt.Before(until) {
				continue
			}
			b := &out[a.FinishedAt.Sub(since)/step]
			b.Count++
			b.P50 = max(b.P50, a.FinishedAt.Sub(a.StartedAt)) // enough for a fake
			b.P95, b.P99 = b.P50, b.P50
		}
	}
	return out, nil
}

func (f *timelineStore) QueueSamples(ctx context.Context, since time.Time) ([]voicehook.QueueSample, error) {
	if f.failing {
		return nil, errTimeline
	}
	var out []voicehook.QueueSample
	for _, s := range f.samples {
		if !s.At.Before(since) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *timelineStore) JobEvents(ctx context.Context, jobID string, limit int) ([]voicehook.Event, error) {
	f.jobEventCalls++
	all, err := f.ListEvents(ctx, voicehook.EventFilter{})
	var out []voicehook.Event
	for _, ev := range all {
		if ev.RelatedJob == jobID && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, err
}

func (f *timelineStore) EventAudio(ctx context.Context, ids []string) (map[string]voicehook.EventAudio, error) {
	if f.failing {
		return nil, errTimeline
	}
	out := map[string]voicehook.EventAudio{}
	for _, id := range ids {
		if a, ok := f.audio[id]; ok {
			out[id] = a
		}
	}
	return out, nil
}

// withTimeline gives ts's server an inbox with history: queue samples over
// the last hour and the audio of evt_ok, a succeeded event added here.
func withTimeline(ts *testServer) *timelineStore {
	ok := ts.store.events["evt_1"]
	ok.ID, ok.Status, ok.ErrorDetails, ok.DedupeKey = "evt_ok", voicehook.EventSucceeded, "", "ok"
	ok.ReceivedAt = testNow.Add(-10 * time.Minute)
	ts.store.events["evt_ok"] = ok
	tl := &timelineStore{fakeStore: ts.store, audio: map[string]voicehook.EventAudio{"evt_ok": {DurationMS: 2040, Bytes: 48213}}}
	for i := range 30 {
		tl.samples = append(tl.samples, voicehook.QueueSample{At: testNow.Truncate(time.Minute).Add(-time.Duration(i) * time.Minute),
			Depth: i % 4, OldestAge: time.Duration(i) * time.Second})
	}
	ts.srv.Inbox = tl
	ts.h = ts.srv.Handler()
	return tl
}

var svgRE = regexp.MustCompile(`(?s)<figure class="chart" id="([a-z-]+)"[^>]*>.*?</figure>`)

// charts returns the page's charts by id, each checked to be well-formed
// XML (inline SVG read by any SVG tool, not just an HTML parser).
func charts(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range svgRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[0]
		svg := m[0][strings.Index(m[0], "<svg") : strings.Index(m[0], "</svg>")+len("</svg>")]
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			if _, err := dec.Token(); err != nil {
				if err != io.EOF {
					t.Errorf("chart %s is not well-formed: %v", m[1], err)
				}
				break
			}
		}
	}
	return out
}

func TestOverviewCharts(t *testing.T) {
	ts := newTestServer(t, "", "")
	withTimeline(ts)
	// Deliveries acknowledged since the server was built.
	for _, s := range []float64{0.004, 0.004, 0.03} {
		ts.srv.Metrics.AckLatency.Observe(s)
	}
	w := ts.do("GET", "/", reqOpts{})
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("overview: %d\n%.500s", w.Code, body)
	}
	got := charts(t, body)
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	if diff := cmp.Diff([]string{"chart-ack", "chart-events", "chart-oldest", "chart-processing", "chart-queue"}, sortedCopy(ids)); diff != "" {
		t.Fatalf("charts (-want +got):\n%s", diff)
	}
	ev := got["chart-events"]
	for _, want := range []string{
		`role="img" aria-labelledby="chart-events-title chart-events-desc"`,
		`<title id="chart-events-title">Events by outcome, per minute</title>`,
		// The fake's events: two dead, one waiting, one ignored a minute
		// ago; one succeeded ten minutes ago.
		`<desc id="chart-events-desc">60 bars, one per minute, from 2025-03-14 14:10 to 15:10 UTC; 5 in all: 1 succeeded, 1 ignored, 1 received, 0 failed, 2 dead.</desc>`,
		`<title>15:08–15:09 UTC: 1 ignored, 1 received, 2 dead</title>`,
		`<title>14:59–15:00 UTC: 1 succeeded</title>`,
		`>events per minute</text>`, `>time (UTC)</text>`, `>14:10</text>`, `>15:10</text>`,
		`<li><span class="swatch c-dead" aria-hidden="true"></span>dead</li>`,
	} {
		if !strings.Contains(ev, want) {
			t.Errorf("events chart lacks %q:\n%s", want, ev)
		}
	}
	if n := strings.Count(ev, "<rect "); n != 4 {
		t.Errorf("events chart has %d bars, want 4 (3 stacked, 1 alone)", n)
	}
	if q := got["chart-queue"]; strings.Count(q, "<circle ") != 30 || !strings.Contains(q, "<polyline points=") {
		t.Errorf("queue chart: %d points, want one per sample (30):\n%.1500s", strings.Count(q, "<circle "), q)
	}
	if p := got["chart-processing"]; !strings.Contains(p, "UTC: p99 30 ms</title>") {
		t.Errorf("processing chart lacks evt_1's slowest attempt (30 ms):\n%.2000s", p)
	}
	ack := got["chart-ack"]
	if !strings.Contains(ack, "3 timed in all.") || !strings.Contains(ack, "This replica") {
		t.Errorf("ack chart lacks this replica's three deliveries:\n%.2500s", ack)
	}
	if strings.Contains(body, ` style=`) {
		t.Error("the page uses an inline style, which the CSP forbids")
	}

	// The last 24 hours, by 15 minutes; the tab says so.
	w = ts.do("GET", "/?window=24h", reqOpts{})
	got = charts(t, w.Body.String())
	if !strings.Contains(got["chart-events"], "96 bars, one per 15 minutes") || !strings.Contains(w.Body.String(), `aria-current="page">Last 24 hours</a>`) {
		t.Errorf("24 h window:\n%.1500s", got["chart-events"])
	}
	// An unknown window: the default, and a 400 that says so.
	w = ts.do("GET", "/?window=week", reqOpts{})
	if w.Code != 400 || !strings.Contains(w.Body.String(), "Check the chart window: 1h or 24h") || len(charts(t, w.Body.String())) != 5 {
		t.Errorf("unknown window: %d\n%.800s", w.Code, w.Body.String())
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestOverviewChartsDegrade: a store without history shows the ack chart
// and says why the others are missing; a failing one still shows the page.
func TestOverviewChartsDegrade(t *testing.T) {
	ts := newTestServer(t, "", "")
	w := ts.do("GET", "/", reqOpts{})
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "This store keeps no history for charts.") {
		t.Errorf("no timeline: %d\n%.800s", w.Code, body)
	}
	if got := charts(t, body); len(got) != 1 || got["chart-ack"] == "" || !strings.Contains(got["chart-ack"], "No data in this window.") {
		t.Errorf("no timeline: charts %v", got)
	}

	tl := withTimeline(ts)
	tl.failing = true
	w = ts.do("GET", "/", reqOpts{})
	body = w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "The store did not answer for some charts") || !strings.Contains(body, `id="queue-depth">3<`) {
		t.Errorf("failing timeline: %d\n%.800s", w.Code, body)
	}

	ts.srv.Metrics = nil
	ts.h = ts.srv.Handler()
	if got := charts(t, ts.do("GET", "/", reqOpts{}).Body.String()); got["chart-ack"] != "" {
		t.Error("an ack chart without metrics")
	}
}

func TestAutoRefresh(t *testing.T) {
	ts := newTestServer(t, "", "")
	meta := regexp.MustCompile(`<meta http-equiv="refresh" content="(\d+)">`)
	current := regexp.MustCompile(`data-seconds="(\d+)" aria-current="true"`)
	for _, c := range []struct {
		path          string
		meta, current string
		links         []string
	}{
		{"/events", "", "0", []string{`href="/events?refresh=10"`}},
		{"/events?refresh=10", "10", "10", []string{`href="/events?refresh=0"`}},
		{"/events?status=dead&refresh=60", "60", "60", []string{`href="/events?refresh=10&amp;status=dead"`}},
		{"/dead?refresh=10&msg=replayed_all&n=1", "10", "10", []string{`href="/dead?refresh=60"`}},
		{"/?refresh=10", "10", "10", []string{`href="/?refresh=0"`, `href="/?refresh=10&amp;window=24h"`}},
		{"/?refresh=5", "", "0", nil}, // not an offered interval
	} {
		body := ts.do("GET", c.path, reqOpts{}).Body.String()
		gotMeta, gotCurrent := "", ""
		if m := meta.FindStringSubmatch(body); m != nil {
			gotMeta = m[1]
		}
		if m := current.FindStringSubmatch(body); m != nil {
			gotCurrent = m[1]
		}
		if gotMeta != c.meta || gotCurrent != c.current {
			t.Errorf("%s: meta refresh %q, current %q; want %q, %q", c.path, gotMeta, gotCurrent, c.meta, c.current)
		}
		for _, l := range c.links {
			if !strings.Contains(body, l) {
				t.Errorf("%s: no link %s", c.path, l)
			}
		}
	}
	// Pages without auto-refresh have no control.
	if body := ts.do("GET", "/jobs?refresh=10", reqOpts{}).Body.String(); strings.Contains(body, "data-refresh") || meta.MatchString(body) {
		t.Error("the jobs page offers auto-refresh")
	}
}

func TestEventsDetailsShowVoiceover(t *testing.T) {
	ts := newTestServer(t, "", "")
	withTimeline(ts)
	body := ts.do("GET", "/events", reqOpts{}).Body.String()
	row := rowOf(body, `href="/events/evt_ok"`)
	for _, want := range []string{`job <a class="job-link" href="/jobs/job_1" title="job_1">job_1</a>`, `title="the voiceover it stored">2.0 s · 47.1 KiB</span>`, `<span class="ago">10 min ago</span>`} {
		if !strings.Contains(row, want) {
			t.Errorf("succeeded event's row lacks %q:\n%s", want, row)
		}
	}
	// A dead event names its job and its error; no sizes.
	dead := rowOf(body, `href="/events/evt_1"`)
	if !strings.Contains(dead, `href="/jobs/job_1"`) || !strings.Contains(dead, "gave up after 2 attempts") || strings.Contains(dead, "KiB") {
		t.Errorf("dead event's row:\n%s", dead)
	}
}

// rowOf returns the table row of body that holds s.
func rowOf(body, s string) string {
	for _, part := range strings.Split(body, "</tr>") {
		if i := strings.LastIndex(part, "<tr"); i >= 0 && strings.Contains(part[i:], s) {
			return part[i:]
		}
	}
	return ""
}
