package sqlstore

import "context"

// RescueCounts is what one rescue did, for the external tests.
type RescueCounts struct{ Retried, Extended, Ended int }

// HeartbeatForTest renews the queue's heartbeat once, as its loop does.
func (q *Queue) HeartbeatForTest(ctx context.Context) error { return q.heartbeat(ctx) }

// SweepReplicasForTest runs one sweep for silent replicas, as the loop does.
func (q *Queue) SweepReplicasForTest(ctx context.Context) (RescueCounts, error) {
	res, err := q.sweepReplicas(ctx)
	return RescueCounts(res), err
}
