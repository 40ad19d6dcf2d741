package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The operator's pages, end to end: the real server (the same wiring as
// `serve`), driven by headless Chromium, and by plain HTTP where a browser
// would hide what is checked (a cross-site POST).

const (
	adminTestToken = "browser-admin-token"
	chromiumPath   = "/usr/bin/chromium"
)

// xssPayload is a genuine, signed event whose data is markup: the event page
// must show it as text.
const xssPayload = `{"type":"post_call_transcription","event_timestamp":1700000000,"data":{"conversation_id":"conv-xss",` +
	`"note":"<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"}}`

func adminAuth() map[string]string {
	return map[string]string{"Authorization": "Bearer " + adminTestToken}
}

// adminCreateJob creates a job through the API with the admin token.
func (h *harness) adminCreateJob(segment string) jobView {
	h.t.Helper()
	var job jobView
	body := []byte(`{"segment_id":"` + segment + `","type":"voiceover_generation"}`)
	if code := h.do("POST", "/api/jobs", adminAuth(), body, &job); code != http.StatusCreated {
		h.t.Fatalf("creating job: %d %+v", code, job)
	}
	return job
}

// adminWaitEvent waits, through the API with the admin token, until an event
// is in one of the statuses.
func (h *harness) adminWaitEvent(id string, statuses ...string) eventView {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ev eventView
		if code := h.do("GET", "/api/events/"+id, adminAuth(), nil, &ev); code != http.StatusOK {
			h.t.Fatalf("GET event %s: %d", id, code)
		}
		for _, s := range statuses {
			if ev.Status == s {
				return ev
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("event %s is %s after 20s, want one of %v: %+v", id, ev.Status, statuses, ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedAdminEvents makes a dead event (the audio source answers 500 twice,
// MaxAttempts 2; its next fetch succeeds), a failed one (404) and an ignored
// one whose payload is markup.
func seedAdminEvents(t *testing.T, h *harness) (dead, failed, xss string) {
	t.Helper()
	h.adminCreateJob("seg-browser")
	h.src.failNext(500, 500)
	code, a := h.deliver("seg-browser", seedCompleted(h.src.url("browser.mp3")))
	if code != 200 {
		t.Fatalf("delivery: %d %+v", code, a)
	}
	if ev := h.adminWaitEvent(a.EventID, "dead", "succeeded", "failed"); ev.Status != "dead" {
		t.Fatalf("first event = %+v, want dead", ev)
	}
	dead = a.EventID

	h.adminCreateJob("seg-missing")
	h.src.failNext(404)
	_, a = h.deliver("seg-missing", seedCompleted(h.src.url("missing.mp3")))
	if ev := h.adminWaitEvent(a.EventID, "failed", "succeeded", "dead"); ev.Status != "failed" {
		t.Fatalf("404 event = %+v, want failed", ev)
	}
	failed = a.EventID

	_, a = h.deliver("", []byte(xssPayload))
	h.adminWaitEvent(a.EventID, "ignored", "failed", "succeeded")
	xss = a.EventID
	return dead, failed, xss
}

// newBrowser starts headless Chromium with a fresh profile and nothing that
// calls out: no background networking, component updates, sync or QUIC, and
// every host name but localhost resolving to nothing, so whatever Chromium
// still tries on its own (account or update checks) fails at name resolution.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s not found; install Debian's chromium package (apt-get install -y chromium), as .ci/run does", chromiumPath)
	}
	profile, err := os.MkdirTemp("", "voicehook-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers may write a moment after it stops.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "AutofillServerCommunication,NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(profile),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func browse[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	must(t, what, err)
	return v
}

func TestAdminPagesInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	h := setup(t, "sqlite", func(c *config) { c.AdminToken = adminTestToken; c.MaxAttempts = 2 })
	dead, failed, xss := seedAdminEvents(t, h)

	// Signed out, a page sends the browser to sign in, and back after.
	must(t, "open /dead", chromedp.Do(ctx, chromedp.Navigate(h.base+"/dead"), chromedp.WaitVisible(chromedp.CSS(`input[name=token]`))))
	if loc := browse(t, ctx, "location", chromedp.Location()); !strings.HasPrefix(loc, h.base+"/login?next=") {
		t.Fatalf("signed out at /dead: at %s, want the sign-in form", loc)
	}
	must(t, "type a wrong token", chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "not-the-token")))
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("sign-in")))
	must(t, "sign in with a wrong token", err)
	if msg := browse(t, ctx, "login error", chromedp.Text(chromedp.ID("login-error"))); !strings.Contains(msg, "Wrong admin token") {
		t.Fatalf("wrong token: %q", msg)
	}
	must(t, "type the token", chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`input[name=token]`), adminTestToken)))
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("sign-in")))
	must(t, "sign in", err)
	if loc := browse(t, ctx, "location", chromedp.Location()); loc != h.base+"/dead" || resp.Status != 200 {
		t.Fatalf("after sign-in: %d at %s, want 200 at /dead", resp.Status, loc)
	}

	// The dead event is listed; open it.
	link := chromedp.CSS(`#events a[href="/events/` + dead + `"]`)
	_, err = chromedp.RunResponse(ctx, chromedp.Click(link))
	must(t, "open the dead event", err)
	if st := browse(t, ctx, "status", chromedp.Text(chromedp.ID("status"))); st != "dead" {
		t.Fatalf("event page status %q, want dead", st)
	}
	if n := browse(t, ctx, "attempt rows", chromedp.Evaluate[int](`document.querySelectorAll('#attempts tbody tr').length`)); n != 2 {
		t.Errorf("%d attempt rows, want 2", n)
	}
	if e := browse(t, ctx, "error", chromedp.Text(chromedp.ID("error-details"))); !strings.Contains(e, "gave up after 2 attempts") {
		t.Errorf("error details %q", e)
	}
	attempts := browse(t, ctx, "attempts table", chromedp.Text(chromedp.ID("attempts")))
	if !strings.Contains(attempts, "500") {
		t.Errorf("the attempts do not show the source's 500: %q", attempts)
	}
	if js := browse(t, ctx, "job status", chromedp.Text(chromedp.ID("job-status"))); js != "processing" {
		t.Errorf("related job %q, want processing", js)
	}

	// Replay: the source answers now, and the event succeeds.
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("replay")))
	must(t, "press Replay", err)
	if msg := browse(t, ctx, "notice", chromedp.Text(chromedp.ID("notice"))); !strings.Contains(msg, "Replay requested") {
		t.Fatalf("after Replay: notice %q", msg)
	}
	h.adminWaitEvent(dead, "succeeded", "failed", "dead")
	must(t, "reload", chromedp.Do(ctx, chromedp.Reload()))
	if st := browse(t, ctx, "status", chromedp.Text(chromedp.ID("status"))); st != "succeeded" {
		t.Fatalf("after replay and reload: status %q, want succeeded", st)
	}
	if js := browse(t, ctx, "job status", chromedp.Text(chromedp.ID("job-status"))); js != "completed" {
		t.Errorf("related job %q after replay, want completed", js)
	}

	// Its segment plays the voiceover.
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`dl.facts a[href="/segments/seg-browser"]`)))
	must(t, "open the segment", err)
	if st := browse(t, ctx, "segment status", chromedp.Text(chromedp.ID("segment-status"))); st != "voiceover_ready" {
		t.Errorf("segment status %q", st)
	}
	src := browse(t, ctx, "audio src", chromedp.AttributeValue(chromedp.ID("voiceover"), "src"))
	if !strings.HasPrefix(src.Value, h.base+"/media/") {
		t.Errorf("audio src %q, want the stored voiceover under %s/media/", src.Value, h.base)
	}
	dur := browse(t, ctx, "audio metadata", chromedp.Poll[float64](
		`(() => { const a = document.getElementById('voiceover'); return a.readyState >= 1 && a.duration; })()`,
		chromedp.WithPollingTimeout(15*time.Second)))
	if dur < 1.5 || dur > 2.5 {
		t.Errorf("the <audio> element loaded %.2fs of audio, want about 2s", dur)
	}

	// A payload full of markup is shown as text: no script runs, no
	// element is made from it.
	must(t, "open the markup event", chromedp.Do(ctx, chromedp.Navigate(h.base+"/events/"+xss)))
	if title := browse(t, ctx, "title", chromedp.Title()); title != "Event "+xss+" · voicehook" {
		t.Errorf("title %q: the payload ran as script", title)
	}
	payload := browse(t, ctx, "payload", chromedp.TextContent(chromedp.ID("payload")))
	if !strings.Contains(payload, `<script>document.title='pwned'</script><img src=x`) {
		t.Errorf("payload text %q lacks the markup as text", payload)
	}
	counts := browse(t, ctx, "elements", chromedp.Evaluate[map[string]int](
		`({scripts: document.querySelectorAll('script').length, payloadElements: document.querySelectorAll('#payload *').length, imgs: document.images.length})`))
	if diffCounts := (map[string]int{"scripts": 1, "payloadElements": 0, "imgs": 0}); !equalCounts(counts, diffCounts) {
		t.Errorf("elements on the markup event's page = %v, want %v", counts, diffCounts)
	}

	// The events list, filtered by status; then the whole list for the
	// screenshot.
	must(t, "events filtered", chromedp.Do(ctx, chromedp.Navigate(h.base+"/events?status=failed")))
	rows := browse(t, ctx, "rows", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#events tbody tr a.mono')].map(a => a.getAttribute('href'))`))
	if len(rows) != 1 || rows[0] != "/events/"+failed {
		t.Errorf("failed events listed: %v, want only %s", rows, failed)
	}
	must(t, "events", chromedp.Do(ctx, chromedp.Navigate(h.base+"/events"), chromedp.WaitVisible(chromedp.ID("events"))))
	if n := browse(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll('#events tbody tr').length`)); n != 3 {
		t.Errorf("%d events listed, want 3", n)
	}
	if os.Getenv("VOICEHOOK_SCREENSHOT") == "1" {
		png := browse(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		out := filepath.Join("..", "..", "docs", "events-page.png")
		must(t, "mkdir docs", os.MkdirAll(filepath.Dir(out), 0o755))
		must(t, "write screenshot", os.WriteFile(out, png, 0o644))
		t.Logf("wrote %s (%d bytes)", out, len(png))
	}

	// Overview: nothing waits, nothing is dead any more.
	must(t, "overview", chromedp.Do(ctx, chromedp.Navigate(h.base+"/")))
	if n := browse(t, ctx, "dead count", chromedp.Text(chromedp.ID("dead-count"))); n != "0" {
		t.Errorf("overview dead count %q, want 0", n)
	}

	// Sign out: the pages send the browser to sign in again.
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form.signout button`)))
	must(t, "sign out", err)
	must(t, "events after sign-out", chromedp.Do(ctx, chromedp.Navigate(h.base+"/events"), chromedp.WaitVisible(chromedp.CSS(`input[name=token]`))))
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

var formTokenRE = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)

// TestAdminCrossSiteAndEscaping checks over plain HTTP what a browser does
// not let a test send: a cross-site POST with a valid session and form
// token is refused, and the payload is escaped in the HTML itself.
func TestAdminCrossSiteAndEscaping(t *testing.T) {
	h := setup(t, "sqlite", func(c *config) { c.AdminToken = adminTestToken; c.MaxAttempts = 2 })
	_, a := h.deliver("", []byte(xssPayload))
	ev := h.adminWaitEvent(a.EventID, "ignored", "failed", "succeeded")

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(h.base + path)
		must(t, "GET "+path, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values, headers map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", h.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		must(t, "POST "+path, err)
		resp.Body.Close()
		return resp
	}
	token := func(body string) string {
		t.Helper()
		m := formTokenRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no form token in:\n%.500s", body)
		}
		return m[1]
	}

	// Sign in as a browser would.
	code, body := get("/login")
	if code != 200 {
		t.Fatalf("GET /login: %d", code)
	}
	same := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": h.base}
	if r := post("/login", url.Values{"csrf_token": {token(body)}, "token": {adminTestToken}, "next": {"/events"}}, same); r.StatusCode != 303 {
		t.Fatalf("sign in: %d", r.StatusCode)
	}

	// The payload is text in the HTML.
	code, body = get("/events/" + ev.ID)
	if code != 200 {
		t.Fatalf("event page: %d", code)
	}
	if strings.Contains(body, "<script>document") || strings.Contains(body, "<img src=x") {
		t.Errorf("the payload's markup is in the page unescaped")
	}
	if !strings.Contains(body, "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;img src=x") {
		t.Errorf("the page lacks the escaped payload:\n%s", body)
	}
	form := url.Values{"csrf_token": {token(body)}}

	// Cross-site POSTs are refused, whatever they carry.
	for name, headers := range map[string]map[string]string{
		"Sec-Fetch-Site cross-site":     {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
		"Sec-Fetch-Site same-site":      {"Sec-Fetch-Site": "same-site", "Origin": "http://sub.localhost:1"},
		"foreign Origin (old browser)":  {"Origin": "http://evil.example"},
		"no form token but same-origin": nil,
	} {
		f := form
		if headers == nil {
			f, headers = url.Values{}, same
		}
		if r := post("/events/"+ev.ID+"/replay", f, headers); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: replay answered %d, want 403", name, r.StatusCode)
		}
	}
	if got := h.adminWaitEvent(ev.ID, "ignored", "failed", "succeeded"); got.Attempts != ev.Attempts {
		t.Errorf("a refused POST replayed the event: attempts %d → %d", ev.Attempts, got.Attempts)
	}

	// The same POST from the page itself replays.
	r := post("/events/"+ev.ID+"/replay", form, same)
	if r.StatusCode != 303 || r.Header.Get("Location") != "/events/"+ev.ID+"?msg=replaying" {
		t.Fatalf("same-origin replay: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// Pressed again before the worker took it: a message, not an error.
	r = post("/events/"+ev.ID+"/replay", form, same)
	if loc := r.Header.Get("Location"); r.StatusCode != 303 || (loc != "/events/"+ev.ID+"?msg=in_progress" && loc != "/events/"+ev.ID+"?msg=replaying") {
		t.Fatalf("second replay: %d %s", r.StatusCode, loc)
	}
	code, body = get("/events/" + ev.ID + "?msg=in_progress")
	if code != 200 || !strings.Contains(body, "still being processed") {
		t.Errorf("in-progress message: %d", code)
	}
	if got := h.adminWaitEvent(ev.ID, "ignored", "failed", "succeeded"); got.Attempts <= ev.Attempts {
		t.Errorf("replay did not process the event again: attempts %d", got.Attempts)
	}

	// Metrics computed at scrape time are there.
	req, _ := http.NewRequest("GET", h.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminTestToken) // --admin-token guards /metrics too
	resp, err := http.DefaultClient.Do(req)
	must(t, "GET /metrics", err)
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"voicehook_queue_depth 0", "voicehook_oldest_unprocessed_age_seconds 0", "voicehook_store_up 1", "voicehook_attempts_total "} {
		if !strings.Contains(string(m), name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
}
