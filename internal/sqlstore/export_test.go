package sqlstore

import "context"

// EnqueuePendingForTest runs one pass of the enqueuer, for the external
// tests of enqueuing: they build a Queue without starting it.
func (q *Queue) EnqueuePendingForTest(ctx context.Context, limit int) (int, error) {
	return q.enqueuePending(ctx, limit)
}
