package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/voicehook/voicehook/sqlite"
)

// TestOverviewChartsJobPagesAndSearchInBrowser: the overview draws its
// charts from the store (events by outcome, queue samples, processing
// attempts) and from this process's ack histogram; auto-refresh is chosen,
// remembered and reloads the page; a job id in the events list opens the
// job's page; the header's search box goes to an event, says when nothing
// matched, and finds a segment.
func TestOverviewChartsJobPagesAndSearchInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	h := setup(t, "sqlite", func(c *config) { c.AdminToken = adminTestToken; c.MaxAttempts = 2 })

	// Real events of every outcome: dead, failed, ignored (seedAdminEvents),
	// succeeded, and two that wait for a job that does not exist yet.
	dead, _, _ := seedAdminEvents(t, h)
	job := h.adminCreateJob("seg-ok")
	_, a := h.deliver("seg-ok", seedCompleted(h.src.url("ok.mp3")))
	if ev := h.adminWaitEvent(a.EventID, "succeeded", "failed", "dead"); ev.Status != "succeeded" {
		t.Fatalf("event for seg-ok: %+v, want succeeded", ev)
	}
	okEvent := a.EventID
	for i := range 2 {
		seg := fmt.Sprintf("seg-waiting-%d", i)
		if code, a := h.deliver(seg, seedCompleted(h.src.url(seg+".mp3"))); code != 200 {
			t.Fatalf("delivery for %s: %d %+v", seg, code, a)
		}
	}
	seedHistory(t, h.dir)

	// Sign in, landing on the overview.
	must(t, "open /", chromedp.Do(ctx, chromedp.Navigate(h.base+"/"), chromedp.WaitVisible(chromedp.CSS(`input[name=token]`))))
	must(t, "type the token", chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`input[name=token]`), adminTestToken)))
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("sign-in")))
	must(t, "sign in", err)
	must(t, "charts", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("chart-events"))))

	type chartFacts struct {
		Title, Desc    string
		Bars, Points   int
		Legend         []string
		Width, Visible float64
	}
	facts := browse(t, ctx, "charts", chromedp.Evaluate[map[string]chartFacts](`Object.fromEntries(
		[...document.querySelectorAll('figure.chart')].map(f => [f.id, {
			Title: f.querySelector('svg > title').textContent,
			Desc: f.querySelector('svg > desc').textContent,
			Bars: f.querySelectorAll('svg rect').length,
			Points: f.querySelectorAll('svg circle').length,
			Legend: [...f.querySelectorAll('.legend li')].map(li => li.textContent),
			Width: f.querySelector('svg').getBoundingClientRect().width,
			Visible: f.querySelector('svg').getBoundingClientRect().height,
		}]))`))
	for _, id := range []string{"chart-events", "chart-queue", "chart-oldest", "chart-processing", "chart-ack"} {
		f, ok := facts[id]
		if !ok {
			t.Errorf("no chart %s on the overview (have %v)", id, facts)
			continue
		}
		if f.Title == "" || f.Desc == "" || f.Width < 200 || f.Visible < 60 || len(f.Legend) == 0 {
			t.Errorf("chart %s: %+v", id, f)
		}
		if f.Bars+f.Points == 0 || strings.HasPrefix(f.Desc, "No data") {
			t.Errorf("chart %s draws nothing: %+v", id, f)
		}
	}
	if ev := facts["chart-events"]; !strings.Contains(ev.Desc, "2 received") || !strings.Contains(strings.Join(ev.Legend, ","), "succeeded,ignored,received,failed,dead") {
		t.Errorf("events chart: %+v; want the two waiting events and a legend of every outcome", ev)
	}
	// The bars' colours come from the stylesheet (the CSP allows no
	// inline style): a succeeded bar is not the default black.
	fill := browse(t, ctx, "bar colour", chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#chart-events rect.c-succeeded')).fill`))
	if fill == "" || fill == "rgb(0, 0, 0)" {
		t.Errorf("succeeded bars are filled %q", fill)
	}
	if os.Getenv("VOICEHOOK_SCREENSHOT") == "1" {
		png := browse(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		out := filepath.Join("..", "..", "docs", "overview.png")
		must(t, "write screenshot", os.WriteFile(out, png, 0o644))
		t.Logf("wrote %s (%d bytes)", out, len(png))
	}

	// The last 24 hours: the same charts, by 15 minutes.
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`.window-tabs a[href*="window=24h"]`)))
	must(t, "last 24 hours", err)
	if d := browse(t, ctx, "24h desc", chromedp.TextContent(chromedp.ID("chart-events-desc"))); !strings.Contains(d, "one per 15 minutes") {
		t.Errorf("24 h events chart: %q", d)
	}

	// Auto-refresh every 10 s: chosen on the overview, remembered, and
	// applied by the events page, which then reloads by itself.
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`[data-refresh] a[data-seconds="10"]`)))
	must(t, "choose 10 s", err)
	if loc := browse(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "refresh=10") || !strings.Contains(loc, "window=24h") {
		t.Errorf("after choosing 10 s: at %s", loc)
	}
	state := browse(t, ctx, "refresh state", chromedp.Evaluate[[]string](`[localStorage.getItem('voicehook.refresh'),
		(document.querySelector('meta[http-equiv=refresh]') || {}).content || '',
		document.querySelector('[data-refresh] a[aria-current]').dataset.seconds]`))
	if strings.Join(state, ",") != "10,10,10" {
		t.Errorf("after choosing 10 s: stored, meta, current = %q", state)
	}
	must(t, "events", chromedp.Do(ctx, chromedp.Navigate(h.base+"/events"), chromedp.WaitVisible(chromedp.ID("events"))))
	current := browse(t, ctx, "current interval", chromedp.Evaluate[string](`document.querySelector('[data-refresh] a[aria-current]').dataset.seconds`))
	if current != "10" {
		t.Errorf("the events page shows %q s as the interval, want the remembered 10", current)
	}
	browse(t, ctx, "mark the page", chromedp.Evaluate[bool](`(window.__notReloaded = true)`))
	// Asked in turns: the reload interrupts whatever runs in the page.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		reloaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__notReloaded === undefined && document.readyState === 'complete'`))
		if err == nil && reloaded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the events page did not reload by itself within 20 s")
		}
	}
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`[data-refresh] a[data-seconds="0"]`)))
	must(t, "turn auto-refresh off", err)
	if v := browse(t, ctx, "stored", chromedp.Evaluate[string](`String(localStorage.getItem('voicehook.refresh'))`)); v != "null" {
		t.Errorf("after off: stored %q", v)
	}

	// The succeeded event's row names its job and the voiceover's size; its
	// job id opens the job's page.
	must(t, "events", chromedp.Do(ctx, chromedp.Navigate(h.base+"/events"), chromedp.WaitVisible(chromedp.ID("events"))))
	details := browse(t, ctx, "details", chromedp.Evaluate[string](`[...document.querySelectorAll('#events tbody tr')]
		.find(tr => tr.querySelector('a[href="/events/`+okEvent+`"]')).querySelector('td.details').textContent`))
	if !strings.Contains(details, job.ID[len(job.ID)-12:]) || !strings.Contains(details, "2.0 s · ") || !strings.Contains(details, "KiB") {
		t.Errorf("succeeded event's details %q, want its job and the voiceover's duration and size", details)
	}
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#events a.job-link[href="/jobs/`+job.ID+`"]`)))
	must(t, "open the job", err)
	if st := browse(t, ctx, "job status", chromedp.Text(chromedp.ID("job-status"))); st != "completed" {
		t.Errorf("job page status %q, want completed", st)
	}
	if seg := browse(t, ctx, "job segment", chromedp.Text(chromedp.ID("job-segment"))); seg != "seg-ok" {
		t.Errorf("job page segment %q", seg)
	}
	if n := browse(t, ctx, "job events", chromedp.Evaluate[int](`document.querySelectorAll('#events a[href="/events/`+okEvent+`"]').length`)); n != 1 {
		t.Errorf("the job page lists its event %d times, want once", n)
	}

	// Search from the header: an event id, nothing, a segment id.
	search := func(q string) string {
		t.Helper()
		must(t, "type "+q, chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("search"), q)))
		_, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("search")))
		must(t, "search "+q, err)
		return browse(t, ctx, "location", chromedp.Location())
	}
	if loc := search(dead); loc != h.base+"/events/"+dead {
		t.Errorf("searching the dead event's id: at %s", loc)
	}
	search("no-such-thing")
	if q := browse(t, ctx, "query", chromedp.Text(chromedp.ID("search-query"))); q != "no-such-thing" {
		t.Errorf("nothing matched page shows %q", q)
	}
	if text := browse(t, ctx, "result", chromedp.Text(chromedp.ID("search-result"))); !strings.Contains(text, "Tried a segment, a job, an event") {
		t.Errorf("nothing matched: %q", text)
	}
	if loc := search("seg-ok"); loc != h.base+"/segments/seg-ok" {
		t.Errorf("searching a segment id: at %s", loc)
	}
}

// seedHistory writes an hour of past activity into the data dir's store
// beside the real events: events of every outcome minute by minute, their
// attempts, and the queue samples the server writes once a minute (the
// last one by RecordSample itself). The server's clock is real, so the
// past cannot come through deliveries.
func seedHistory(t *testing.T, dir string) {
	t.Helper()
	db, err := sqlite.Open(dir, sqlite.Options{})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	now := time.Now().UTC()
	tx, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			_ = tx.Rollback()
			t.Fatalf("seeding history: %v", err)
		}
	}
	for m := 58; m >= 2; m-- {
		minute := now.Truncate(time.Minute).Add(-time.Duration(m) * time.Minute)
		wave := math.Sin(float64(m) / 7)
		counts := map[string]int{
			"succeeded": 4 + int(3*wave), "ignored": 1 + m%3/2, "failed": b2i(m%9 == 0), "dead": b2i(m%17 == 0),
		}
		i := 0
		for status, n := range counts {
			for range n {
				i++
				id := fmt.Sprintf("evt_history_%02d_%02d", m, i)
				at := minute.Add(time.Duration(i*3) * time.Second)
				exec(`INSERT INTO voicehook_events (id, service, endpoint, dedupe_key, type, segment_id, raw_payload, headers,
					received_at, status, error_details, related_job, attempts, enqueued, updated_at)
					VALUES (?, 'elevenlabs', '/webhooks/elevenlabs', ?, 'speech.completed', ?, ?, '{}', ?, ?, '', '', 1, 1, ?)`,
					id, "history-"+id, fmt.Sprintf("seg-history-%02d", m), []byte(`{}`), at.UnixMicro(), status, at.UnixMicro())
				took := time.Duration(60+40*i+int(80*(1+wave))) * time.Millisecond
				outcome := status
				exec(`INSERT INTO voicehook_attempts (event_id, attempt, started_at, finished_at, outcome, error) VALUES (?, 1, ?, ?, ?, '')`,
					id, at.UnixMicro(), at.Add(took).UnixMicro(), outcome)
			}
		}
		depth := int(3 + 3*math.Sin(float64(m)/5))
		exec(`INSERT INTO voicehook_samples (minute, queue_depth, oldest_age_ms, dead) VALUES (?, ?, ?, 0)`,
			minute.UnixMicro(), depth, int64(depth)*4000+int64(m%5)*1000)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordSample(ctx, now); err != nil {
		t.Fatalf("RecordSample: %v", err)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestEventRetrySegmentInBrowser: the page of an event whose job failed says
// a replay would change nothing and offers Retry segment, which creates a
// new job and replays the event; repeated attempts show as one row.
func TestEventRetrySegmentInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	h := setup(t, "sqlite", func(c *config) { c.AdminToken = adminTestToken; c.MaxAttempts = 2 })
	_, failed, _ := seedAdminEvents(t, h)
	must(t, "sign in", chromedp.Do(ctx, chromedp.Navigate(h.base+"/events/"+failed), chromedp.WaitVisible(chromedp.CSS(`input[name=token]`))))
	must(t, "type the token", chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`input[name=token]`), adminTestToken)))
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("sign-in")))
	must(t, "sign in", err)
	if note := browse(t, ctx, "replay note", chromedp.Text(chromedp.ID("replay-note"))); !strings.Contains(note, "already failed") {
		t.Fatalf("replay note %q; want it to say the job already failed", note)
	}
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("retry-segment")))
	must(t, "press Retry segment", err)
	msg := browse(t, ctx, "notice", chromedp.Text(chromedp.ID("notice")))
	if !strings.Contains(msg, "Created job_") || !strings.Contains(msg, "replayed the event") {
		t.Fatalf("after Retry segment: notice %q", msg)
	}
	if st := browse(t, ctx, "status", chromedp.Text(chromedp.ID("status"))); st != "received" && st != "failed" {
		t.Errorf("event status %q after the retry; want it replayed", st)
	}
}
