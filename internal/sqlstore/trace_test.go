package sqlstore_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
	"github.com/voicehook/voicehook/internal/tracing"
	"github.com/voicehook/voicehook/internal/tracing/tracingtest"
)

// deliveryTrace is the trace context a delivery's commit span leaves with
// its event.
const deliveryTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

func TestEventKeepsItsTraceParent(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, _ := s.setup(t)
		traced := newEvent("evt_traced", "key_traced", t0)
		traced.TraceParent = deliveryTrace
		ingest(t, db, traced, newEvent("evt_plain", "key_plain", t0.Add(time.Millisecond)))

		type kept struct{ ID, TraceParent, TraceID string }
		want := []kept{{"evt_plain", "", ""}, {"evt_traced", deliveryTrace, "0af7651916cd43dd8448eb211c80319c"}}
		listed, err := db.ListEvents(context.Background(), voicehook.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []kept
		for _, ev := range listed {
			got = append(got, kept{ev.ID, ev.TraceParent, ev.TraceID})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("listed (-want +got):\n%s", diff)
		}
		ev, err := db.Event(context.Background(), "evt_traced")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[1], kept{ev.ID, ev.TraceParent, ev.TraceID}); diff != "" {
			t.Errorf("Event (-want +got):\n%s", diff)
		}
	})
}

// spanProcessor reports the span each run finds in its ctx, and succeeds.
type spanProcessor chan spanRun

type spanRun struct {
	run  voicehook.Run
	span trace.SpanContext
}

func (p spanProcessor) Process(ctx context.Context, run voicehook.Run) voicehook.RunResult {
	p <- spanRun{run, trace.SpanContextFromContext(ctx)}
	return voicehook.RunResult{}
}

// The queue wait is a span of the event's trace, from the moment its queue
// job was due to the attempt's start; the attempt runs within it. An event
// without a trace context gets no span.
func TestAttemptRunsInTheQueueWaitSpan(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		col := tracingtest.New(t)
		tr, err := tracing.Setup(context.Background(), tracing.Config{Endpoint: col.URL, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		db, _ := s.setup(t)
		traced := newEvent("evt_traced", "key_traced", t0)
		traced.TraceParent = deliveryTrace
		ingest(t, db, traced, newEvent("evt_plain", "key_plain", t0.Add(time.Millisecond)))

		runs := make(spanProcessor, 2)
		q, err := db.NewQueue(runs, sqlstore.QueueConfig{PollInterval: 20 * time.Millisecond, Tracing: tr, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		seen := map[string]trace.SpanContext{}
		for range 2 {
			select {
			case r := <-runs:
				seen[r.run.EventID] = r.span
			case <-time.After(20 * time.Second):
				t.Fatal("the queue did not run both events")
			}
		}
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if seen["evt_plain"].IsValid() {
			t.Errorf("an event without a trace ran in span %v", seen["evt_plain"])
		}
		spans := col.Spans()
		if len(spans) != 1 {
			t.Fatalf("%d spans, want the traced event's queue wait alone:\n%s", len(spans), tracingtest.Dump(spans))
		}
		w := spans[0]
		in := seen["evt_traced"]
		want := tracingtest.Span{Name: "queue.wait", TraceID: "0af7651916cd43dd8448eb211c80319c", ParentID: "b7ad6b7169203331", SpanID: in.SpanID().String(),
			Kind: "consumer", Attrs: map[string]string{"voicehook.event_id": "evt_traced", "voicehook.attempt": "1"}}
		got := tracingtest.Span{Name: w.Name, TraceID: w.TraceID, ParentID: w.ParentID, SpanID: w.SpanID, Kind: w.Kind, Attrs: w.Attrs}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("queue wait span (-want +got):\n%s", diff)
		}
		if w.End.Before(w.Start) || w.End.After(time.Now()) || time.Since(w.Start) > time.Minute {
			t.Errorf("queue wait from %s to %s", w.Start, w.End)
		}
	})
}
