package tracing

import (
	"context"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of voicehook's own spans.
const Scope = "github.com/voicehook/voicehook"

// Start starts a child of the span in ctx, through that span's provider.
// Without a span in ctx (tracing off, or work no trace reached) it returns
// ctx and a no-op span at once and allocates nothing, attrs included: so it
// may sit on the webhook path.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, parent
	}
	// The clone keeps attrs from escaping, so a caller's variadic slice
	// stays on its stack when tracing is off.
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name, trace.WithAttributes(slices.Clone(attrs)...))
}

// End ends span, marking it failed with err if err is not nil.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// StartRoot starts a new trace (generation and QA runs, which no delivery
// started). Off, it returns ctx and a no-op span.
func (t *Tracing) StartRoot(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !t.On() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.sdk.Tracer(Scope).Start(ctx, name, append(opts, trace.WithNewRoot())...)
}

// StartFrom starts a span whose parent is traceparent, a W3C traceparent
// kept with the work (an event's, see TraceParent); an empty or invalid one
// starts a new trace. Off, it returns ctx and a no-op span.
func (t *Tracing) StartFrom(ctx context.Context, traceparent, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !t.On() {
		return ctx, trace.SpanFromContext(ctx)
	}
	if sc, ok := ParseTraceParent(traceparent); ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	} else {
		opts = append(opts, trace.WithNewRoot())
	}
	return t.sdk.Tracer(Scope).Start(ctx, name, opts...)
}

// TraceParent is sc as a W3C traceparent header value
// ("00-<trace id>-<span id>-<flags>"), "" if sc is not valid. It is what an
// event keeps of the delivery's trace, so its processing continues it.
func TraceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

// ParseTraceParent reads a W3C traceparent back into a remote span context.
func ParseTraceParent(s string) (trace.SpanContext, bool) {
	if s == "" {
		return trace.SpanContext{}, false
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": s})
	sc := trace.SpanContextFromContext(ctx)
	return sc, sc.IsValid()
}

// TraceID is the trace id (32 hex digits) of a W3C traceparent, "" if it is
// not one: what the event page and API show, to look the trace up by.
func TraceID(traceparent string) string {
	sc, ok := ParseTraceParent(traceparent)
	if !ok {
		return ""
	}
	return sc.TraceID().String()
}
