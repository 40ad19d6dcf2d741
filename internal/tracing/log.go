package tracing

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Logger returns l with LogHandler around its handler; off, l itself.
func (t *Tracing) Logger(l *slog.Logger) *slog.Logger {
	if !t.On() {
		return l
	}
	return slog.New(LogHandler(l.Handler()))
}

// ReportErrors logs what the SDK cannot do (an export the collector
// refused or never answered) through log, as a warning, instead of the
// SDK's default: raw lines on stderr among JSON log lines. The handler is
// process-wide (OpenTelemetry has one); off, nothing is installed.
func (t *Tracing) ReportErrors(log *slog.Logger) {
	if !t.On() {
		return
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: OpenTelemetry reported an error; spans may be lost", "err", err)
	}))
}

// LogHandler wraps h so that a record logged with a ctx that carries a span
// (InfoContext and the like) gets trace_id and span_id attributes: a log
// line leads to its trace, and a trace's spans to their log lines.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ next slog.Handler }

func (l logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.next.Enabled(ctx, level)
}

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		// A Record shares its attributes with copies of it: add to a
		// clone of our own.
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.next.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.next.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler {
	return logHandler{l.next.WithGroup(name)}
}
