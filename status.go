package voicehook

// The states of events, jobs, segments and attempts, and the moves between
// them, in one place: every package compares against these types, so a
// misspelt state is a compile error, and a new state is added here once.

// EventStatus is where an event is in processing.
type EventStatus string

const (
	// EventReceived: stored and acknowledged, waiting to be processed (or
	// being processed).
	EventReceived  EventStatus = "received"
	EventSucceeded EventStatus = "succeeded"
	EventFailed    EventStatus = "failed"
	// EventIgnored: a genuine event that changes nothing (another event
	// type, progress, a late or repeated callback).
	EventIgnored EventStatus = "ignored"
	// EventDead: gave up after --max-attempts; waits for a replay.
	EventDead EventStatus = "dead"
)

// EventStatuses lists every event status, in the order operators read them.
var EventStatuses = []EventStatus{EventReceived, EventSucceeded, EventFailed, EventIgnored, EventDead}

// Finished reports whether processing of the event is over.
func (s EventStatus) Finished() bool { return s != EventReceived && s.Valid() }

// Valid reports whether s is one of EventStatuses.
func (s EventStatus) Valid() bool {
	switch s {
	case EventReceived, EventSucceeded, EventFailed, EventIgnored, EventDead:
		return true
	}
	return false
}

// CanMoveTo reports whether an event may go from s to next: a waiting event
// ends in any finished state; a finished event only goes back to waiting
// (a replay).
func (s EventStatus) CanMoveTo(next EventStatus) bool {
	if s == EventReceived {
		return next.Finished()
	}
	return s.Finished() && next == EventReceived
}

// JobStatus is where a voiceover job is, as in the seed.
type JobStatus string

const (
	JobProcessing JobStatus = "processing"
	JobCompleted  JobStatus = "completed"
	JobFailed     JobStatus = "failed"
)

// JobStatuses lists every job status.
var JobStatuses = []JobStatus{JobProcessing, JobCompleted, JobFailed}

// Finished reports whether the job has reached its final state; a finished
// job is never moved again.
func (s JobStatus) Finished() bool { return s == JobCompleted || s == JobFailed }

// Valid reports whether s is one of JobStatuses.
func (s JobStatus) Valid() bool { return s == JobProcessing || s.Finished() }

// CanMoveTo reports whether a job may go from s to next: only a processing
// job moves, and only to a final state.
func (s JobStatus) CanMoveTo(next JobStatus) bool { return s == JobProcessing && next.Finished() }

// SegmentStatus is the segment state a finished job leaves its segment in:
// voiceover_ready for completed, voiceover_failed for failed.
func (s JobStatus) SegmentStatus() SegmentStatus {
	switch s {
	case JobCompleted:
		return SegmentVoiceoverReady
	case JobFailed:
		return SegmentVoiceoverFailed
	}
	return SegmentPending
}

// SegmentStatus is where a segment's voiceover is, as in the seed. A segment
// starts pending; each job that finishes sets it to its own outcome.
type SegmentStatus string

const (
	SegmentPending         SegmentStatus = "pending"
	SegmentVoiceoverReady  SegmentStatus = "voiceover_ready"
	SegmentVoiceoverFailed SegmentStatus = "voiceover_failed"
)

// AttemptOutcome is how one processing attempt ended: a finished event's
// status, or one of the two outcomes that leave the event waiting.
type AttemptOutcome string

const (
	AttemptSucceeded AttemptOutcome = AttemptOutcome(EventSucceeded)
	AttemptFailed    AttemptOutcome = AttemptOutcome(EventFailed)
	AttemptIgnored   AttemptOutcome = AttemptOutcome(EventIgnored)
	AttemptDead      AttemptOutcome = AttemptOutcome(EventDead)
	// AttemptRetry: a transient failure; the queue runs the event again
	// after a backoff.
	AttemptRetry AttemptOutcome = "retry"
	// AttemptWaiting: no job matches yet; the event waits within
	// --job-match-grace without counting against --max-attempts.
	AttemptWaiting AttemptOutcome = "waiting"
)

// OutcomeOf is the outcome of an attempt that ends the event in status s.
func OutcomeOf(s EventStatus) AttemptOutcome { return AttemptOutcome(s) }

// Badge is the CSS suffix the admin pages show a state with; empty for a
// state this package does not know (shown plain).
func Badge(state string) string {
	switch {
	case EventStatus(state).Valid(), JobStatus(state).Valid():
	case SegmentStatus(state) == SegmentPending, SegmentStatus(state) == SegmentVoiceoverReady,
		SegmentStatus(state) == SegmentVoiceoverFailed:
	case AttemptOutcome(state) == AttemptRetry, AttemptOutcome(state) == AttemptWaiting:
	default:
		return ""
	}
	out := []byte(state)
	for i, c := range out {
		if c == '_' {
			out[i] = '-'
		}
	}
	return string(out)
}
