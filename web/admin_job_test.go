package web

import (
	"strings"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
)

func TestJobPage(t *testing.T) {
	ts := newTestServer(t, "", "https://hooks.example.com")
	w := ts.do("GET", "/jobs/job_1", reqOpts{})
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("job page: %d\n%.500s", w.Code, body)
	}
	for _, want := range []string{
		`<h1>Job <span class="mono">job_1</span></h1>`,
		`id="job-status">processing<`,
		`<a href="/segments/seg_1" id="job-segment">seg_1</a> <span class="st st-voiceover-ready">voiceover_ready</span>`,
		`<time datetime="2025-03-14T15:09:26Z">2025-03-14 15:09:26 UTC</time> <span class="ago">just now</span>`,
		`id="callback-url">https://hooks.example.com/webhooks/elevenlabs?segment_id=seg_1&amp;token=`,
		// Without a way to ask for a job's events, the segment's are
		// searched: evt_1 names job_1.
		"Among the segment&#39;s newest 1000 events.", `href="/events/evt_1"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("job page lacks %q", want)
		}
	}
	if strings.Contains(body, `href="/events/evt_2"`) {
		t.Error("the job page lists an event of its segment that names no job")
	}

	// With the store's history, the job's events are asked for directly.
	tl := withTimeline(ts)
	body = ts.do("GET", "/jobs/job_1", reqOpts{}).Body.String()
	if tl.jobEventCalls != 1 || strings.Contains(body, "Among the segment") || !strings.Contains(body, `href="/events/evt_ok"`) ||
		!strings.Contains(body, "2.0 s · 47.1 KiB") {
		t.Errorf("job page with a timeline (%d JobEvents calls):\n%.3000s", tl.jobEventCalls, body)
	}

	if w := ts.do("GET", "/jobs/job_nope", reqOpts{}); w.Code != 404 || !strings.Contains(w.Body.String(), "No job by that id.") {
		t.Errorf("unknown job: %d", w.Code)
	}
	ts.store.down = true
	if w := ts.do("GET", "/jobs/job_1", reqOpts{}); w.Code != 503 {
		t.Errorf("store down: %d", w.Code)
	}
}

// TestJobPageGenerationAndQA: a generated job shows its generation and the
// QA check of its voiceover.
func TestJobPageGenerationAndQA(t *testing.T) {
	ts, _, _ := newQAServer(t)
	body := ts.do("GET", "/jobs/job_gen", reqOpts{}).Body.String()
	for _, want := range []string{
		`id="generation"`, "<dd>done</dd>", "voice_1 · eleven_multilingual_v2", "We paid",
		`id="job-qa"`, `<span class="st st-qa-flagged">flagged</span>`, "33.3%", "(3 differences)", `href="/segments/seg_q#qa"`,
		"ext_job_gen",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("generated job's page lacks %q", want)
		}
	}
	// A callback job: no generation section.
	if body := ts.do("GET", "/jobs/job_cb", reqOpts{}).Body.String(); strings.Contains(body, `id="generation"`) || !strings.Contains(body, `id="job-qa"`) {
		t.Errorf("callback job's page:\n%.2000s", body)
	}
}

// TestJobIDsLink: every job id the pages show links to its page.
func TestJobIDsLink(t *testing.T) {
	ts, _, _ := newQAServer(t)
	for path, want := range map[string]string{
		"/jobs":               `<a class="job-link" href="/jobs/job_gen" title="job_gen">job_gen</a>`,
		"/segments/seg_q":     `<a class="mono" href="/jobs/job_gen">job_gen</a>`, // the checked job
		"/qa":                 `<a class="job-link" href="/jobs/job_worst" title="job_worst">job_worst</a>`,
		"/events?status=dead": `href="/jobs/job_1"`,
		"/dead":               `href="/jobs/job_1"`,
		"/segments/seg_cb":    `<a class="job-link" href="/jobs/job_other"`, // its jobs table
	} {
		if body := ts.do("GET", path, reqOpts{}).Body.String(); !strings.Contains(body, want) {
			t.Errorf("%s lacks %s", path, want)
		}
	}
}

// TestRelativeTimes: times are shown in UTC with how long ago they were.
func TestRelativeTimes(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "just now", 5 * time.Second: "just now", -20 * time.Second: "just now", 45 * time.Second: "45 s ago",
		3*time.Minute + 59*time.Second: "3 min ago", 2*time.Hour + 5*time.Minute: "2 h 5 min ago", 2 * time.Hour: "2 h ago",
		11*time.Hour + 30*time.Minute: "11 h ago", 47 * time.Hour: "47 h ago", 72 * time.Hour: "3 days ago", -5 * time.Minute: "in 5 min",
	} {
		if got := relTime(d); got != want {
			t.Errorf("relTime(%v) = %q, want %q", d, got, want)
		}
	}
	ts := newTestServer(t, "", "")
	for path, want := range map[string]string{
		"/events":         `<time datetime="2025-03-14T15:08:26Z">2025-03-14 15:08:26 UTC</time> <span class="ago">1 min ago</span>`,
		"/jobs":           `<time datetime="2025-03-14T15:09:26Z">2025-03-14 15:09:26 UTC</time> <span class="ago">just now</span>`,
		"/segments/seg_1": `<dt>Updated</dt><dd><time datetime="2025-03-14T15:09:26Z">2025-03-14 15:09:26 UTC</time> <span class="ago">just now</span>`,
	} {
		if body := ts.do("GET", path, reqOpts{}).Body.String(); !strings.Contains(body, want) {
			t.Errorf("%s lacks %s", path, want)
		}
	}
}

// TestDeadWording: counts agree with their nouns.
func TestDeadWording(t *testing.T) {
	ts := newTestServer(t, "", "")
	body := ts.do("GET", "/dead", reqOpts{}).Body.String()
	if !strings.Contains(body, `data-confirm="Replay the 2 dead events shown?"`) || !strings.Contains(body, "Replay all 2 shown") {
		t.Errorf("two dead events:\n%.1500s", body)
	}
	ev := ts.store.events["evt_2"]
	ev.Status = voicehook.EventFailed
	ts.store.events["evt_2"] = ev
	body = ts.do("GET", "/dead", reqOpts{}).Body.String()
	if !strings.Contains(body, `data-confirm="Replay the dead event shown?"`) || !strings.Contains(body, "Replay the one shown") {
		t.Errorf("one dead event:\n%.1500s", body)
	}
	for q, want := range map[string]string{
		"msg=replayed_all&n=1&skipped=0": "1 dead event queued again.",
		"msg=replayed_all&n=2&skipped=1": "2 dead events queued again. 1 was skipped",
		"msg=replayed_all&n=0&skipped=3": "0 dead events queued again. 3 were skipped",
		"msg=replay_stopped&n=1":         "1 event was queued again, then",
		"msg=replay_stopped&n=4":         "4 events were queued again, then",
	} {
		if body := ts.do("GET", "/dead?"+q, reqOpts{}).Body.String(); !strings.Contains(body, want) {
			t.Errorf("%s: lacks %q", q, want)
		}
	}
}
