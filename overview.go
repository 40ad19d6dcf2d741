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
