package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

// keptHeaders are the request headers stored with an event for operators.
var keptHeaders = []string{"Content-Type", "User-Agent", elevenlabs.HeaderName, "X-Forwarded-For", "X-Request-Id"}

// handleWebhook reads, authenticates and durably stores one delivery. It
// answers 200 only after the event is committed; everything else it answers
// says why, and nothing refused is stored.
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	start := s.Clock.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.Metrics.Deliveries.WithLabelValues("too_large").Inc()
			s.Logger.Warn("webhook body over the limit", "limit", s.MaxBodyBytes, "remote", r.RemoteAddr)
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes (--max-body-bytes)", s.MaxBodyBytes))
			return
		}
		s.Metrics.Deliveries.WithLabelValues("read_error").Inc()
		writeError(w, http.StatusBadRequest, "could not read body")
		return
	}
	segmentID := r.URL.Query().Get("segment_id")
	if reason, msg := s.authenticate(r, segmentID, body); reason != "" {
		s.Metrics.Deliveries.WithLabelValues("rejected").Inc()
		s.Metrics.Rejected.WithLabelValues(reason).Inc()
		s.Logger.Warn("webhook rejected", "reason", reason, "segment_id", segmentID, "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, msg)
		return
	}

	// A signed body that does not parse is still genuine: store it, and
	// processing marks it failed. IngestKey always yields a dedupe key (the
	// one Parse gives, without decoding the whole body).
	dedupeKey, evType := elevenlabs.IngestKey(body, segmentID)
	headers := map[string]string{}
	for _, h := range keptHeaders {
		if v := r.Header.Get(h); v != "" {
			headers[h] = v
		}
	}
	ev := voicehook.NewEvent{
		ID:         "evt_" + uuid.Must(uuid.NewV7()).String(),
		Service:    voicehook.ServiceElevenLabs,
		Endpoint:   WebhookPath,
		DedupeKey:  dedupeKey,
		Type:       eventType(evType),
		SegmentID:  segmentID,
		RawPayload: body,
		Headers:    headers,
		ReceivedAt: start.UTC(),
	}
	res := s.Ingest(r.Context(), ev)
	if res.Err != nil {
		s.Metrics.Deliveries.WithLabelValues("unavailable").Inc()
		s.Logger.Error("storing webhook event", "err", res.Err, "segment_id", segmentID)
		writeError(w, http.StatusServiceUnavailable, "event not stored: store unavailable; retry")
		return
	}
	s.Metrics.AckLatency.Observe(s.Clock.Now().Sub(start).Seconds())
	reply := map[string]any{"status": "accepted", "event_id": res.EventID}
	if res.Duplicate {
		s.Metrics.Deliveries.WithLabelValues("duplicate").Inc()
		reply["duplicate"] = true
		s.Logger.Info("duplicate delivery", "event_id", res.EventID, "segment_id", segmentID)
	} else {
		s.Metrics.Deliveries.WithLabelValues("accepted").Inc()
		s.Logger.Debug("event accepted", "event_id", res.EventID, "segment_id", segmentID)
	}
	writeJSON(w, http.StatusOK, reply)
}

func eventType(t string) string {
	if t == "" {
		return "unknown"
	}
	return t
}

// authenticate accepts a valid ElevenLabs-Signature header or, for senders
// that cannot sign (Studio's callback_url), a valid callback token for the
// segment. It returns a metrics reason and a client message on refusal.
func (s *Server) authenticate(r *http.Request, segmentID string, body []byte) (reason, msg string) {
	if h := r.Header.Get(elevenlabs.HeaderName); h != "" {
		if err := s.Verifier.Verify(h, body); err != nil {
			return elevenlabs.Reason(err), "invalid signature: " + err.Error()
		}
		return "", ""
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		if segmentID == "" || !s.Tokens.Valid(segmentID, tok) {
			return "bad_token", "invalid callback token for this segment_id"
		}
		return "", ""
	}
	return "missing", "missing " + elevenlabs.HeaderName + " header (or callback token)"
}

// callbackURL is the URL a job's sender calls back, carrying a token that
// authenticates it in place of a signature.
func (s *Server) callbackURL(segmentID string) string {
	return strings.TrimSuffix(s.PublicURL, "/") + WebhookPath + "?segment_id=" + urlQueryEscape(segmentID) + "&token=" + s.Tokens.For(segmentID)
}
