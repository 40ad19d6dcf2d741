package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook/internal/tracing/tracingtest"
)

// headerRecorder answers 204 and keeps each request's traceparent.
type headerRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newHeaderRecorder(t *testing.T) *headerRecorder {
	h := &headerRecorder{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen = append(h.seen, r.Header.Get("Traceparent"))
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *headerRecorder) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[len(h.seen)-1]
}

func get(t *testing.T, ctx context.Context, c *http.Client, url string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestTransportSendsTraceparentWithinATrace(t *testing.T) {
	t.Parallel()
	col := tracingtest.New(t)
	tr, err := Setup(context.Background(), Config{Endpoint: col.URL, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	dst := newHeaderRecorder(t)
	client := tr.Client(&http.Client{})

	ctx, root := tr.StartRoot(context.Background(), "attempt")
	get(t, ctx, client, dst.URL+"/audio.mp3")
	root.End()
	sent := dst.last()
	sc, ok := ParseTraceParent(sent)
	if !ok || sc.TraceID() != root.SpanContext().TraceID() {
		t.Fatalf("traceparent %q is not of the trace %s", sent, root.SpanContext().TraceID())
	}

	// Outside any trace the request goes out untouched, and no span starts.
	get(t, context.Background(), client, dst.URL+"/other")
	if got := dst.last(); got != "" {
		t.Errorf("traceparent %q sent outside any trace", got)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := col.Spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the root and one client span:\n%s", len(spans), tracingtest.Dump(spans))
	}
	cl := spans[1]
	if cl.Kind != "client" || cl.ParentID != root.SpanContext().SpanID().String() || !strings.HasPrefix(cl.Name, "GET 127.0.0.1:") {
		t.Errorf("client span = %+v", cl)
	}
	if cl.SpanID != sc.SpanID().String() {
		t.Errorf("the traceparent sent names span %s, not the client span %s", sc.SpanID(), cl.SpanID)
	}

	// Off: nothing is wrapped, so no header goes out even within a ctx
	// that carries a (foreign) span.
	off, _ := Setup(context.Background(), Config{Getenv: env(nil)})
	get(t, ctx, off.Client(&http.Client{}), dst.URL+"/off")
	if got := dst.last(); got != "" {
		t.Errorf("traceparent %q sent with tracing off", got)
	}
}

func TestServerSpanIsANewRootLinkingTheSendersTrace(t *testing.T) {
	t.Parallel()
	col := tracingtest.New(t)
	tr, err := Setup(context.Background(), Config{Endpoint: col.URL, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var inHandler []trace.SpanContext
	var mu sync.Mutex
	h := tr.Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inHandler = append(inHandler, trace.SpanContextFromContext(r.Context()))
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}), func(r *http.Request) bool { return r.Method == "POST" && r.URL.Path == "/webhooks/elevenlabs" })
	srv := httptest.NewServer(h)
	defer srv.Close()

	const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	req, _ := http.NewRequest("POST", srv.URL+"/webhooks/elevenlabs", strings.NewReader("{}"))
	req.Header.Set("Traceparent", incoming)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := col.Spans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want one for the delivery alone:\n%s", len(spans), tracingtest.Dump(spans))
	}
	s := spans[0]
	if s.Name != "POST /webhooks/elevenlabs" || s.Kind != "server" || s.ParentID != "" || s.TraceID == "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("server span = %+v", s)
	}
	if len(s.Links) != 1 || s.Links[0] != "0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331" {
		t.Errorf("links = %v, want the sender's span", s.Links)
	}
	if !s.Failed || s.Attrs["http.response.status_code"] != "503" {
		t.Errorf("a 503 delivery's span: failed=%v attrs=%v", s.Failed, s.Attrs)
	}
	if len(inHandler) != 2 || inHandler[0].SpanID().String() != s.SpanID || inHandler[1].IsValid() {
		t.Errorf("spans seen by the handler: %v", inHandler)
	}
}

type closeCounter struct {
	http.RoundTripper
	closed int
}

func (c *closeCounter) CloseIdleConnections() { c.closed++ }

// A wrapped transport still closes its connections: a download's client
// closes its own fresh transport through the wrapper.
func TestTransportPassesCloseIdleConnectionsOn(t *testing.T) {
	t.Parallel()
	col := tracingtest.New(t)
	tr, err := Setup(context.Background(), Config{Endpoint: col.URL, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	base := &closeCounter{RoundTripper: http.DefaultTransport}
	(&http.Client{Transport: tr.Transport(base)}).CloseIdleConnections()
	if base.closed != 1 {
		t.Errorf("CloseIdleConnections reached the base %d times, want 1", base.closed)
	}
}
