package voicehook

import "time"

// Overview is the state of the service at a glance, for the operator's
// overview page and the metrics computed at scrape time.
type Overview struct {
	// At is the time the counts were taken relative to.
	At time.Time `json:"at"`
	// LastHour and LastDay count the events received in the hour and the
	// day before At, by status (received, succeeded, failed, ignored, dead).
	LastHour map[EventStatus]int `json:"last_hour"`
	LastDay  map[EventStatus]int `json:"last_day"`
	// Received counts every event still waiting to be processed (status
	// received, whenever it arrived): the queue depth.
	Received int `json:"received"`
	// Dead counts every dead event, whenever it arrived.
	Dead int `json:"dead"`
	// Attempts counts every processing attempt recorded.
	Attempts int64 `json:"attempts"`
	// OldestReceivedID and OldestReceivedAt name the event that has waited
	// longest to be processed; empty and zero when none waits.
	OldestReceivedID string    `json:"oldest_received_id,omitempty"`
	OldestReceivedAt time.Time `json:"oldest_received_at,omitzero"`
}

// OldestAge is how long the oldest unprocessed event has waited at At, or 0
// when none waits.
func (o Overview) OldestAge() time.Duration {
	if o.OldestReceivedAt.IsZero() || o.At.Before(o.OldestReceivedAt) {
		return 0
	}
	return o.At.Sub(o.OldestReceivedAt)
}

// The overview's charts (Timeline) draw these: each slice of time a bucket
// starting at Start, as wide as the chart's step.

// EventBucket counts the events received in one slice of time, by status.
type EventBucket struct {
	Start  time.Time
	Counts map[EventStatus]int
}

// Total is the number of events in the bucket.
func (b EventBucket) Total() int {
	n := 0
	for _, c := range b.Counts {
		n += c
	}
	return n
}

// LatencyBucket sums up how long the things timed in one slice of time took:
// Count of them, and the 50th, 95th and 99th percentiles. Count is 0 (and
// the percentiles meaningless) when nothing was timed.
type LatencyBucket struct {
	Start         time.Time
	Count         int
	P50, P95, P99 time.Duration
}

// QueueSample is the queue as it stood at one minute: the events waiting to
// be processed, how long the oldest of them had waited, and the dead events.
type QueueSample struct {
	At        time.Time
	Depth     int
	OldestAge time.Duration
	Dead      int
}

// EventAudio is the voiceover a succeeded event delivered, as its segment
// keeps it.
type EventAudio struct {
	DurationMS int64
	Bytes      int64
}
