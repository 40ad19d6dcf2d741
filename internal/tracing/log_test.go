package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook/internal/tracing/tracingtest"
)

func TestLogHandlerAddsTheSpanOfTheContext(t *testing.T) {
	t.Parallel()
	sc, _ := ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	traced := trace.ContextWithSpanContext(context.Background(), sc)
	for _, tc := range []struct {
		name string
		log  func(l *slog.Logger)
		want map[string]any
	}{
		{"with a span", func(l *slog.Logger) { l.InfoContext(traced, "stored", "event_id", "evt_1") },
			map[string]any{"msg": "stored", "event_id": "evt_1", "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}},
		{"without a context", func(l *slog.Logger) { l.Info("stored", "event_id", "evt_1") },
			map[string]any{"msg": "stored", "event_id": "evt_1"}},
		{"attributes added before", func(l *slog.Logger) { l.With("component", "qa").WarnContext(traced, "flagged") },
			map[string]any{"msg": "flagged", "component": "qa", "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tc.log(slog.New(LogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
						return slog.Attr{}
					}
					return a
				},
			}))))
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("%q: %v", buf.String(), err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("log line (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogHandlerKeepsLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := slog.New(LogHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))).WithGroup("g")
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "g.k=v") {
		t.Errorf("log = %q", got)
	}
	off := slog.New(slog.DiscardHandler)
	var tr *Tracing
	if tr.Logger(off) != off {
		t.Error("Logger wrapped with tracing off")
	}
}

// Export failures (a collector that is down) are logged through the app's
// logger, not printed raw to stderr beside JSON log lines.
func TestReportErrorsLogsExportFailures(t *testing.T) {
	// Not parallel: the OpenTelemetry error handler is process-wide.
	var buf bytes.Buffer
	var tr *Tracing
	tr.ReportErrors(slog.New(slog.NewTextHandler(&buf, nil))) // off: nothing installed
	otel.Handle(errors.New("before"))
	if buf.Len() != 0 {
		t.Fatalf("off installed a handler: %q", buf.String())
	}
	c := tracingtest.New(t)
	tr, err := Setup(context.Background(), Config{Endpoint: c.URL, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	tr.ReportErrors(slog.New(slog.NewTextHandler(&buf, nil)))
	otel.Handle(errors.New("traces export: connection refused"))
	if got := buf.String(); !strings.Contains(got, `level=WARN msg="tracing: OpenTelemetry reported an error; spans may be lost" err="traces export: connection refused"`) {
		t.Errorf("log = %q", got)
	}
}
