package voicehook

import (
	"context"
	"time"
)

// An event can arrive before its job exists: the callback races the job's
// creation. Such an event is parked rather than polled: it holds no queue
// job and records no attempt while it waits, and creating a job wakes the
// events parked on that job's keys at once. A parked event whose grace runs
// out is woken by one sweep and fails on its next attempt.

// Waits parks events that wait for their job and wakes them when it comes.
type Waits interface {
	// Park records that a.EventID waits until until for a job that one of
	// keys (WaitKeys) names, and records a as its attempt unless the
	// event's latest attempt already says it waits: its history shows one
	// "waiting" row however often it is parked. Safe to repeat.
	Park(ctx context.Context, a Attempt, keys []string, until time.Time) error
	// Wake puts every event still received and parked on one of keys back
	// in the queue, and returns how many it woke.
	Wake(ctx context.Context, keys []string) (int, error)
}

// WaitKeys are the keys an event that looks for q waits on.
func WaitKeys(q JobQuery) []string {
	var keys []string
	if q.SegmentID != "" {
		keys = append(keys, "segment:"+q.SegmentID)
	}
	for _, id := range q.ExternalIDs {
		if id != "" {
			keys = append(keys, "external:"+id)
		}
	}
	return keys
}

// JobWaitKeys are the keys job satisfies: creating it wakes the events
// parked on them.
func JobWaitKeys(job Job) []string {
	q := JobQuery{SegmentID: job.SegmentID}
	if job.ExternalID != "" {
		q.ExternalIDs = []string{job.ExternalID}
	}
	return WaitKeys(q)
}
