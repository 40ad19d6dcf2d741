package sqlstore

// Pausing event processing, for `voicehook bench --scenario ack`: it
// measures acknowledgements with the workers idle, then with them working
// through the backlog that built up. River records a pause in river_queue
// and tells this process's producer at once when its driver has no
// listener (SQLite, database/sql on PostgreSQL); the producer applies it on
// its own loop, and also reconciles with the table every couple of seconds.
// So both methods wait for the producer's own event saying it applied the
// change: when they return, no new queue job is fetched (paused) or
// fetching has begun again (resumed).

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"
)

// PauseProcessing stops event processing's workers from taking new queue
// jobs, in this process and (through River's queue table) every replica;
// events are still stored, acknowledged and enqueued. Jobs already fetched
// run to their end. It returns once this process's workers have paused, or
// at once if the queue was already paused.
func (q *Queue) PauseProcessing(ctx context.Context) error {
	return q.setPaused(ctx, true)
}

// ResumeProcessing undoes PauseProcessing and returns once this process's
// workers fetch again (at once if the queue was not paused).
func (q *Queue) ResumeProcessing(ctx context.Context) error {
	return q.setPaused(ctx, false)
}

func (q *Queue) setPaused(ctx context.Context, pause bool) error {
	what, kind := "resuming", river.EventKindQueueResumed
	if pause {
		what, kind = "pausing", river.EventKindQueuePaused
	}
	current, err := q.client.QueueGet(ctx, river.QueueDefault)
	if err != nil {
		return fmt.Errorf("%s processing: reading the queue: %w", what, err)
	}
	if (current.PausedAt != nil) == pause {
		// The producer reads this state when it starts and at each
		// reconciliation, and sends no event for a state it already has.
		return nil
	}
	events, cancel := q.client.Subscribe(kind)
	defer cancel()
	if pause {
		err = q.client.QueuePause(ctx, river.QueueDefault, nil)
	} else {
		err = q.client.QueueResume(ctx, river.QueueDefault, nil)
	}
	if err != nil {
		return fmt.Errorf("%s processing: %w", what, err)
	}
	for {
		select {
		case ev := <-events:
			if ev.Queue != nil && ev.Queue.Name == river.QueueDefault {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("%s processing: waiting for the workers to apply it: %w", what, ctx.Err())
		}
	}
}
