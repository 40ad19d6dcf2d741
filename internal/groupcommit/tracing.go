package groupcommit

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook/internal/tracing"
)

// startSpans starts the commit span of each traced item of batch (nil for
// the others) and hands the item its span's context through Traced.
func (w *Writer[T, R]) startSpans(batch []request[T, R], items []T, start time.Time) []trace.Span {
	spans := make([]trace.Span, len(batch))
	size := attribute.Int("voicehook.commit.batch_size", len(batch))
	for i, req := range batch {
		if req.parent == nil || !req.parent.SpanContext().IsValid() {
			continue
		}
		// The parent may have ended (its sender gave up): the commit
		// still belongs in its trace.
		ctx := trace.ContextWithSpan(context.Background(), req.parent)
		_, spans[i] = req.parent.TracerProvider().Tracer(tracing.Scope).Start(ctx, "commit",
			trace.WithTimestamp(start), trace.WithAttributes(size))
		items[i] = w.traced(items[i], spans[i].SpanContext())
	}
	return spans
}

// endSpans ends the commit spans, each with its item's result.
func (w *Writer[T, R]) endSpans(spans []trace.Span, results []R) {
	for i, s := range spans {
		if s == nil {
			continue
		}
		var err error
		if w.failed != nil {
			err = w.failed(results[i])
		}
		tracing.End(s, err)
	}
}
