package voicehook

import (
	"context"
	"time"
)

// Records is the system of record for jobs and segments: voicehook's own SQL
// tables (--records sql) or the user's Airtable base (--records airtable).
type Records interface {
	// CreateJob creates a job in status processing, creating its segment if
	// it is new.
	CreateJob(ctx context.Context, nj NewJob) (Job, error)
	Job(ctx context.Context, id string) (Job, error)
	Segment(ctx context.Context, id string) (Segment, error)
	ListJobs(ctx context.Context, f JobFilter) ([]Job, error)
	// FindJob returns the voiceover job an event belongs to, preferring the
	// newest still processing over the newest finished one; ErrNotFound if
	// there is none.
	FindJob(ctx context.Context, q JobQuery) (Job, error)
	// CompleteJob moves a processing job to completed and its segment to
	// voiceover_ready with the audio. It never moves a finished job: on one
	// it changes nothing and returns nil. Safe to repeat.
	CompleteJob(ctx context.Context, job Job, audio StoredAudio, at time.Time) error
	// FailJob moves a processing job to failed with reason and its segment
	// to voiceover_failed, under the same rules as CompleteJob.
	FailJob(ctx context.Context, job Job, reason string, at time.Time) error
}

// EventMirror is implemented by Records that keep their own copy of webhook
// events (Airtable's "Webhook Events" table). Both calls are safe to repeat.
type EventMirror interface {
	MirrorEvent(ctx context.Context, ev Event) error
}

// AudioObject is a verified audio file on local disk, ready to be stored.
type AudioObject struct {
	// Key is the storage key, derived from the segment and the audio's hash
	// so that storing the same audio twice writes the same object.
	Key         string
	Path        string
	ContentType string
	SHA256      string
	Bytes       int64
	DurationMS  int64
	// Temporary says Path is the caller's own temporary file, whose SHA256
	// and Bytes the caller computed as it wrote it, and which the caller
	// deletes after Put if it is still there. A backend on the same file
	// system may then move the file into place instead of copying it.
	Temporary bool
}

// Storage keeps audio and returns a permanent URL for it.
type Storage interface {
	// Put stores obj and returns where it now lives. It checks what it
	// stored (size, and hash where the backend allows); a mismatch is a
	// transient error. Safe to repeat.
	Put(ctx context.Context, obj AudioObject) (StoredAudio, error)
}

// Checker is implemented by adapters that can check their configuration end
// to end before a user goes live (voicehook doctor).
type Checker interface {
	Check(ctx context.Context) error
}

// Clock tells the time; tests use a fake one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }
