package voicehook

import (
	"encoding/json"
	"time"
)

// Event is one delivery received at a webhook endpoint, stored raw before it
// is acknowledged.
type Event struct {
	ID           string            `json:"id"`
	Service      string            `json:"service"`
	Endpoint     string            `json:"endpoint"`
	DedupeKey    string            `json:"dedupe_key"`
	Type         string            `json:"type"`
	SegmentID    string            `json:"segment_id,omitempty"`
	RawPayload   json.RawMessage   `json:"raw_payload"`
	Headers      map[string]string `json:"headers,omitempty"`
	ReceivedAt   time.Time         `json:"received_at"`
	Status       EventStatus       `json:"status"`
	Processed    bool              `json:"processed"`
	Success      *bool             `json:"success"`
	ErrorDetails string            `json:"error_details,omitempty"`
	RelatedJob   string            `json:"related_job,omitempty"`
	Attempts     int               `json:"attempts"`
	UpdatedAt    time.Time         `json:"updated_at"`
	// TraceParent is the W3C trace context the delivery left when tracing
	// was on (its commit span's): processing continues that trace. TraceID
	// is its trace id, to look the trace up by. Both are "" otherwise.
	TraceParent string `json:"traceparent,omitempty"`
	TraceID     string `json:"trace_id,omitempty"`
}

// NewEvent is what the webhook handler hands to the store: a verified
// delivery, not yet durable.
type NewEvent struct {
	ID         string
	Service    string
	Endpoint   string
	DedupeKey  string
	Type       string
	SegmentID  string
	RawPayload []byte
	Headers    map[string]string
	// HeadersJSON, when not "", is Headers encoded as a JSON object, as
	// stored: the webhook handler encodes them while handling the request,
	// so the store's single ingest writer does not (it encodes Headers
	// itself when HeadersJSON is "").
	HeadersJSON string
	ReceivedAt  time.Time
	// TraceParent is the W3C traceparent of the delivery's commit span
	// ("" when tracing is off), kept with the event.
	TraceParent string
}

// IngestResult says what happened to one NewEvent: stored, or a duplicate of
// the event already stored under the same dedupe key.
type IngestResult struct {
	EventID   string
	Duplicate bool
	Err       error
}

// Attempt is one processing attempt of an event, kept for operators.
type Attempt struct {
	EventID    string         `json:"event_id"`
	Attempt    int            `json:"attempt"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
	Outcome    AttemptOutcome `json:"outcome"`
	Error      string         `json:"error,omitempty"`
}

// EventFinish is the final (or interim) state a processing step writes back
// to an event.
type EventFinish struct {
	Status       EventStatus
	ErrorDetails string
	RelatedJob   string
}

// EventFilter selects events for listing. Zero fields match everything.
type EventFilter struct {
	Status    EventStatus
	SegmentID string
	Type      string
	Since     time.Time
	Until     time.Time
	Limit     int
	// Before pages backwards: only events received before this event's
	// position in the list.
	BeforeID string
}
