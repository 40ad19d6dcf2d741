// Package tracingtest is an in-process OpenTelemetry collector for tests: an
// httptest server that accepts OTLP over HTTP (POST /v1/traces, protobuf)
// and keeps the spans it is sent.
package tracingtest

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one received span, flattened for assertions.
type Span struct {
	Name     string
	TraceID  string // 32 hex digits
	SpanID   string // 16 hex digits
	ParentID string // "" for a root
	Kind     string // "server", "client", "internal", …
	Start    time.Time
	End      time.Time
	// Attrs holds the string, int, bool and double attributes as text.
	Attrs map[string]string
	// Links are the span ids (trace id/span id) the span links to.
	Links []string
	// Events are the span's events (RecordError's "exception" among them).
	Events []Event
	// Error is the status message of a span marked failed ("" if not).
	Error    string
	Failed   bool
	Resource map[string]string
}

// Event is one span event.
type Event struct {
	Name  string
	Attrs map[string]string
}

// Collector keeps what it is sent.
type Collector struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []Span
	requests int
	changed  chan struct{}
}

// New starts a collector on 127.0.0.1, closed when the test ends. URL is
// its base URL (--otel-endpoint).
func New(t testing.TB) *Collector {
	c := &Collector{changed: make(chan struct{})}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "want POST /v1/traces", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "want application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, "decoding: "+err.Error(), http.StatusBadRequest)
		return
	}
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, flatten(s, res))
			}
		}
	}
	c.mu.Lock()
	c.spans = append(c.spans, got...)
	c.requests++
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func flatten(s *tracepb.Span, res map[string]string) Span {
	sp := Span{
		Name:     s.GetName(),
		TraceID:  hex.EncodeToString(s.GetTraceId()),
		SpanID:   hex.EncodeToString(s.GetSpanId()),
		ParentID: hex.EncodeToString(s.GetParentSpanId()),
		Kind:     strings.ToLower(strings.TrimPrefix(s.GetKind().String(), "SPAN_KIND_")),
		Start:    time.Unix(0, int64(s.GetStartTimeUnixNano())),
		End:      time.Unix(0, int64(s.GetEndTimeUnixNano())),
		Attrs:    attrs(s.GetAttributes()),
		Resource: res,
	}
	for _, e := range s.GetEvents() {
		sp.Events = append(sp.Events, Event{Name: e.GetName(), Attrs: attrs(e.GetAttributes())})
	}
	for _, l := range s.GetLinks() {
		sp.Links = append(sp.Links, hex.EncodeToString(l.GetTraceId())+"/"+hex.EncodeToString(l.GetSpanId()))
	}
	if s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		sp.Failed, sp.Error = true, s.GetStatus().GetMessage()
	}
	return sp
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = x.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = fmt.Sprint(x.IntValue)
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = fmt.Sprint(x.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			m[kv.GetKey()] = fmt.Sprint(x.DoubleValue)
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}

// Spans returns what has arrived so far, in start order.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]Span(nil), c.spans...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Requests counts the export requests received.
func (c *Collector) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// Trace returns the spans of one trace, in start order.
func (c *Collector) Trace(traceID string) []Span {
	var out []Span
	for _, s := range c.Spans() {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// WaitFor waits up to timeout until ok holds for the spans received, and
// returns them; it fails the test if ok never holds.
func (c *Collector) WaitFor(t testing.TB, timeout time.Duration, ok func([]Span) bool) []Span {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		spans := c.Spans()
		if ok(spans) {
			return spans
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("spans received in %s do not satisfy the test:\n%s", timeout, Dump(spans))
			return nil
		}
	}
}

// Dump lists spans one a line, for failure messages.
func Dump(spans []Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s %s span=%s parent=%s kind=%s attrs=%v\n", s.TraceID, s.Name, s.SpanID, s.ParentID, s.Kind, s.Attrs)
	}
	return b.String()
}
