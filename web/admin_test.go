package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/metrics"
	"github.com/voicehook/voicehook/voicehooktest"
)

var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// fakeStore is an in-memory Store with the overview query.
type fakeStore struct {
	mu       sync.Mutex
	events   map[string]voicehook.Event
	attempts map[string][]voicehook.Attempt
	replayed []string
	down     bool
}

func (f *fakeStore) Event(ctx context.Context, id string) (voicehook.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return voicehook.Event{}, voicehook.ErrUnavailable
	}
	ev, ok := f.events[id]
	if !ok {
		return ev, fmt.Errorf("event %s: %w", id, voicehook.ErrNotFound)
	}
	return ev, nil
}

func (f *fakeStore) ListEvents(ctx context.Context, flt voicehook.EventFilter) ([]voicehook.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, voicehook.ErrUnavailable
	}
	var out []voicehook.Event
	for _, ev := range f.events {
		if (flt.Status == "" || ev.Status == flt.Status) && (flt.SegmentID == "" || ev.SegmentID == flt.SegmentID) &&
			(flt.Type == "" || ev.Type == flt.Type) && (flt.Since.IsZero() || !ev.ReceivedAt.Before(flt.Since)) &&
			(flt.Until.IsZero() || ev.ReceivedAt.Before(flt.Until)) && (flt.BeforeID == "" || ev.ID < flt.BeforeID) {
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b voicehook.Event) int { return strings.Compare(b.ID, a.ID) })
	if flt.Limit > 0 && len(out) > flt.Limit {
		out = out[:flt.Limit]
	}
	return out, nil
}

func (f *fakeStore) Attempts(ctx context.Context, id string) ([]voicehook.Attempt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[id], nil
}

func (f *fakeStore) Replay(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev, ok := f.events[id]
	switch {
	case f.down:
		return voicehook.ErrUnavailable
	case !ok:
		return voicehook.ErrNotFound
	case ev.Status == voicehook.EventReceived:
		return voicehook.ErrInProgress
	}
	ev.Status = voicehook.EventReceived
	f.events[id] = ev
	f.replayed = append(f.replayed, id)
	return nil
}

func (f *fakeStore) Ping(ctx context.Context) error { return nil }

func (f *fakeStore) Ingest(ctx context.Context, events []voicehook.NewEvent) []voicehook.IngestResult {
	panic("the admin pages ingest nothing")
}

func (f *fakeStore) PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	panic("the admin pages purge nothing")
}

func (f *fakeStore) Overview(ctx context.Context, now time.Time) (voicehook.Overview, error) {
	return voicehook.Overview{At: now, LastHour: map[voicehook.EventStatus]int{"succeeded": 4, "dead": 1}, LastDay: map[voicehook.EventStatus]int{"succeeded": 40, "dead": 2},
		Received: 3, Dead: 2, OldestReceivedID: "evt_3", OldestReceivedAt: now.Add(-3 * time.Minute)}, nil
}

// fakeRecords serves one job and its segment.
type fakeRecords struct{}

var (
	testJob = voicehook.Job{ID: "job_1", SegmentID: "seg_1", Type: voicehook.JobTypeVoiceover, Status: voicehook.JobProcessing,
		Timestamps: voicehook.Timestamps{Created: &testNow}}
	testSegment = voicehook.Segment{ID: "seg_1", Status: voicehook.SegmentVoiceoverReady, Voiceover: "https://media.example/seg_1.mp3",
		SHA256: "abc123", Bytes: 48213, DurationMS: 2040, UpdatedAt: testNow}
)

func (fakeRecords) CreateJob(ctx context.Context, nj voicehook.NewJob) (voicehook.Job, error) {
	return voicehook.Job{}, errors.New("not here")
}

func (fakeRecords) Job(ctx context.Context, id string) (voicehook.Job, error) {
	if id == testJob.ID {
		return testJob, nil
	}
	return voicehook.Job{}, voicehook.ErrNotFound
}

func (fakeRecords) Segment(ctx context.Context, id string) (voicehook.Segment, error) {
	if id == testSegment.ID {
		return testSegment, nil
	}
	return voicehook.Segment{}, voicehook.ErrNotFound
}

func (fakeRecords) ListJobs(ctx context.Context, f voicehook.JobFilter) ([]voicehook.Job, error) {
	if (f.Status == "" || f.Status == testJob.Status) && (f.SegmentID == "" || f.SegmentID == testJob.SegmentID) {
		return []voicehook.Job{testJob}, nil
	}
	return nil, nil
}

func (fakeRecords) FindJob(ctx context.Context, q voicehook.JobQuery) (voicehook.Job, error) {
	return voicehook.Job{}, voicehook.ErrNotFound
}

func (fakeRecords) FinishJob(ctx context.Context, job voicehook.Job, end voicehook.JobEnd) error {
	return nil
}

func (r fakeRecords) CountJobs(ctx context.Context, status voicehook.JobStatus, upTo int) (int, error) {
	jobs, err := r.ListJobs(ctx, voicehook.JobFilter{Status: status})
	return min(len(jobs), upTo), err
}

func (fakeRecords) Check(ctx context.Context) error { return nil }

const scriptPayload = `{"type":"post_call_transcription","data":{"note":"<script>document.title='pwned'</script>","n":1}}`

func newFakeStore() *fakeStore {
	ev := func(id string, status voicehook.EventStatus, segment, errText string, payload string) voicehook.Event {
		return voicehook.Event{ID: id, Service: voicehook.ServiceElevenLabs, Endpoint: WebhookPath, Type: "speech.completed",
			SegmentID: segment, Status: status, RawPayload: []byte(payload), ReceivedAt: testNow.Add(-time.Minute),
			ErrorDetails: errText, Headers: map[string]string{"Content-Type": "application/json", "User-Agent": "<b>agent</b>"}}
	}
	dead := ev("evt_1", voicehook.EventDead, "seg_1", "gave up after 2 attempts: fetching audio: 500", `{"status":"completed","output":{"url":"http://a/x.mp3"}}`)
	dead.RelatedJob = "job_1"
	return &fakeStore{
		events: map[string]voicehook.Event{
			"evt_1": dead,
			"evt_2": ev("evt_2", voicehook.EventDead, "seg_1", "gave up", `{}`),
			"evt_3": ev("evt_3", voicehook.EventReceived, "seg_<i>x</i>", "", `{}`),
			"evt_4": ev("evt_4", voicehook.EventIgnored, "", "", scriptPayload),
		},
		attempts: map[string][]voicehook.Attempt{"evt_1": {
			{EventID: "evt_1", Attempt: 1, StartedAt: testNow, FinishedAt: testNow.Add(30 * time.Millisecond), Outcome: "retry", Error: "fetching audio: 500 Internal Server Error"},
			{EventID: "evt_1", Attempt: 2, StartedAt: testNow, FinishedAt: testNow.Add(20 * time.Millisecond), Outcome: "dead", Error: "fetching audio: 502 Bad Gateway"},
		}},
	}
}

const testToken = "s3cret-admin"

type testServer struct {
	srv   *Server
	store *fakeStore
	h     http.Handler
	woken int
	// session is the cookie reqOpts.session sends: one signed-in session
	// per test server, so form tokens read from one page fit the next POST.
	session string
}

func newTestServer(t *testing.T, token, publicURL string) *testServer {
	t.Helper()
	ts := &testServer{store: newFakeStore()}
	ts.srv = &Server{
		Inbox: ts.store, Records: fakeRecords{}, Wake: func() { ts.woken++ }, Metrics: metrics.New(),
		AdminToken: token, PublicURL: publicURL, Clock: voicehooktest.NewClockAt(testNow), Tokens: NewTokens([]byte("0123456789abcdef")),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ts.h = ts.srv.Handler()
	return ts
}

// reqOpts shape a request in these tests.
type reqOpts struct {
	remote  string // RemoteAddr; loopback by default
	host    string // Host; localhost:8080 by default
	session bool   // carry the session cookie
	bearer  bool
	headers map[string]string
	cookies []*http.Cookie
	form    url.Values
}

func (ts *testServer) do(method, target string, o reqOpts) *httptest.ResponseRecorder {
	var body io.Reader
	if o.form != nil {
		body = strings.NewReader(o.form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	r.RemoteAddr, r.Host = "127.0.0.1:40000", "localhost:8080"
	if o.remote != "" {
		r.RemoteAddr = o.remote
	}
	if o.host != "" {
		r.Host = o.host
	}
	if o.form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if o.session {
		if ts.session == "" {
			ts.session = ts.srv.newSessionValue()
		}
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: ts.session})
	}
	if o.bearer {
		r.Header.Set("Authorization", "Bearer "+testToken)
	}
	for _, c := range o.cookies {
		r.AddCookie(c)
	}
	for k, v := range o.headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	ts.h.ServeHTTP(w, r)
	return w
}

// csrfToken reads the form token from a page.
var csrfRE = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)

func csrfFrom(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf_token in page:\n%.600s", body)
	}
	return m[1]
}

func TestAdminAccess(t *testing.T) {
	type result struct {
		Code     int
		Location string
	}
	cases := []struct {
		name   string
		token  string
		method string
		path   string
		o      reqOpts
		want   result
	}{
		{"no token, loopback", "", "GET", "/", reqOpts{}, result{200, ""}},
		{"no token, loopback ipv6", "", "GET", "/events", reqOpts{remote: "[::1]:5000", host: "[::1]:8080"}, result{200, ""}},
		{"no token, remote client", "", "GET", "/", reqOpts{remote: "203.0.113.5:4000"}, result{403, ""}},
		{"no token, rebinding host", "", "GET", "/events", reqOpts{host: "evil.example:8080"}, result{403, ""}},
		{"no token, login redirects home", "", "GET", "/login", reqOpts{}, result{303, "/"}},
		{"token, no session", testToken, "GET", "/events?status=dead", reqOpts{}, result{303, "/login?next=%2Fevents%3Fstatus%3Ddead"}},
		{"token, no session, even loopback", testToken, "GET", "/", reqOpts{}, result{303, "/login?next=%2F"}},
		{"token, session", testToken, "GET", "/events", reqOpts{session: true, remote: "203.0.113.5:4000", host: "hooks.example.com"}, result{200, ""}},
		{"token, wrong session", testToken, "GET", "/", reqOpts{cookies: []*http.Cookie{{Name: sessionCookie, Value: "forged"}}}, result{303, "/login?next=%2F"}},
		{"token, bearer", testToken, "GET", "/dead", reqOpts{bearer: true}, result{200, ""}},
		{"token, POST without session", testToken, "POST", "/events/evt_1/replay", reqOpts{form: url.Values{}}, result{401, ""}},
		{"token, signed in, at login", testToken, "GET", "/login?next=/jobs", reqOpts{session: true}, result{303, "/jobs"}},
		{"static without session", testToken, "GET", "/static/style.css", reqOpts{}, result{200, ""}},
		{"no static listing", testToken, "GET", "/static/", reqOpts{}, result{404, ""}},
		{"API still JSON 401", testToken, "GET", "/api/events", reqOpts{}, result{401, ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t, c.token, "http://localhost:8080")
			w := ts.do(c.method, c.path, c.o)
			got := result{w.Code, w.Header().Get("Location")}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s\n%.300s", c.method, c.path, diff, w.Body.String())
			}
			if strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") && w.Header().Get("Content-Security-Policy") == "" {
				t.Error("an admin page without a Content-Security-Policy")
			}
		})
	}
}

func TestAdminPages(t *testing.T) {
	cases := []struct {
		path string
		code int
		want []string
	}{
		{"/", 200, []string{`id="queue-depth">3<`, `id="dead-count">2<`, "3m 0s", `href="/events/evt_3"`, "job processing"}},
		{"/events", 200, []string{`href="/events/evt_1"`, `href="/events/evt_4"`, "gave up after 2 attempts", `<option value="dead">`}},
		{"/events?status=dead", 200, []string{`href="/events/evt_1"`, `<option value="dead" selected>`}},
		{"/events?status=bogus", 400, []string{"Check the filter: status"}},
		{"/events?since=yesterday", 400, []string{"Check the filter: since", `value="yesterday"`}},
		{"/events?since=2025-03-14T15:00&segment=seg_1", 200, []string{`value="2025-03-14T15:00"`, `href="/events/evt_1"`}},
		{"/events/evt_1", 200, []string{
			`id="status">dead<`, "gave up after 2 attempts", "fetching audio: 502 Bad Gateway", `id="job-status">processing<`,
			`href="/segments/seg_1"`, `id="replay"`, "&#34;url&#34;: &#34;http://a/x.mp3&#34;", "&lt;b&gt;agent&lt;/b&gt;",
		}},
		{"/events/evt_nope", 404, []string{"No event by that id."}},
		{"/events/evt_1?msg=in_progress", 200, []string{"still being processed"}},
		{"/jobs", 200, []string{"job_1", `href="/segments/seg_1"`}},
		{"/jobs?status=completed", 200, []string{"No jobs."}},
		{"/jobs?status=nope", 400, []string{"Check the filter"}},
		{"/segments/seg_1", 200, []string{`<audio controls preload="metadata" src="https://media.example/seg_1.mp3"`, "2.0 s", "47.1 KiB", "abc123"}},
		{"/segments/nope", 404, []string{"No segment by that id."}},
		{"/dead", 200, []string{`name="id" value="evt_1"`, `name="id" value="evt_2"`, "Replay all 2 shown"}},
		{"/dead?msg=replayed_all&n=2&skipped=%3Cscript%3E", 200, []string{"2 dead events queued again."}},
	}
	ts := newTestServer(t, testToken, "http://localhost:8080")
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			w := ts.do("GET", c.path, reqOpts{session: true})
			body := w.Body.String()
			if w.Code != c.code {
				t.Errorf("code = %d, want %d\n%.500s", w.Code, c.code, body)
			}
			for _, s := range c.want {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, "<i>") {
				t.Errorf("page carries unescaped markup from data")
			}
		})
	}
}

func TestStoreDownShowsAPage(t *testing.T) {
	ts := newTestServer(t, "", "")
	ts.store.down = true
	w := ts.do("GET", "/events", reqOpts{})
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "Store unavailable") {
		t.Errorf("store down: %d %.300s", w.Code, w.Body.String())
	}
}

func TestPayloadRendersAsText(t *testing.T) {
	ts := newTestServer(t, "", "")
	w := ts.do("GET", "/events/evt_4", reqOpts{})
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("code %d", w.Code)
	}
	if strings.Contains(body, "<script>document") {
		t.Errorf("the payload's <script> is in the page as markup")
	}
	if want := `&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;`; !strings.Contains(body, want) {
		t.Errorf("page lacks the escaped payload %q", want)
	}
	// The only script is the page's own file.
	if n := strings.Count(body, "<script"); n != 1 || !strings.Contains(body, `<script src="/static/app.js" defer></script>`) {
		t.Errorf("%d script tags in the page", n)
	}
}

func TestReplayForm(t *testing.T) {
	ts := newTestServer(t, testToken, "https://hooks.example.com")
	page := ts.do("GET", "/events/evt_1", reqOpts{session: true}).Body.String()
	tok := csrfFrom(t, page)
	form := url.Values{"csrf_token": {tok}}
	type result struct {
		Code     int
		Location string
	}
	cases := []struct {
		name string
		path string
		o    reqOpts
		want result
	}{
		{"cross-site by Sec-Fetch-Site", "/events/evt_1/replay", reqOpts{session: true, form: form,
			headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}}, result{403, ""}},
		{"same-site is not same-origin", "/events/evt_1/replay", reqOpts{session: true, form: form,
			headers: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://evil.hooks.example.com"}}, result{403, ""}},
		{"foreign Origin, old browser", "/events/evt_1/replay", reqOpts{session: true, form: form, host: "hooks.example.com",
			headers: map[string]string{"Origin": "https://evil.example"}}, result{403, ""}},
		{"no form token", "/events/evt_1/replay", reqOpts{session: true, form: url.Values{},
			headers: map[string]string{"Sec-Fetch-Site": "same-origin"}}, result{403, ""}},
		{"wrong form token", "/events/evt_1/replay", reqOpts{session: true, form: url.Values{"csrf_token": {strings.Repeat("0", 64)}},
			headers: map[string]string{"Sec-Fetch-Site": "same-origin"}}, result{403, ""}},
		{"same-origin", "/events/evt_1/replay", reqOpts{session: true, form: form,
			headers: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://hooks.example.com"}}, result{303, "/events/evt_1?msg=replaying"}},
		{"in flight: a message, not an error", "/events/evt_1/replay", reqOpts{session: true, form: form,
			headers: map[string]string{"Sec-Fetch-Site": "same-origin"}}, result{303, "/events/evt_1?msg=in_progress"}},
		{"public URL origin behind a proxy", "/events/evt_2/replay", reqOpts{session: true, form: form, host: "10.0.0.5:8080",
			headers: map[string]string{"Origin": "https://hooks.example.com"}}, result{303, "/events/evt_2?msg=replaying"}},
		{"unknown event", "/events/evt_nope/replay", reqOpts{session: true, form: form}, result{404, ""}},
	}
	for _, c := range cases {
		w := ts.do("POST", c.path, c.o)
		got := result{w.Code, w.Header().Get("Location")}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s%.300s", c.name, diff, w.Body.String())
		}
	}
	if diff := cmp.Diff([]string{"evt_1", "evt_2"}, ts.store.replayed); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
	if ts.woken != 2 {
		t.Errorf("queue woken %d times, want 2", ts.woken)
	}
}

func TestReplayAll(t *testing.T) {
	ts := newTestServer(t, "", "")
	page := ts.do("GET", "/dead", reqOpts{}).Body.String()
	form := url.Values{"csrf_token": {csrfFrom(t, page)}, "id": {"evt_1", "evt_2", "evt_3", "evt_nope"}}
	w := ts.do("POST", "/dead/replay", reqOpts{form: form, headers: map[string]string{"Sec-Fetch-Site": "same-origin"}})
	if w.Code != 303 || w.Header().Get("Location") != "/dead?msg=replayed_all&n=2&skipped=2" {
		t.Fatalf("replay all: %d %s", w.Code, w.Header().Get("Location"))
	}
	if diff := cmp.Diff([]string{"evt_1", "evt_2"}, ts.store.replayed); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
	body := ts.do("GET", w.Header().Get("Location"), reqOpts{}).Body.String()
	if !strings.Contains(body, "2 dead events queued again. 2 were skipped") {
		t.Errorf("no summary on the dead page:\n%.800s", body)
	}
	// A form from another server's key does not pass.
	other := newTestServer(t, "", "")
	if w := other.do("POST", "/dead/replay", reqOpts{form: form}); w.Code != 403 {
		t.Errorf("another process's form token: %d", w.Code)
	}
}

func TestLogin(t *testing.T) {
	ts := newTestServer(t, testToken, "https://hooks.example.com")
	w := ts.do("GET", "/login?next=/events/evt_1", reqOpts{host: "hooks.example.com"})
	if w.Code != 200 {
		t.Fatalf("login form: %d", w.Code)
	}
	var nonce *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == loginCookie {
			nonce = c
		}
	}
	if nonce == nil {
		t.Fatal("no login cookie")
	}
	page := w.Body.String()
	tok := csrfFrom(t, page)
	if !strings.Contains(page, `name="next" value="/events/evt_1"`) || !strings.Contains(page, `name="token"`) {
		t.Fatalf("login form:\n%s", page)
	}
	post := func(token, next string, cookies []*http.Cookie, headers map[string]string) *httptest.ResponseRecorder {
		return ts.do("POST", "/login", reqOpts{host: "hooks.example.com", cookies: cookies, headers: headers,
			form: url.Values{"csrf_token": {tok}, "token": {token}, "next": {next}}})
	}
	same := map[string]string{"Sec-Fetch-Site": "same-origin"}
	if w := post("wrong", "/", []*http.Cookie{nonce}, same); w.Code != 401 || !strings.Contains(w.Body.String(), "Wrong admin token") {
		t.Errorf("wrong token: %d", w.Code)
	}
	if w := post(testToken, "/", nil, same); w.Code != 403 {
		t.Errorf("no login cookie: %d", w.Code)
	}
	if w := post(testToken, "/", []*http.Cookie{nonce}, map[string]string{"Sec-Fetch-Site": "cross-site"}); w.Code != 403 {
		t.Errorf("cross-site sign-in: %d", w.Code)
	}
	for next, want := range map[string]string{"/events/evt_1": "/events/evt_1", "//evil.example/": "/", "https://evil.example": "/", "/\\evil": "/"} {
		w := post(testToken, next, []*http.Cookie{nonce}, same)
		if w.Code != 303 || w.Header().Get("Location") != want {
			t.Errorf("sign in with next %q: %d %q, want 303 %q", next, w.Code, w.Header().Get("Location"), want)
		}
	}
	w = post(testToken, "/", []*http.Cookie{nonce}, same)
	type cookie struct {
		Name, Value, Path string
		HttpOnly, Secure  bool
		SameSite          http.SameSite
		MaxAge            int
	}
	var got []cookie
	for _, c := range w.Result().Cookies() {
		got = append(got, cookie{c.Name, c.Value, c.Path, c.HttpOnly, c.Secure, c.SameSite, c.MaxAge})
	}
	if len(got) > 0 {
		// A new random session each sign-in (session_test.go); here only
		// that it is one this server sealed.
		if _, ok := ts.srv.parseSession(got[0].Value); !ok {
			t.Errorf("session cookie %q is not a session of this server", got[0].Value)
		}
		if strings.Contains(got[0].Value, testToken) {
			t.Error("the session cookie holds the token")
		}
		got[0].Value = "<session>"
	}
	want := []cookie{
		{sessionCookie, "<session>", "/", true, true, http.SameSiteStrictMode, int(sessionLifetime / time.Second)},
		{loginCookie, "", "/login", true, true, http.SameSiteStrictMode, -1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cookies after sign-in (-want +got):\n%s", diff)
	}

	// Sign out: a form POST; the cookie is cleared.
	page = ts.do("GET", "/", reqOpts{session: true}).Body.String()
	w = ts.do("POST", "/logout", reqOpts{session: true, form: url.Values{"csrf_token": {csrfFrom(t, page)}}, headers: same})
	if w.Code != 303 || w.Header().Get("Location") != "/login" {
		t.Fatalf("sign out: %d %s", w.Code, w.Header().Get("Location"))
	}
	if c := w.Result().Cookies(); len(c) != 1 || c[0].Name != sessionCookie || c[0].MaxAge != -1 {
		t.Errorf("sign out cookies: %+v", c)
	}
}

func TestSessionCookieNotSecureOnHTTP(t *testing.T) {
	ts := newTestServer(t, testToken, "http://localhost:8080")
	w := ts.do("GET", "/login", reqOpts{})
	nonce := w.Result().Cookies()[0]
	w = ts.do("POST", "/login", reqOpts{cookies: []*http.Cookie{nonce},
		form: url.Values{"csrf_token": {csrfFrom(t, w.Body.String())}, "token": {testToken}}})
	c := w.Result().Cookies()
	if w.Code != 303 || len(c) == 0 || c[0].Name != sessionCookie || c[0].Secure || !c[0].HttpOnly {
		t.Fatalf("sign in over http: %d %+v", w.Code, c)
	}
}

func TestPrettyPayload(t *testing.T) {
	long := strings.Repeat("A", maxShownString+5)
	cases := []struct {
		name     string
		raw      string
		want     string
		wantNote string
	}{
		{"empty", "", "", "empty body"},
		{"object, key order kept", `{"z":1,"a":{"b":[1,2,{}],"c":[]},"s":"<b>&"}`,
			"{\n  \"z\": 1,\n  \"a\": {\n    \"b\": [\n      1,\n      2,\n      {}\n    ],\n    \"c\": []\n  },\n  \"s\": \"<b>&\"\n}", ""},
		{"scalars", `[true,false,null,1.5e3,"x"]`, "[\n  true,\n  false,\n  null,\n  1.5e3,\n  \"x\"\n]", ""},
		{"top-level string", `"hi"`, `"hi"`, ""},
		{"long string shortened", `{"full_audio":"` + long + `"}`,
			"{\n  \"full_audio\": \"" + long[:maxShownString] + "… (5 more characters)\"\n}", "JSON, 322 B; long values shortened"},
		{"not JSON", `{"status": "completed", "output": `, `{"status": "completed", "output": `, "not JSON"},
		{"binary", "\x00\xff\x01", "00000000  00 ff 01                                          |...|\n", "binary, 3 B"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, note := prettyPayload([]byte(c.raw))
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("text (-want +got):\n%s", diff)
			}
			if note != c.wantNote {
				t.Errorf("note = %q, want %q", note, c.wantNote)
			}
		})
	}
	// A huge payload is cut, not rendered whole.
	var b strings.Builder
	b.WriteString("[")
	for i := range 100000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"0123456789"`)
	}
	b.WriteString("]")
	got, note := prettyPayload([]byte(b.String()))
	if len(got) > maxShownPayload+200 || !strings.HasSuffix(got, "too large to show whole)") || note == "" {
		t.Errorf("huge payload: %d bytes shown, note %q, ends %q", len(got), note, got[len(got)-40:])
	}
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost:8080": true, "LOCALHOST": true, "127.0.0.1:1": true, "[::1]:8080": true, "127.9.9.9": true,
		"app.localhost": true, "localhost.": true, "evil.example": false, "10.0.0.5:8080": false, "": false,
		"localhost.evil.example": false, "[::ffff:127.0.0.1]:80": true,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
