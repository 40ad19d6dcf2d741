package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

// keptHeaders are the request headers stored with an event for operators.
// The signature's value is not among them: operators see that it was
// present and valid, which is all it can tell them.
var keptHeaders = []string{"Content-Type", "User-Agent", "X-Forwarded-For", "X-Request-Id"}

// handleWebhook reads, authenticates and durably stores one delivery. It
// answers 200 only after the event is committed; everything else it answers
// says why, and nothing refused is stored. What the headers can refuse is
// refused before the body is read.
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	start := s.Clock.Now()
	segmentID := r.URL.Query().Get("segment_id")
	p, no := s.authorizeHeaders(r, segmentID)
	if no != nil {
		s.refuse(w, r, segmentID, no)
		return
	}
	if r.ContentLength > max(s.MaxBodyBytes, s.maxCallAudio()) {
		s.bodyTooLarge(w, r, max(s.MaxBodyBytes, s.maxCallAudio()))
		return
	}
	if s.isLongCallAudio(r) {
		s.receiveCallAudio(w, r, p, segmentID, start)
		return
	}
	if r.ContentLength > s.MaxBodyBytes {
		s.bodyTooLarge(w, r, s.MaxBodyBytes)
		return
	}
	body, release, err := readBody(w, r, s.MaxBodyBytes, s.bodies(), p.sink())
	defer release()
	if err != nil {
		s.bodyReadFailed(w, r, err, s.MaxBodyBytes)
		return
	}
	if no := p.verifyBody(); no != nil {
		s.refuse(w, r, segmentID, no)
		return
	}
	s.acknowledge(w, r, s.newEvent(r, p, newEventID(), segmentID, body, start), start)
}

// newEvent is the event a verified delivery stores. A signed body that does
// not parse is still genuine: it is stored, and processing decides. IngestKey
// always yields a dedupe key (the one Parse gives, without decoding the whole
// body).
func (s *Server) newEvent(r *http.Request, p proof, id, segmentID string, body []byte, start time.Time) voicehook.NewEvent {
	dedupeKey, evType := elevenlabs.IngestKey(body, segmentID)
	headers := map[string]string{}
	for _, h := range keptHeaders {
		if v := r.Header.Get(h); v != "" {
			headers[h] = v
		}
	}
	if p.signature != "" {
		headers[elevenlabs.HeaderName] = p.signature
	}
	if p.byToken {
		headers["Callback-Token"] = "valid"
	}
	return voicehook.NewEvent{
		ID:          id,
		Service:     voicehook.ServiceElevenLabs,
		Endpoint:    WebhookPath,
		DedupeKey:   dedupeKey,
		Type:        eventType(evType),
		SegmentID:   segmentID,
		RawPayload:  body,
		Headers:     headers,
		HeadersJSON: headersJSON(headers),
		ReceivedAt:  start.UTC(),
	}
}

// newEventID names a new event: time-ordered, so ids sort as they arrive.
func newEventID() string { return "evt_" + uuid.Must(uuid.NewV7()).String() }

// acknowledge stores ev and answers: 200 once it is committed (or was
// already, as a duplicate), 503 otherwise.
func (s *Server) acknowledge(w http.ResponseWriter, r *http.Request, ev voicehook.NewEvent, start time.Time) voicehook.IngestResult {
	res := s.ingestWithin(w, r, ev)
	annotateDelivery(r.Context(), ev, res)
	if res.Err != nil {
		s.Metrics.Deliveries.WithLabelValues("unavailable").Inc()
		s.Logger.ErrorContext(r.Context(), "storing webhook event", "err", res.Err, "segment_id", ev.SegmentID)
		writeError(w, http.StatusServiceUnavailable, "event not acknowledged: the store is unavailable or did not commit it in time; retry (if it was stored meanwhile, the retry is answered as a duplicate)")
		return res
	}
	took := s.Clock.Now().Sub(start)
	s.Metrics.AckLatency.Observe(took.Seconds())
	if s.Acked != nil {
		s.Acked(took)
	}
	reply := map[string]any{"status": "accepted", "event_id": res.EventID}
	if res.Duplicate {
		s.Metrics.Deliveries.WithLabelValues("duplicate").Inc()
		reply["duplicate"] = true
		s.Logger.InfoContext(r.Context(), "duplicate delivery", "event_id", res.EventID, "segment_id", ev.SegmentID)
	} else {
		s.Metrics.Deliveries.WithLabelValues("accepted").Inc()
		s.Logger.DebugContext(r.Context(), "event accepted", "event_id", res.EventID, "segment_id", ev.SegmentID)
	}
	writeJSON(w, http.StatusOK, reply)
	return res
}

// annotateDelivery tells the delivery's server span (cmd/voicehook's wiring
// starts one per delivery when tracing is on) what the delivery became:
// for a duplicate, the event it repeats. With tracing off there is no span,
// and this costs one context lookup.
func annotateDelivery(ctx context.Context, ev voicehook.NewEvent, res voicehook.IngestResult) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	id := res.EventID
	if id == "" {
		id = ev.ID // not stored; the id it would have had
	}
	span.SetAttributes(attribute.String("voicehook.event_id", id), attribute.String("voicehook.event_type", ev.Type),
		attribute.String("voicehook.segment_id", ev.SegmentID), attribute.Bool("voicehook.duplicate", res.Duplicate))
	if res.Err != nil {
		span.RecordError(res.Err)
	}
}

// bodyReadFailed answers a body that could not be read whole.
func (s *Server) bodyReadFailed(w http.ResponseWriter, r *http.Request, err error, limit int64) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.bodyTooLarge(w, r, limit)
	case errors.Is(err, errBodyBudget):
		s.Metrics.Deliveries.WithLabelValues("busy").Inc()
		s.Logger.WarnContext(r.Context(), "webhook body refused: memory budget for bodies in flight is full", "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "too many large bodies in flight; retry shortly")
	default:
		s.Metrics.Deliveries.WithLabelValues("read_error").Inc()
		writeError(w, http.StatusBadRequest, "could not read body")
	}
}

func eventType(t string) string {
	if t == "" {
		return "unknown"
	}
	return t
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, segmentID string, no *refusal) {
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetAttributes(attribute.String("voicehook.rejected", no.reason))
	}
	s.Metrics.Deliveries.WithLabelValues("rejected").Inc()
	s.Metrics.Rejected.WithLabelValues(no.reason).Inc()
	s.Logger.WarnContext(r.Context(), "webhook rejected", "reason", no.reason, "segment_id", segmentID, "remote", r.RemoteAddr)
	writeError(w, http.StatusUnauthorized, no.msg)
}

func (s *Server) bodyTooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	s.Metrics.Deliveries.WithLabelValues("too_large").Inc()
	s.Logger.WarnContext(r.Context(), "webhook body over the limit", "limit", limit, "remote", r.RemoteAddr)
	flag := "--max-body-bytes"
	if limit != s.MaxBodyBytes {
		flag = "--max-call-audio-bytes, for post_call_audio"
	}
	writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes (%s)", limit, flag))
}

// callbackURL is the URL a job's sender calls back, carrying a token that
// authenticates it in place of a signature.
func (s *Server) callbackURL(segmentID string) string {
	return strings.TrimSuffix(s.PublicURL, "/") + WebhookPath + "?segment_id=" + urlQueryEscape(segmentID) + "&token=" + s.Tokens.For(segmentID)
}
