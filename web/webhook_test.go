package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/metrics"
	"github.com/voicehook/voicehook/voicehooktest"
)

const hookSecret = "wsec_hook"

// hookServer is a Server whose Ingest keeps what it is given.
type hookServer struct {
	srv    *Server
	h      http.Handler
	mu     sync.Mutex
	stored []voicehook.NewEvent
}

func newHookServer(t *testing.T, mutate ...func(*Server)) *hookServer {
	t.Helper()
	hs := &hookServer{}
	clock := voicehooktest.NewClockAt(testNow)
	hs.srv = &Server{
		Verifier: &elevenlabs.Verifier{Secrets: []string{hookSecret}, Clock: clock},
		Tokens:   NewTokens([]byte("0123456789abcdef")),
		Ingest: func(ctx context.Context, ev voicehook.NewEvent) voicehook.IngestResult {
			hs.mu.Lock()
			defer hs.mu.Unlock()
			hs.stored = append(hs.stored, ev)
			return voicehook.IngestResult{EventID: ev.ID}
		},
		Inbox: newFakeStore(), Records: fakeRecords{}, Metrics: metrics.New(),
		PublicURL: "https://hooks.example", MaxBodyBytes: 1 << 20, Clock: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mutate {
		m(hs.srv)
	}
	hs.h = hs.srv.Handler()
	return hs
}

func (hs *hookServer) post(segment, token, sig string, body io.Reader, contentLength int64) *httptest.ResponseRecorder {
	q := url.Values{}
	if segment != "" {
		q.Set("segment_id", segment)
	}
	if token != "" {
		q.Set("token", token)
	}
	r := httptest.NewRequest(http.MethodPost, WebhookPath+"?"+q.Encode(), body)
	r.ContentLength = contentLength
	if sig != "" {
		r.Header.Set(elevenlabs.HeaderName, sig)
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	return w
}

func (hs *hookServer) storedCount() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return len(hs.stored)
}

// TestWebhookProof is who may deliver what: a delivery naming a segment
// needs that segment's token (so a captured signed delivery cannot be moved
// onto another segment), a valid token proves a delivery whatever its
// signature header says, and one without a segment is proven by its
// signature.
func TestWebhookProof(t *testing.T) {
	t.Parallel()
	body := []byte(`{"status":"completed","output":{"url":"https://audio.example/a.mp3"}}`)
	good := elevenlabs.Sign(hookSecret, testNow, body)
	bad := elevenlabs.Sign("wsec_other", testNow, body)
	tokens := NewTokens([]byte("0123456789abcdef"))
	cases := []struct {
		name                string
		optional            bool
		segment, token, sig string
		want                int
		wantMsg             string
	}{
		{name: "signed, no segment", sig: good, want: 200},
		{name: "signed, segment and its token", segment: "s1", token: tokens.For("s1"), sig: good, want: 200},
		{name: "token alone (Studio callback)", segment: "s1", token: tokens.For("s1"), want: 200},
		{name: "valid token beats a bad signature", segment: "s1", token: tokens.For("s1"), sig: bad, want: 200},
		{name: "valid token beats a malformed signature", segment: "s1", token: tokens.For("s1"), sig: "t=x", want: 200},
		{name: "captured signed delivery replayed onto a segment", segment: "s2", sig: good, want: 401, wantMsg: "callback token"},
		{name: "token of another segment", segment: "s2", token: tokens.For("s1"), sig: good, want: 401, wantMsg: "invalid callback token"},
		{name: "token without segment", token: tokens.For("s1"), sig: good, want: 401, wantMsg: "segment_id"},
		{name: "nothing", want: 401, wantMsg: "missing"},
		{name: "bad signature, no segment", sig: bad, want: 401, wantMsg: "does not match"},
		{name: "optional: signature alone names a segment", optional: true, segment: "s2", sig: good, want: 200},
		{name: "optional: bad token falls back to the signature", optional: true, segment: "s2", token: "00", sig: good, want: 200},
		{name: "optional: bad token and bad signature", optional: true, segment: "s2", token: "00", sig: bad, want: 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hs := newHookServer(t, func(s *Server) { s.SegmentTokenOptional = tc.optional })
			w := hs.post(tc.segment, tc.token, tc.sig, bytes.NewReader(body), int64(len(body)))
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.wantMsg) {
				t.Fatalf("answered %d %s, want %d with %q", w.Code, w.Body.String(), tc.want, tc.wantMsg)
			}
			if stored := hs.storedCount(); stored != map[bool]int{true: 1, false: 0}[tc.want == 200] {
				t.Fatalf("stored %d events", stored)
			}
		})
	}
}

// TestWebhookStoresNoSignatureValue: operators see that the signature was
// present and valid, never its value (which would let anyone who can read
// the pages replay the delivery).
func TestWebhookStoresNoSignatureValue(t *testing.T) {
	t.Parallel()
	hs := newHookServer(t)
	body := []byte(`{"status":"completed"}`)
	sig := elevenlabs.Sign(hookSecret, testNow, body)
	if w := hs.post("", "", sig, bytes.NewReader(body), int64(len(body))); w.Code != 200 {
		t.Fatalf("delivery: %d %s", w.Code, w.Body.String())
	}
	got := hs.stored[0].Headers[elevenlabs.HeaderName]
	if got != "present, valid" {
		t.Fatalf("stored signature header = %q", got)
	}
	// Events stored before this change kept the value: it is not shown.
	old := map[string]string{elevenlabs.HeaderName: sig, "User-Agent": "x"}
	want := map[string]string{elevenlabs.HeaderName: "present, valid", "User-Agent": "x"}
	if diff := cmp.Diff(want, shownHeaders(old)); diff != "" {
		t.Fatalf("shown headers (-want +got):\n%s", diff)
	}
	if old[elevenlabs.HeaderName] != sig {
		t.Fatal("shownHeaders changed its argument")
	}
}

// blockingBody fails the test if read: the handler must answer from the
// headers alone.
type blockingBody struct {
	t    *testing.T
	read chan struct{}
}

func (b *blockingBody) Read(p []byte) (int, error) {
	close(b.read)
	b.t.Error("body read although the headers already decided")
	return 0, io.ErrUnexpectedEOF
}

// TestWebhookRefusesBeforeReading: a delivery the headers cannot prove, or
// that declares a body over the limit, is answered without reading a byte.
func TestWebhookRefusesBeforeReading(t *testing.T) {
	t.Parallel()
	stale := elevenlabs.Sign(hookSecret, testNow.Add(-time.Hour), []byte("{}"))
	fresh := elevenlabs.Sign(hookSecret, testNow, []byte("{}"))
	cases := []struct {
		name, segment, sig string
		length             int64
		want               int
	}{
		{"no header, no token", "", "", 100, 401},
		{"stale header", "", stale, 100, 401},
		{"malformed header", "", "v0=zz", 100, 401},
		{"segment without token", "s1", fresh, 100, 401},
		{"declared length over the limit", "", fresh, 2 << 20, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hs := newHookServer(t)
			w := hs.post(tc.segment, "", tc.sig, &blockingBody{t: t, read: make(chan struct{})}, tc.length)
			if w.Code != tc.want {
				t.Fatalf("answered %d %s, want %d", w.Code, w.Body.String(), tc.want)
			}
		})
	}
}

// TestWebhookBodyBudget: bodies in flight share one memory budget. A large
// body that would pass it is answered 503 with Retry-After and frees what it
// held; a small delivery is still served meanwhile (each body's first chunk
// is free), and the budget is whole again afterwards.
func TestWebhookBodyBudget(t *testing.T) {
	t.Parallel()
	budget := NewBodyBudget(4 * bodyChunk)
	hs := newHookServer(t, func(s *Server) { s.Bodies = budget })

	// A stalled upload holding most of the budget.
	held := bytes.Repeat([]byte("a"), 3*bodyChunk+10)
	pr, pw := io.Pipe()
	stalled := make(chan *httptest.ResponseRecorder)
	go func() {
		stalled <- hs.post("", "", elevenlabs.Sign(hookSecret, testNow, []byte("x")), pr, 1<<20)
	}()
	if _, err := pw.Write(held); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return budget.InUse() >= 3*bodyChunk })

	big := bytes.Repeat([]byte("b"), 3*bodyChunk)
	w := hs.post("", "", elevenlabs.Sign(hookSecret, testNow, big), bytes.NewReader(big), int64(len(big)))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("large body over the budget: %d %q %s, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body.String())
	}
	small := []byte(`{"status":"completed"}`)
	if w := hs.post("", "", elevenlabs.Sign(hookSecret, testNow, small), bytes.NewReader(small), int64(len(small))); w.Code != 200 {
		t.Fatalf("small delivery while the budget is full: %d %s", w.Code, w.Body.String())
	}
	if hs.storedCount() != 1 {
		t.Fatalf("stored %d events, want only the small one", hs.storedCount())
	}

	pw.CloseWithError(io.ErrUnexpectedEOF) // the stalled sender gives up
	if w := <-stalled; w.Code != 400 {
		t.Fatalf("broken upload: %d", w.Code)
	}
	if n := budget.InUse(); n != 0 {
		t.Fatalf("budget in use after every request ended: %d", n)
	}
	// A large genuine body fits once the budget is free.
	if w := hs.post("", "", elevenlabs.Sign(hookSecret, testNow, big), bytes.NewReader(big), int64(len(big))); w.Code != 200 {
		t.Fatalf("large body with the budget free: %d %s", w.Code, w.Body.String())
	}
	if got := hs.stored[1].RawPayload; !bytes.Equal(got, big) {
		t.Fatalf("stored body differs (%d bytes, want %d)", len(got), len(big))
	}
	if n := budget.InUse(); n != 0 {
		t.Fatalf("budget in use after the large body: %d", n)
	}
}

// TestReadBodyChunks: bodies of every length around the chunk size come out
// whole and hashed exactly once.
func TestReadBodyChunks(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, bodyChunk - 1, bodyChunk, bodyChunk + 1, 3*bodyChunk + 7} {
		for _, declared := range []bool{true, false} {
			body := bytes.Repeat([]byte{'z'}, n)
			for i := range body {
				body[i] = byte(i)
			}
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.ContentLength = -1
			if declared {
				r.ContentLength = int64(n)
			}
			budget := NewBodyBudget(16 * bodyChunk)
			var sink bytes.Buffer
			got, release, err := readBody(httptest.NewRecorder(), r, 1<<20, budget, &sink)
			if err != nil {
				t.Fatalf("n=%d declared=%v: %v", n, declared, err)
			}
			if !bytes.Equal(got, body) || !bytes.Equal(sink.Bytes(), body) {
				t.Fatalf("n=%d declared=%v: body %d bytes, hashed %d", n, declared, len(got), sink.Len())
			}
			release()
			if budget.InUse() != 0 {
				t.Fatalf("n=%d: budget not released: %d", n, budget.InUse())
			}
		}
	}
}

// TestCallbackURLForAnySegment: the API gives a segment's callback URL
// whether or not the segment is recorded yet.
func TestCallbackURLForAnySegment(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testToken, "https://hooks.example")
	w := ts.do("GET", "/api/segments/seg%20new/callback-url", reqOpts{bearer: true})
	var reply map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil || w.Code != 200 {
		t.Fatalf("callback-url: %d %s", w.Code, w.Body.String())
	}
	want := "https://hooks.example" + WebhookPath + "?segment_id=seg+new&token=" + ts.srv.Tokens.For("seg new")
	if reply["callback_url"] != want {
		t.Fatalf("callback_url = %q, want %q", reply["callback_url"], want)
	}
	w = ts.do("GET", "/api/segments/missing", reqOpts{bearer: true})
	reply = nil
	_ = json.Unmarshal(w.Body.Bytes(), &reply)
	if w.Code != 404 || reply["callback_url"] != ts.srv.callbackURL("missing") {
		t.Fatalf("unknown segment: %d %s, want 404 carrying its callback_url", w.Code, w.Body.String())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
