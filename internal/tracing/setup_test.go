package tracing

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"

	"github.com/voicehook/voicehook/internal/tracing/tracingtest"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestResolveEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		flag      string
		env       map[string]string
		want, src string
		err       string
	}{
		{name: "nothing set: off"},
		{name: "flag is a base URL", flag: "http://127.0.0.1:4318", want: "http://127.0.0.1:4318/v1/traces", src: "--otel-endpoint"},
		{name: "flag with a trailing slash", flag: "http://collector:4318/", want: "http://collector:4318/v1/traces", src: "--otel-endpoint"},
		{name: "flag under a path", flag: "https://otel.example.com/otlp", want: "https://otel.example.com/otlp/v1/traces", src: "--otel-endpoint"},
		{name: "flag naming the traces path already", flag: "http://c:4318/v1/traces", want: "http://c:4318/v1/traces", src: "--otel-endpoint"},
		{name: "flag wins over the environment", flag: "http://flag:4318",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:4318/x"},
			want: "http://flag:4318/v1/traces", src: "--otel-endpoint"},
		{name: "general variable is a base URL", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318"},
			want: "http://env:4318/v1/traces", src: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "traces variable is used as is, before the general one",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/custom"},
			want: "http://traces:4318/custom", src: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{name: "a bare host is refused", flag: "127.0.0.1:4318", err: `--otel-endpoint "127.0.0.1:4318": want the collector's OTLP/HTTP URL, like http://127.0.0.1:4318`},
		{name: "another scheme is refused", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://c:4317"},
			err: `OTEL_EXPORTER_OTLP_ENDPOINT "grpc://c:4317": want the collector's OTLP/HTTP URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, src, err := resolveEndpoint(tc.flag, env(tc.env))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([2]string{tc.want, tc.src}, [2]string{got, src}); diff != "" {
				t.Errorf("endpoint, source (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetupRefusesWhatItCannotSend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		err  string
	}{
		{"gRPC protocol", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: voicehook sends traces over OTLP/HTTP with protobuf only"},
		{"JSON protocol for traces", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json"},
		{"another exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER=zipkin: voicehook exports traces over OTLP only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, err := Setup(context.Background(), Config{Endpoint: "http://127.0.0.1:1", Getenv: env(tc.env)})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want one containing %q", err, tc.err)
			}
			if tr.On() {
				t.Error("tracing on after an error")
			}
		})
	}
	// The traces protocol, when set, overrides the general one.
	tr, err := Setup(context.Background(), Config{Endpoint: "http://127.0.0.1:1",
		Getenv: env(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Log(err) // nothing listens on port 1; nothing was queued either
	}
}

func TestOffSwitchesWinOverAnEndpoint(t *testing.T) {
	t.Parallel()
	c := tracingtest.New(t)
	for _, kv := range []map[string]string{
		{"OTEL_SDK_DISABLED": "true"},
		{"OTEL_TRACES_EXPORTER": "none"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": c.URL, "OTEL_SDK_DISABLED": "TRUE"},
	} {
		tr, err := Setup(context.Background(), Config{Endpoint: c.URL, Getenv: env(kv)})
		if err != nil {
			t.Fatal(err)
		}
		if tr.On() {
			t.Errorf("%v: tracing on", kv)
		}
	}
}

// TestOffIsFree: with no endpoint nothing starts, nothing is wrapped and no
// span exists, so nothing can be sent.
func TestOffIsFree(t *testing.T) {
	// Not parallel: it counts goroutines.
	before := runtime.NumGoroutine()
	tr, err := Setup(context.Background(), Config{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if tr.On() {
		t.Fatal("tracing on with no endpoint")
	}
	if u, src := tr.Endpoint(); u != "" || src != "" {
		t.Errorf("Endpoint() = %q, %q; want nothing", u, src)
	}
	ctx, root := tr.StartRoot(context.Background(), "root")
	_, from := tr.StartFrom(ctx, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "from")
	_, child := Start(ctx, "child")
	for _, s := range []interface{ IsRecording() bool }{root, from, child} {
		if s.IsRecording() {
			t.Error("a span records with tracing off")
		}
	}
	if _, s := tr.Provider().Tracer("x").Start(context.Background(), "y"); s.SpanContext().IsValid() {
		t.Error("the off provider makes valid spans")
	}
	rt := http.DefaultTransport
	if tr.Transport(rt) != rt {
		t.Error("Transport wrapped rt with tracing off")
	}
	c := &http.Client{}
	if tr.Client(c) != c {
		t.Error("Client copied c with tracing off")
	}
	h := http.NotFoundHandler()
	if got := tr.Server(h, nil); got == nil || httptestName(got) != httptestName(h) {
		t.Error("Server wrapped h with tracing off")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	var nilTracing *Tracing
	if nilTracing.On() || nilTracing.Shutdown(context.Background()) != nil {
		t.Error("a nil *Tracing is not off")
	}
	// Let goroutines of tests that ran before settle.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines %d → %d: tracing off started some", before, after)
	}
}

func httptestName(h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	return rec.Body.String() + rec.Header().Get("Traceparent")
}

// TestStartOffAllocatesNothing is the webhook path's guarantee: spans
// started without a span in ctx, attributes included, cost no allocation.
func TestStartOffAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	id := "evt_1"
	failure := errors.New("x")
	allocs := testing.AllocsPerRun(1000, func() {
		_, s := Start(ctx, "commit", attribute.String("voicehook.event_id", id), attribute.Int("n", 3))
		End(s, nil)
		End(s, failure)
	})
	if allocs != 0 {
		t.Errorf("Start/End off allocate %.1f times per call, want 0", allocs)
	}
}

func BenchmarkStartOff(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := Start(ctx, "commit", attribute.String("voicehook.event_id", "evt_1"))
		End(s, nil)
	}
}

func BenchmarkStartOn(b *testing.B) {
	c := tracingtest.New(b)
	tr, err := Setup(context.Background(), Config{Endpoint: c.URL, Getenv: env(nil)})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	ctx, root := tr.StartRoot(context.Background(), "root")
	defer root.End()
	b.ReportAllocs()
	for b.Loop() {
		_, s := Start(ctx, "commit", attribute.String("voicehook.event_id", "evt_1"))
		End(s, nil)
	}
}

func TestSpansReachTheCollector(t *testing.T) {
	t.Parallel()
	c := tracingtest.New(t)
	tr, err := Setup(context.Background(), Config{Endpoint: c.URL, ServiceVersion: "v1.2.3", Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.On() {
		t.Fatal("tracing off with an endpoint")
	}
	if u, src := tr.Endpoint(); u != c.URL+"/v1/traces" || src != "--otel-endpoint" {
		t.Errorf("Endpoint() = %q, %q", u, src)
	}
	ctx, root := tr.StartRoot(context.Background(), "attempt")
	_, child := Start(ctx, "storage.put", attribute.String("voicehook.key", "seg/abc.mp3"))
	End(child, errors.New("bucket gone"))
	End(root, nil)
	tp := TraceParent(root.SpanContext())
	_, cont := tr.StartFrom(context.Background(), tp, "continued")
	cont.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := c.Spans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3:\n%s", len(spans), tracingtest.Dump(spans))
	}
	byName := map[string]tracingtest.Span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	r, ch, co := byName["attempt"], byName["storage.put"], byName["continued"]
	if r.ParentID != "" || ch.ParentID != r.SpanID || co.ParentID != r.SpanID || ch.TraceID != r.TraceID || co.TraceID != r.TraceID {
		t.Errorf("not nested as started:\n%s", tracingtest.Dump(spans))
	}
	if !ch.Failed || ch.Error != "bucket gone" || ch.Attrs["voicehook.key"] != "seg/abc.mp3" {
		t.Errorf("child span = %+v", ch)
	}
	if r.Resource["service.name"] != "voicehook" || r.Resource["service.version"] != "v1.2.3" {
		t.Errorf("resource = %v", r.Resource)
	}
}

// TestStandardVariables: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the
// sampler come from the process environment, as the SDK reads them.
func TestStandardVariables(t *testing.T) {
	c := tracingtest.New(t)
	t.Setenv("OTEL_SERVICE_NAME", "voicehook-eu")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,service.name=ignored")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.URL)
	tr, err := Setup(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, s := tr.StartRoot(context.Background(), "root")
	s.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := c.Spans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	if got := spans[0].Resource; got["service.name"] != "voicehook-eu" || got["deployment.environment"] != "staging" {
		t.Errorf("resource = %v", got)
	}

	// A sampler that keeps nothing: spans still have ids to pass on, and
	// nothing is sent.
	c2 := tracingtest.New(t)
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	tr, err = Setup(context.Background(), Config{Endpoint: c2.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, s := tr.StartRoot(context.Background(), "root")
	_, child := Start(ctx, "child")
	child.End()
	s.End()
	if !s.SpanContext().IsValid() || s.SpanContext().IsSampled() {
		t.Errorf("unsampled root: %v", s.SpanContext())
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(c2.Spans()); n != 0 {
		t.Errorf("always_off sent %d spans", n)
	}
}

func TestTraceParentRoundTrip(t *testing.T) {
	t.Parallel()
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	sc, ok := ParseTraceParent(tp)
	if !ok || !sc.IsRemote() {
		t.Fatalf("ParseTraceParent(%q) = %v, %v", tp, sc, ok)
	}
	if got := TraceParent(sc); got != tp {
		t.Errorf("TraceParent = %q, want %q", got, tp)
	}
	if got := TraceID(tp); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("TraceID = %q", got)
	}
	for _, bad := range []string{"", "00-0af7651916cd43dd8448eb211c80319c", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "garbage"} {
		if _, ok := ParseTraceParent(bad); ok {
			t.Errorf("ParseTraceParent(%q) ok", bad)
		}
		if got := TraceID(bad); got != "" {
			t.Errorf("TraceID(%q) = %q", bad, got)
		}
	}
	if got := TraceParent(sc.WithTraceFlags(0)); !strings.HasSuffix(got, "-00") {
		t.Errorf("unsampled TraceParent = %q", got)
	}
}
