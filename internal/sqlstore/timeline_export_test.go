package sqlstore

import (
	"context"
	"time"

	"github.com/voicehook/voicehook"
)

// ProcessingLatencyForTest is ProcessingLatency reading at most maxRows
// durations, so a test can reach the sampling without 20,000 attempts.
func (db *DB) ProcessingLatencyForTest(ctx context.Context, since, until time.Time, step time.Duration, maxRows int) ([]voicehook.LatencyBucket, error) {
	return db.processingLatency(ctx, since, until, step, maxRows)
}

// EventHistoryQueryForTest is the query EventHistory runs, with its
// arguments, for the test of its plan.
func EventHistoryQueryForTest(since, until time.Time, step time.Duration) (string, []any) {
	return eventHistoryQuery(since, until, step)
}

// LatencyQueryForTest is the query ProcessingLatency reads durations with
// (unsampled), for the test of its plan.
const LatencyQueryForTest = latencyRows + latencyWhere
