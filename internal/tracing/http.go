package tracing

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator is W3C trace context alone: baggage, if any, stays inside.
var propagator = propagation.TraceContext{}

// Transport wraps rt (nil: http.DefaultTransport) so that every request made
// within a trace becomes a client span and carries its W3C traceparent
// header. Requests outside any trace go straight to rt; off, rt itself is
// returned, so nothing changes.
func (t *Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	if !t.On() {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return traced{base: rt, Transport: otelhttp.NewTransport(rt,
		otelhttp.WithTracerProvider(t.sdk),
		otelhttp.WithPropagators(propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // traces only; /metrics has voicehook's own
		otelhttp.WithFilter(func(r *http.Request) bool { return trace.SpanContextFromContext(r.Context()).IsValid() }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Host }),
	)}
}

// traced is otelhttp's transport, which does not pass CloseIdleConnections
// on: without it a download (a fresh transport each, see fetch) would leave
// its idle connection open until it timed out.
type traced struct {
	*otelhttp.Transport
	base http.RoundTripper
}

func (t traced) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Client returns c (nil: a zero client) with its transport wrapped by
// Transport; off, c itself.
func (t *Tracing) Client(c *http.Client) *http.Client {
	if !t.On() {
		return c
	}
	cp := http.Client{}
	if c != nil {
		cp = *c
	}
	cp.Transport = t.Transport(cp.Transport)
	return &cp
}

// Server gives each request that traced accepts a server span, the root of
// its trace. A traceparent the sender sent is linked, not continued: the
// sender is an outside party, and one delivery is one trace of voicehook's
// own. Off, h itself is returned.
func (t *Tracing) Server(h http.Handler, traced func(*http.Request) bool) http.Handler {
	if !t.On() {
		return h
	}
	return otelhttp.NewHandler(h, "",
		otelhttp.WithTracerProvider(t.sdk),
		otelhttp.WithPropagators(propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(traced),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
	)
}
