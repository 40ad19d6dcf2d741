package voicehook

import (
	"fmt"
	"time"
)

// JobEnd is how a job finishes: completed with its audio, or failed with a
// reason.
type JobEnd struct {
	Status JobStatus // JobCompleted or JobFailed
	Audio  StoredAudio
	// Captions is the URL of the captions of a generated voiceover.
	Captions string
	Reason   string
	At       time.Time
}

// Problem says why end cannot finish a job (nil when it can): a job only
// moves from processing to a final status.
func (e JobEnd) Problem() error {
	if !JobProcessing.CanMoveTo(e.Status) {
		return fmt.Errorf("%q is not a final job status", e.Status)
	}
	return nil
}

// Completed is the end of a job whose audio is stored.
func Completed(audio StoredAudio, at time.Time) JobEnd {
	return JobEnd{Status: JobCompleted, Audio: audio, At: at}
}

// Failed is the end of a job that failed for reason.
func Failed(reason string, at time.Time) JobEnd {
	return JobEnd{Status: JobFailed, Reason: reason, At: at}
}

// Resolution is what processing decided for an event that resolves a job:
// the job's end, and the attempt and event end to record. A Resolver
// records it; End settles what to record once the claim's owner is known.
type Resolution struct {
	EventID string
	Job     Job
	End     JobEnd
	// Started and Finished time the attempt.
	Started, Finished time.Time
	// Finish is the event's end when it owns the claim.
	Finish EventFinish
}

// Outcome is the attempt and the event's end to record when owner holds the
// job's claim: the decided Finish if owner is this event; otherwise the event
// is ignored, because another event resolves the job.
func (r Resolution) Outcome(owner string) (Attempt, EventFinish) {
	fin := r.Finish
	if owner != r.EventID {
		fin = LostClaim(r.Job.ID, owner)
	}
	return Attempt{EventID: r.EventID, StartedAt: r.Started, FinishedAt: r.Finished,
		Outcome: OutcomeOf(fin.Status), Error: fin.ErrorDetails}, fin
}

// LostClaim is the end of an event whose job another event resolves.
func LostClaim(jobID, owner string) EventFinish {
	return EventFinish{Status: EventIgnored, RelatedJob: jobID,
		ErrorDetails: fmt.Sprintf("job %s is resolved by event %s", jobID, owner)}
}
