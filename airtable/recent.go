package airtable

import (
	"sync"
	"time"
)

// recentJobs keeps the Jobs records FindJob just read, so that finishing
// the job it matched reuses that read instead of making another: the
// processor matches an event's job, obtains the audio, and finishes the
// job, usually within seconds. The claim already keeps every other
// voicehook event from moving the job meanwhile; what a reused read can
// miss is a user changing the job by hand within reuseJobRead, so a
// read is reused once, and only while that fresh.
type recentJobs struct {
	mu sync.Mutex
	m  map[string]recentJob
}

type recentJob struct {
	rec Record
	at  time.Time
}

// reuseJobRead is how long a read of a job stays good enough to finish
// it; maxRecent bounds the reads kept.
const (
	reuseJobRead = time.Minute
	maxRecent    = 10000
)

func (c *recentJobs) put(rec Record, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxRecent {
		// Forgetting only costs a read the next time.
		c.m = map[string]recentJob{}
	}
	c.m[rec.ID] = recentJob{rec, at}
}

// take returns the job's read if it is fresh at now, and forgets it.
func (c *recentJobs) take(id string, now time.Time) (Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	j, ok := c.m[id]
	delete(c.m, id)
	if !ok || now.Sub(j.at) > reuseJobRead || now.Before(j.at) {
		return Record{}, false
	}
	return j.rec, true
}
