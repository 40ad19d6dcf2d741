package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
)

// ingestWithin hands ev to Ingest and waits at most AckTimeout for the
// commit that holds it. A sender must never hang on a stalled database: past
// the deadline the delivery is answered 503, with Retry-After set on w here.
// The event is not forgotten: if the writer took it, its commit may still
// succeed, and then it is processed as usual and the sender's retry is
// answered as a duplicate of it.
func (s *Server) ingestWithin(w http.ResponseWriter, r *http.Request, ev voicehook.NewEvent) voicehook.IngestResult {
	ctx := r.Context()
	if s.AckTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.AckTimeout)
		defer cancel()
	}
	res := s.Ingest(ctx, ev)
	if res.Err == nil {
		return res
	}
	if errors.Is(res.Err, context.DeadlineExceeded) && r.Context().Err() == nil {
		res.Err = fmt.Errorf("%w: not committed within --ack-timeout %s: %w", voicehook.ErrUnavailable, s.AckTimeout, res.Err)
		// The delivery's span (if traced) says why it was answered 503;
		// its commit span, if the writer took it, shows how long the
		// commit really took.
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetAttributes(attribute.Bool("voicehook.ack_timeout", true))
		}
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(s.AckTimeout)))
	return res
}

// retryAfterSeconds: come back after about one ack timeout (at least 1 s).
func retryAfterSeconds(ack time.Duration) int {
	return max(1, int(math.Ceil(ack.Seconds())))
}
