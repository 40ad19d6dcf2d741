package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/tracing"
	"github.com/voicehook/voicehook/internal/tracing/tracingtest"
)

// tracedHook is a hookServer behind tracing's server span, logging at
// debug level through tracing's log handler.
func tracedHook(t *testing.T, mutate ...func(*Server)) (*hookServer, *tracing.Tracing, *tracingtest.Collector, *bytes.Buffer) {
	t.Helper()
	col := tracingtest.New(t)
	tr, err := tracing.Setup(context.Background(), tracing.Config{Endpoint: col.URL, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	hs := newHookServer(t, append(mutate, func(s *Server) {
		s.Logger = tr.Logger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	})...)
	hs.h = tr.Server(hs.h, func(r *http.Request) bool { return r.URL.Path == WebhookPath })
	return hs, tr, col, &logs
}

// The delivery's server span says what became of it, the commit runs in
// its trace, and the handler's log lines carry its trace id.
func TestDeliverySpan(t *testing.T) {
	t.Parallel()
	var ingested trace.SpanContext
	hs, tr, col, logs := tracedHook(t)
	ingest := hs.srv.Ingest
	hs.srv.Ingest = func(ctx context.Context, ev voicehook.NewEvent) voicehook.IngestResult {
		ingested = trace.SpanContextFromContext(ctx)
		return ingest(ctx, ev)
	}
	body := []byte(`{"type":"post_call_audio","data":{"conversation_id":"c1"}}`)
	if w := hs.post("", "", elevenlabs.Sign(hookSecret, testNow, body), bytes.NewReader(body), int64(len(body))); w.Code != http.StatusOK {
		t.Fatalf("delivery: %d %s", w.Code, w.Body)
	}
	if w := hs.post("", "", "t=1,v0=bad", strings.NewReader("{}"), 2); w.Code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", w.Code)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := col.Spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want one per delivery:\n%s", len(spans), tracingtest.Dump(spans))
	}
	ok, refused := spans[0], spans[1]
	evID := hs.stored[0].ID
	for k, v := range map[string]string{"voicehook.event_id": evID, "voicehook.event_type": "post_call_audio", "voicehook.duplicate": "false", "http.response.status_code": "200"} {
		if ok.Attrs[k] != v {
			t.Errorf("accepted delivery's span: %s = %q, want %q", k, ok.Attrs[k], v)
		}
	}
	if ingested.SpanID().String() != ok.SpanID {
		t.Errorf("Ingest ran in span %s, not the delivery's %s", ingested.SpanID(), ok.SpanID)
	}
	if refused.Attrs["voicehook.rejected"] == "" || refused.Attrs["http.response.status_code"] != "401" {
		t.Errorf("refused delivery's span attrs = %v", refused.Attrs)
	}
	for _, want := range []string{"event accepted\" event_id=" + evID + " segment_id=\"\" trace_id=" + ok.TraceID, "webhook rejected", "trace_id=" + refused.TraceID} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log has no %q:\n%s", want, logs)
		}
	}
}

// A delivery whose commit misses --ack-timeout says so on its span.
func TestDeliverySpanAckTimeout(t *testing.T) {
	t.Parallel()
	hs, tr, col, _ := tracedHook(t, func(s *Server) {
		s.AckTimeout = 50 * time.Millisecond
		s.Ingest = func(ctx context.Context, ev voicehook.NewEvent) voicehook.IngestResult {
			<-ctx.Done()
			return voicehook.IngestResult{Err: ctx.Err()}
		}
	})
	body := []byte(`{"type":"post_call_audio","data":{"conversation_id":"c1"}}`)
	if w := hs.post("", "", elevenlabs.Sign(hookSecret, testNow, body), bytes.NewReader(body), int64(len(body))); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("delivery: %d %s", w.Code, w.Body)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := col.Spans()
	if len(spans) != 1 {
		t.Fatalf("%d spans:\n%s", len(spans), tracingtest.Dump(spans))
	}
	s := spans[0]
	if !s.Failed || s.Attrs["voicehook.ack_timeout"] != "true" {
		t.Errorf("span: failed=%v attrs=%v", s.Failed, s.Attrs)
	}
	if len(s.Events) != 1 || s.Events[0].Name != "exception" || !strings.Contains(s.Events[0].Attrs["exception.message"], "not committed within --ack-timeout 50ms") {
		t.Errorf("span events = %+v, want the exception", s.Events)
	}
}

// The event page and GET /api/events/{id} show the delivery's trace id, to
// look the trace up by; an event without one shows none.
func TestEventShowsItsTraceID(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "", "")
	ev := ts.store.events["evt_1"]
	ev.TraceParent, ev.TraceID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "0af7651916cd43dd8448eb211c80319c"
	ts.store.events["evt_1"] = ev

	page := ts.do("GET", "/events/evt_1", reqOpts{}).Body.String()
	if !strings.Contains(page, `<dd class="mono small" id="trace-id">0af7651916cd43dd8448eb211c80319c</dd>`) {
		t.Errorf("event page shows no trace id:\n%.3000s", page)
	}
	if page := ts.do("GET", "/events/evt_2", reqOpts{}).Body.String(); strings.Contains(page, `id="trace-id"`) {
		t.Error("an event without a trace shows a trace id")
	}
	w := ts.do("GET", "/api/events/evt_1", reqOpts{})
	var got struct {
		TraceID     string `json:"trace_id"`
		TraceParent string `json:"traceparent"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	if got.TraceID != ev.TraceID || got.TraceParent != ev.TraceParent {
		t.Errorf("API event trace = %+v", got)
	}
	if w := ts.do("GET", "/api/events/evt_2", reqOpts{}); strings.Contains(w.Body.String(), "trace") {
		t.Errorf("an event without a trace: %s", w.Body)
	}
}
