// Package voicehook holds the domain of the voicehook service: webhook events,
// voiceover jobs and segments and their states (status.go), the outcome an
// ElevenLabs callback normalises to, and the seams the service is built
// around (seams.go): the Inbox of events, the Claims that processing keeps,
// the Records of jobs and segments, and the Storage of audio.
//
// Adapters live in folders named after their technology (sqlite/, postgres/,
// airtable/, disk/, …); the wiring lives in cmd/voicehook. Imports point toward
// this package, never away from it.
package voicehook

import (
	"errors"
	"fmt"
	"time"
)

// JobTypeVoiceover is the only job type voicehook moves.
const JobTypeVoiceover = "voiceover_generation"

// ServiceElevenLabs is the Service recorded on every event received at
// /webhooks/elevenlabs.
const ServiceElevenLabs = "ElevenLabs"

// Sentinel errors shared by every adapter.
var (
	ErrNotFound    = errors.New("not found")
	ErrUnavailable = errors.New("store unavailable")
	// ErrInProgress: the event is still waiting to be processed, so there is
	// nothing to replay yet.
	ErrInProgress = errors.New("event is still being processed")
	// ErrFinished: the thing to change is already over (a QA check with
	// its verdict), so nothing changed.
	ErrFinished = errors.New("already finished")
)

// PermanentError marks a failure that no retry can fix: the payload names no
// audio, the audio is not audio, the source answered 4xx. The event fails at
// once and its job fails with Reason.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Reason, e.Err)
	}
	return e.Reason
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a *PermanentError with a reason shown to operators.
func Permanent(reason string, err error) error {
	return &PermanentError{Reason: reason, Err: err}
}

// IsPermanent reports whether err is, or wraps, a *PermanentError.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}

// Timestamps records when a job reached each state; it is the seed's
// "Timestamps" JSON cell.
type Timestamps struct {
	Created   *time.Time `json:"created,omitempty"`
	Completed *time.Time `json:"completed,omitempty"`
	Failed    *time.Time `json:"failed,omitempty"`
}
