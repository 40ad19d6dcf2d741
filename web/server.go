// Package web is voicehook's HTTP face: the ElevenLabs webhook, the JSON
// API, media, health and metrics. One delivery goes: webhook.go reads and
// authenticates it, hands it to the group-commit writer (Ingest), and
// answers only once the commit holding it is durable.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/metrics"
)

// Server holds the HTTP handlers' dependencies.
type Server struct {
	Verifier *elevenlabs.Verifier
	Tokens   *Tokens
	// Ingest stores one verified delivery durably (through the group
	// commit writer) and says what became of it.
	Ingest func(ctx context.Context, ev voicehook.NewEvent) voicehook.IngestResult
	// AckTimeout bounds a delivery's wait for its commit (--ack-timeout):
	// past it the delivery answers 503 with Retry-After (ack.go). 0: none.
	AckTimeout time.Duration
	// WriterRunning, if set, says how long the ingest writer's commit under
	// way has run: /readyz fails while it exceeds AckTimeout.
	WriterRunning func() time.Duration
	// Inbox serves the events' reads, replays and overview.
	Inbox   voicehook.Inbox
	Records voicehook.Records
	// RecordsPace, if set, says how fast voicehook may call the records'
	// service now (Airtable, which it slows down itself after repeated
	// 429s); the admin overview shows it.
	RecordsPace func() RecordsPace
	// Generations, if set, lets POST /api/jobs take text that voicehook
	// generates (it is nil without --elevenlabs-api-key).
	Generations voicehook.Generations
	// VoiceNotices, if set, adds to a segment the notice on the voice of
	// its generated voiceover (voice_notice).
	VoiceNotices voicehook.VoiceNotices
	// QA, if set, shows segments' QA checks, records the scripts of
	// callback jobs created with text, and serves /qa.
	QA voicehook.QAChecks
	// ScriptFromRecords: a job without text takes its segment's script
	// from the records (Airtable with --airtable-field-script).
	ScriptFromRecords bool
	// Wake tells the queue that events wait (after a replay).
	Wake func()
	// Acked, if set, is told each acknowledged delivery's time from
	// request to answer (--ack-target's signal).
	Acked func(time.Duration)
	// Waits, if set, wakes the events parked waiting for a job as soon as
	// the API creates it.
	Waits voicehook.Waits
	// Media serves stored audio under /media/.
	Media      http.Handler
	Metrics    *metrics.Metrics
	AdminToken string
	// MetricsToken, if set, is a bearer token that opens /metrics and
	// nothing else (the admin token opens it too).
	MetricsToken string
	// SessionRevocations records admin sign-outs; nil keeps them in this
	// process's memory (see session.go).
	SessionRevocations SessionRevocations
	PublicURL          string
	MaxBodyBytes       int64
	// Bodies bounds the memory held by webhook bodies being read, across
	// all requests (NewBodyBudget; nil means DefaultBodyMemory).
	Bodies *BodyBudget
	// Spool, if set, keeps long post_call_audio bodies' audio (up to
	// MaxCallAudioBytes, default DefaultMaxCallAudio) out of memory.
	Spool             voicehook.Spool
	MaxCallAudioBytes int64
	// SegmentTokenOptional accepts a signed delivery naming a segment_id
	// without that segment's callback token (--segment-token=optional): a
	// captured delivery can then be replayed onto another segment.
	SegmentTokenOptional bool
	bodiesOnce           sync.Once
	Clock                voicehook.Clock
	Logger               *slog.Logger

	memOnce        sync.Once
	memRevocations *memoryRevocations
}

func (s *Server) bodies() *BodyBudget {
	s.bodiesOnce.Do(func() {
		if s.Bodies == nil {
			s.Bodies = NewBodyBudget(DefaultBodyMemory)
		}
	})
	return s.Bodies
}

// WebhookPath is where ElevenLabs delivers.
const WebhookPath = "/webhooks/elevenlabs"

// Handler routes every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+WebhookPath, s.handleWebhook)

	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.requireAdmin(h)) }
	api("POST /api/jobs", s.handleCreateJob)
	api("GET /api/jobs", s.handleListJobs)
	api("GET /api/jobs/{id}", s.handleGetJob)
	api("POST /api/jobs/{id}/regenerate", s.handleRegenerate)
	api("GET /api/qa", s.handleListQA)
	api("GET /api/segments/{id}", s.handleGetSegment)
	api("GET /api/segments/{id}/callback-url", s.handleCallbackURL)
	api("GET /api/segments/{id}/captions.vtt", s.handleCaptions("vtt"))
	api("GET /api/segments/{id}/captions.srt", s.handleCaptions("srt"))
	api("GET /api/events", s.handleListEvents)
	api("GET /api/events/{id}", s.handleGetEvent)
	api("POST /api/events/{id}/replay", s.handleReplay)
	api("POST /api/events/{id}/retry-segment", s.handleRetrySegment)
	s.adminRoutes(mux) // the operator's pages: admin.go

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.requireMetrics(promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{})))
	}
	if s.Media != nil {
		mux.Handle("GET /media/", s.Media)
		mux.Handle("HEAD /media/", s.Media)
	}
	return mux
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	// A database that stopped answering can still take new connections
	// (or a ping may get a healthy one) while the writer's commit hangs:
	// deliveries are answered 503, so this replica is not ready.
	if s.AckTimeout > 0 && s.WriterRunning != nil {
		if running := s.WriterRunning(); running > s.AckTimeout {
			s.Logger.Warn("not ready: ingest commit stuck", "running", running, "ack_timeout", s.AckTimeout)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable",
				"message": fmt.Sprintf("store not committing: the current commit has run %s, over --ack-timeout %s", running.Round(time.Millisecond), s.AckTimeout)})
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.Inbox.Ping(ctx); err != nil {
		s.Logger.Warn("not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "message": "store not ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// writeJSON answers v as JSON. It does not escape <, > and & (Go's default
// writes & as \u0026): a callback URL must read as the URL it is, and the
// body is JSON that nosniff keeps any browser from reading as HTML.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers {"status":"error","message":…}. The message is safe to
// show a client; details go to the log.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"status": "error", "message": msg})
}

// writeStoreError maps a store error to a reply.
func (s *Server) writeStoreError(w http.ResponseWriter, err error, what string) {
	var perm *voicehook.PermanentError
	switch {
	case errors.As(err, &perm):
		// A records backend refused the request for a reason the caller
		// can fix (e.g. an Airtable segment that does not exist); the
		// reason is written to be shown.
		writeError(w, http.StatusUnprocessableEntity, perm.Reason)
	case errors.Is(err, voicehook.ErrNotFound):
		writeError(w, http.StatusNotFound, what+" not found")
	case errors.Is(err, voicehook.ErrInProgress):
		writeError(w, http.StatusConflict, "event is still being processed; replay it once it has finished")
	default:
		s.Logger.Error("store error", "what", what, "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable; try again")
	}
}
