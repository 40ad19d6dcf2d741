package process

// Tracing of processing: an attempt is a span of its event's trace (the
// one its delivery began), and every outside call it makes a child span of
// the attempt; HTTP clients carry the traceparent on (see cmd/voicehook's
// wiring). Generation and QA runs, which no delivery began, start traces of
// their own. Everything here is free when tracing is off: tracing.Start
// returns at once without a span in ctx.

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/tracing"
)

// startAttempt starts the attempt's span: a child of the span the queue
// hands over (the event's wait in the queue), else of the trace context
// the event kept, else the root of a new trace (an event stored while
// tracing was off).
func (p *Processor) startAttempt(ctx context.Context, ev voicehook.Event, run voicehook.Run) (context.Context, trace.Span) {
	queued := trace.SpanContextFromContext(ctx).IsValid()
	if !queued && !p.Tracing.On() {
		return ctx, trace.SpanFromContext(ctx)
	}
	attrs := []attribute.KeyValue{
		attribute.String("voicehook.event_id", ev.ID),
		attribute.String("voicehook.event_type", ev.Type),
		attribute.String("voicehook.segment_id", ev.SegmentID),
		attribute.Int("voicehook.attempt", run.Attempt),
	}
	if queued {
		return tracing.Start(ctx, "attempt", attrs...)
	}
	return p.Tracing.StartFrom(ctx, ev.TraceParent, "attempt", trace.WithAttributes(attrs...))
}

// endAttempt ends the attempt's span with its outcome; one that failed or
// will be retried is marked failed with its reason.
func endAttempt(span trace.Span, outcome voicehook.AttemptOutcome, jobID, errText string) {
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(attribute.String("voicehook.outcome", string(outcome)))
	if jobID != "" {
		span.SetAttributes(attribute.String("voicehook.job_id", jobID))
	}
	var err error
	switch outcome {
	case voicehook.AttemptRetry, voicehook.AttemptFailed, voicehook.AttemptDead:
		err = errors.New(errText)
	}
	tracing.End(span, err)
}

// ignoreNotFound: a job not (yet) found is an answer, not a failed call.
func ignoreNotFound(err error) error {
	if errors.Is(err, voicehook.ErrNotFound) {
		return nil
	}
	return err
}

// endRun ends a generation's or a QA check's span with what the queue is
// told: done, wait, or retry (failed).
func endRun(span trace.Span, res voicehook.RunResult) {
	outcome := "done"
	switch {
	case res.Retry != nil:
		outcome = "retry"
	case res.Wait > 0:
		outcome = "wait"
	}
	span.SetAttributes(attribute.String("voicehook.outcome", outcome))
	tracing.End(span, res.Retry)
}

// readJob is Records.Job as a span.
func readJob(ctx context.Context, records voicehook.Records, id string) (voicehook.Job, error) {
	ctx, span := tracing.Start(ctx, "records.job")
	job, err := records.Job(ctx, id)
	tracing.End(span, err)
	return job, err
}

// finishJob is Records.FinishJob as a span.
func finishJob(ctx context.Context, records voicehook.Records, job voicehook.Job, end voicehook.JobEnd) error {
	ctx, span := tracing.Start(ctx, "records.finish_job", attribute.String("voicehook.job_status", string(end.Status)))
	err := records.FinishJob(ctx, job, end)
	tracing.End(span, err)
	return err
}

// putStorage is Storage.Put as a span.
func putStorage(ctx context.Context, storage voicehook.Storage, obj voicehook.AudioObject) (voicehook.StoredAudio, error) {
	ctx, span := tracing.Start(ctx, "storage.put", attribute.String("voicehook.key", obj.Key), attribute.Int64("voicehook.bytes", obj.Bytes))
	stored, err := storage.Put(ctx, obj)
	tracing.End(span, err)
	return stored, err
}
