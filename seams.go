package voicehook

import (
	"context"
	"io"
	"time"
)

// The seams voicehook is built around. Each is named for what it is to its
// callers, takes and returns plain data, and is implemented whole by every
// adapter that offers it: a backend that lacks a capability does not
// implement the interface, and the wiring in cmd/voicehook says which
// adapter plays which part.
//
//	Inbox     the durable events: ingest, read, list, replay, purge, overview (web/, cmd/)
//	Timeline  the overview's history and the pages' cross-lookups (web/)
//	Claims    attempt bookkeeping and the job claims (process/)
//	Resolver  the end of an attempt that resolves a job, in one step (process/)
//	Records   the jobs and segments: SQL tables or the user's Airtable base
//	Storage   the audio: local disk, S3 or the NCA Toolkit

// Inbox is the durable inbox of webhook events.
type Inbox interface {
	// Ingest stores verified deliveries durably, in one commit, and says
	// what became of each (stored, or a duplicate of an earlier one).
	Ingest(ctx context.Context, events []NewEvent) []IngestResult
	Event(ctx context.Context, id string) (Event, error)
	// ListEvents lists events newest first.
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)
	// Attempts lists an event's processing attempts, oldest first.
	Attempts(ctx context.Context, eventID string) ([]Attempt, error)
	// Replay puts a finished event back in the queue; ErrInProgress if it
	// is still waiting to be processed.
	Replay(ctx context.Context, id string) error
	// Overview counts events for the operator's first look and the metrics.
	Overview(ctx context.Context, now time.Time) (Overview, error)
	// PurgeEvents deletes up to limit finished events (and their attempts)
	// unchanged since before; it never deletes a waiting event.
	PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error)
	// Ping says whether the store answers.
	Ping(ctx context.Context) error
}

// Timeline is what the operator's pages draw and look up beyond the Inbox:
// the history behind the overview's charts, a job's events and the audio of
// succeeded events. The SQL store implements it (it is every deployment's
// Inbox); the pages do without whatever an Inbox lacks.
type Timeline interface {
	// EventHistory counts the events received in [since, until) by status,
	// in buckets of step from since: every bucket, empty or not, oldest
	// first.
	EventHistory(ctx context.Context, since, until time.Time, step time.Duration) ([]EventBucket, error)
	// ProcessingLatency gives the percentiles of the processing attempts
	// that finished in [since, until) (polls that found no job yet left
	// out), in buckets of step from since, every one, oldest first. With
	// very many attempts the percentiles come from an even sample of them.
	ProcessingLatency(ctx context.Context, since, until time.Time, step time.Duration) ([]LatencyBucket, error)
	// QueueSamples lists the queue samples taken at or after since (one a
	// minute, kept 48 hours), oldest first.
	QueueSamples(ctx context.Context, since time.Time) ([]QueueSample, error)
	// JobEvents lists up to limit events whose related job is jobID,
	// newest first.
	JobEvents(ctx context.Context, jobID string, limit int) ([]Event, error)
	// EventAudio gives, for those of eventIDs that succeeded in storing
	// their job's voiceover, that voiceover's duration and size while it is
	// still its segment's voiceover. Other ids are absent from the map.
	EventAudio(ctx context.Context, eventIDs []string) (map[string]EventAudio, error)
}

// Claims is what processing keeps besides the records: each event's
// attempts and state, and which event resolves each job.
type Claims interface {
	// Event reads an event with every write committed before the call.
	Event(ctx context.Context, id string) (Event, error)
	// RecordAttempt appends a to its event's history and, when fin is not
	// nil, moves the event to fin, atomically.
	RecordAttempt(ctx context.Context, a Attempt, fin *EventFinish) error
	// ClaimJob makes eventID the event that resolves jobID unless another
	// event already is; it returns the owner. The claim is what makes "a
	// job moves once" hold across retries, replays and replicas.
	ClaimJob(ctx context.Context, jobID, eventID string) (owner string, err error)
	// ClaimOwner returns the event that claimed jobID, or ErrNotFound.
	ClaimOwner(ctx context.Context, jobID string) (string, error)
}

// Resolver ends an attempt that resolves a job: it claims the job for the
// event, moves the job and its segment if the event owns the claim (never a
// finished job), and records the attempt and the event's end that
// Resolution.End gives for the owner. It returns the claim's owner. Safe to
// repeat. The SQL store does all of it in one transaction; with records kept
// elsewhere, process.StepResolver does it in three steps.
type Resolver interface {
	Resolve(ctx context.Context, r Resolution) (owner string, err error)
}

// Records is the system of record for jobs and segments: voicehook's own SQL
// tables (--records sql) or the user's Airtable base (--records airtable).
type Records interface {
	// CreateJob creates a job in status processing, creating its segment if
	// it is new. It supersedes the segment's jobs of the same type still
	// processing: each fails with SupersededBy(new job's id) (timestamps.
	// failed set, the segment left as it is), so a segment has at most one
	// processing job.
	CreateJob(ctx context.Context, nj NewJob) (Job, error)
	Job(ctx context.Context, id string) (Job, error)
	Segment(ctx context.Context, id string) (Segment, error)
	ListJobs(ctx context.Context, f JobFilter) ([]Job, error)
	// CountJobs counts the jobs in status, stopping at upTo: a result of
	// upTo means "upTo or more".
	CountJobs(ctx context.Context, status JobStatus, upTo int) (int, error)
	// FindJob returns the voiceover job an event belongs to, preferring the
	// newest still processing over the newest finished one; ErrNotFound if
	// there is none.
	FindJob(ctx context.Context, q JobQuery) (Job, error)
	// FinishJob moves a processing job to end.Status and its segment to the
	// matching state (with the audio when completed). It never moves a
	// finished job: on one it changes nothing and returns nil. Safe to
	// repeat.
	FinishJob(ctx context.Context, job Job, end JobEnd) error
	// Check checks the configuration end to end (voicehook doctor).
	Check(ctx context.Context) error
}

// EventMirror keeps a copy of webhook events for users who look at them
// elsewhere (Airtable's "Webhook Events" table). Safe to repeat.
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
	// Check checks the configuration end to end (voicehook doctor).
	Check(ctx context.Context) error
}

// AudioReader reads back audio a Storage kept, by key: what voiceover QA
// sends to speech to text when the audio's URL is not public HTTPS.
// Implemented by the storages that can (local disk, S3).
type AudioReader interface {
	OpenAudio(ctx context.Context, key string) (io.ReadCloser, error)
}

// Spool keeps the audio that arrived inside a webhook body (a long call's
// post_call_audio, decoded as it streamed in) from the acknowledgement until
// processing has stored it. It lives in the store, beside the event, so any
// replica can process it and a crash loses nothing acknowledged. Entries are
// keyed by event id.
type Spool interface {
	// CreateSpool starts eventID's audio; what is written is durable once
	// Close returns nil. A write or Close error leaves a partial entry that
	// DeleteSpool (or the orphan sweep) removes.
	CreateSpool(ctx context.Context, eventID string) (io.WriteCloser, error)
	// OpenSpool reads eventID's audio back; ErrNotFound if there is none.
	OpenSpool(ctx context.Context, eventID string) (io.ReadCloser, error)
	// DeleteSpool removes eventID's audio (once stored, or refused).
	DeleteSpool(ctx context.Context, eventID string) error
}

// Clock tells the time; tests use a fake one (voicehooktest.Clock).
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// Run is one processing attempt of an event, as the queue hands it over.
type Run struct {
	EventID     string
	Attempt     int
	MaxAttempts int
}

// RunResult tells the queue what to do after an attempt.
type RunResult struct {
	// Retry, if set, is a transient failure: run again after a backoff.
	Retry error
	// Wait, if positive, runs the event again after this long without
	// counting an attempt (waiting for its job to be created).
	Wait time.Duration
}

// EventProcessor runs processing attempts (process.Processor); the queue
// that holds the events' turns calls it.
type EventProcessor interface {
	Process(ctx context.Context, run Run) RunResult
}
