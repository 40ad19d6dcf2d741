package sqlstore

// The overview's history (voicehook.Timeline): what its charts draw, and the
// pages' lookups across events and jobs.
//
// Events per bucket come from one GROUP BY over the events table. It names
// every status (status IN (…)) so that it runs on the existing
// (status, received_at) index alone, on SQLite and PostgreSQL alike: the
// ingest path keeps the indexes it had. The bucket is integer arithmetic on
// the stored microseconds, the same in both.
//
// Processing latency needs every duration of a bucket for its percentiles;
// they are read from an index on the attempts' finish time and sorted here.
// A window with more than maxLatencyRows attempts is read as an even sample:
// the attempts whose finish microsecond is a multiple of k, which picks about
// one in k, spread through the window.
//
// The queue's depth and oldest wait have no history in the events table (an
// event leaves the queue without a trace of when it was waiting), so a
// sample is written once a minute (RecordSample): the minute is the primary
// key, so replicas sampling the same minute write one row between them.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/voicehook/voicehook"
)

// schemaTimeline: the queue samples, and the indexes the charts and the job
// page read through. The events' related_job index is partial: an event is
// ingested without a job, so the ingest path does not write it.
const schemaTimeline = `
CREATE TABLE voicehook_samples (
	minute        BIGINT PRIMARY KEY,
	queue_depth   INTEGER NOT NULL,
	oldest_age_ms BIGINT NOT NULL,
	dead          INTEGER NOT NULL
);
CREATE INDEX voicehook_attempts_finished ON voicehook_attempts (finished_at, started_at, outcome);
CREATE INDEX voicehook_events_related_job ON voicehook_events (related_job, received_at) WHERE related_job <> '';
`

// sampleRetention is how long queue samples are kept.
const sampleRetention = 48 * time.Hour

// maxBuckets bounds one chart's buckets.
const maxBuckets = 2000

// maxLatencyRows bounds the attempt durations one latency query reads.
const maxLatencyRows = 20000

var _ voicehook.Timeline = (*DB)(nil)

// buckets checks a window and returns its number of buckets.
func buckets(since, until time.Time, step time.Duration) (int, error) {
	if step <= 0 || !until.After(since) {
		return 0, fmt.Errorf("window %s–%s by %s: want a positive step and until after since", since, until, step)
	}
	n := int((until.Sub(since) + step - 1) / step)
	if n > maxBuckets {
		return 0, fmt.Errorf("window %s by %s: %d buckets, at most %d", until.Sub(since), step, n, maxBuckets)
	}
	return n, nil
}

// EventHistory counts the events received in [since, until) by status, in
// buckets of step.
func (db *DB) EventHistory(ctx context.Context, since, until time.Time, step time.Duration) ([]voicehook.EventBucket, error) {
	n, err := buckets(since, until, step)
	if err != nil {
		return nil, err
	}
	out := make([]voicehook.EventBucket, n)
	for i := range out {
		out[i] = voicehook.EventBucket{Start: since.Add(time.Duration(i) * step).UTC(), Counts: map[voicehook.EventStatus]int{}}
	}
	query, args := eventHistoryQuery(since, until, step)
	type row struct {
		bucket int64
		status voicehook.EventStatus
		n      int
	}
	rows, err := readAll(ctx, db, query, func(s scanner) (row, error) {
		var r row
		if err := s.Scan(&r.bucket, &r.status, &r.n); err != nil {
			return r, fmt.Errorf("counting events by bucket: %w", err)
		}
		return r, nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("event history: %w", err)
	}
	for _, r := range rows {
		if r.bucket >= 0 && r.bucket < int64(n) {
			out[r.bucket].Counts[r.status] += r.n
		}
	}
	return out, nil
}

// eventHistoryQuery counts the events of [since, until) by bucket of step
// and status, on the (status, received_at) index.
func eventHistoryQuery(since, until time.Time, step time.Duration) (string, []any) {
	args := []any{micros(since), step.Microseconds()}
	for _, st := range voicehook.EventStatuses {
		args = append(args, st)
	}
	args = append(args, micros(since), micros(until))
	return `SELECT (received_at - ?) / ?, status, COUNT(*) FROM voicehook_events
		WHERE status IN (` + placeholders(len(voicehook.EventStatuses)) + `) AND received_at >= ? AND received_at < ?
		GROUP BY 1, 2`, args
}

// ProcessingLatency gives the percentiles of the attempts finished in
// [since, until) by bucket, polls that found no job left out.
func (db *DB) ProcessingLatency(ctx context.Context, since, until time.Time, step time.Duration) ([]voicehook.LatencyBucket, error) {
	return db.processingLatency(ctx, since, until, step, maxLatencyRows)
}

// latencyRows reads the bucket and duration of the attempts that match
// latencyWhere, on the voicehook_attempts_finished index alone.
const (
	latencyRows  = `SELECT (finished_at - ?) / ?, finished_at - started_at FROM voicehook_attempts WHERE `
	latencyWhere = `finished_at >= ? AND finished_at < ? AND outcome <> ?`
)

func (db *DB) processingLatency(ctx context.Context, since, until time.Time, step time.Duration, maxRows int) ([]voicehook.LatencyBucket, error) {
	n, err := buckets(since, until, step)
	if err != nil {
		return nil, err
	}
	where := latencyWhere
	args := []any{micros(since), micros(until), voicehook.AttemptWaiting}
	var total int
	if err := db.readRow(ctx, db.q(`SELECT COUNT(*) FROM voicehook_attempts WHERE `+where), args...).Scan(&total); err != nil {
		return nil, unavailable(fmt.Errorf("counting attempts: %w", err))
	}
	if total > maxRows {
		k := (total + maxRows - 1) / maxRows
		where += ` AND finished_at % ? = 0`
		args = append(args, k)
	}
	type row struct {
		bucket int64
		took   int64
	}
	rows, err := readAll(ctx, db, latencyRows+where,
		func(s scanner) (row, error) {
			var r row
			if err := s.Scan(&r.bucket, &r.took); err != nil {
				return r, fmt.Errorf("reading attempt durations: %w", err)
			}
			return r, nil
		}, append([]any{micros(since), step.Microseconds()}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("processing latency: %w", err)
	}
	took := make([][]time.Duration, n)
	for _, r := range rows {
		if r.bucket >= 0 && r.bucket < int64(n) {
			took[r.bucket] = append(took[r.bucket], time.Duration(max(r.took, 0))*time.Microsecond)
		}
	}
	out := make([]voicehook.LatencyBucket, n)
	for i, d := range took {
		out[i] = percentiles(d)
		out[i].Start = since.Add(time.Duration(i) * step).UTC()
	}
	return out, nil
}

// percentiles sums d up by nearest rank: the p-th percentile is the
// smallest duration that at least p% of d do not exceed. It sorts d.
func percentiles(d []time.Duration) voicehook.LatencyBucket {
	if len(d) == 0 {
		return voicehook.LatencyBucket{}
	}
	slices.Sort(d)
	rank := func(p int) time.Duration {
		i := (p*len(d) + 99) / 100 // ceil(p/100 × n), from 1
		return d[max(i, 1)-1]
	}
	return voicehook.LatencyBucket{Count: len(d), P50: rank(50), P95: rank(95), P99: rank(99)}
}

// RecordSample writes the queue as it stands at now for now's minute, unless
// a sample of that minute is there already (another replica's, or an
// earlier call's), and deletes the samples older than 48 hours. The serve
// command calls it once a minute.
func (db *DB) RecordSample(ctx context.Context, now time.Time) error {
	minute := now.Truncate(time.Minute)
	var depth, dead int
	for _, c := range []struct {
		status voicehook.EventStatus
		dst    *int
	}{{voicehook.EventReceived, &depth}, {voicehook.EventDead, &dead}} {
		if err := db.readRow(ctx, db.q("SELECT COUNT(*) FROM voicehook_events WHERE status = ?"), c.status).Scan(c.dst); err != nil {
			return unavailable(fmt.Errorf("sampling the queue: %w", err))
		}
	}
	var oldestAt int64
	err := db.readRow(ctx, db.q(`SELECT received_at FROM voicehook_events WHERE status = ? ORDER BY received_at LIMIT 1`),
		voicehook.EventReceived).Scan(&oldestAt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return unavailable(fmt.Errorf("sampling the queue's oldest event: %w", err))
	}
	var oldest time.Duration
	if oldestAt != 0 {
		oldest = max(now.Sub(fromMicros(oldestAt)), 0)
	}
	return db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_samples (minute, queue_depth, oldest_age_ms, dead)
			VALUES (?, ?, ?, ?) ON CONFLICT (minute) DO NOTHING`), micros(minute), depth, oldest.Milliseconds(), dead); err != nil {
			return fmt.Errorf("writing the queue sample: %w", err)
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM voicehook_samples WHERE minute < ?`), micros(minute.Add(-sampleRetention))); err != nil {
			return fmt.Errorf("pruning queue samples: %w", err)
		}
		return nil
	})
}

// QueueSamples lists the samples taken at or after since, oldest first.
func (db *DB) QueueSamples(ctx context.Context, since time.Time) ([]voicehook.QueueSample, error) {
	out, err := readAll(ctx, db, `SELECT minute, queue_depth, oldest_age_ms, dead FROM voicehook_samples
		WHERE minute >= ? ORDER BY minute`, func(s scanner) (voicehook.QueueSample, error) {
		var smp voicehook.QueueSample
		var minute, oldestMS int64
		if err := s.Scan(&minute, &smp.Depth, &oldestMS, &smp.Dead); err != nil {
			return smp, fmt.Errorf("reading queue samples: %w", err)
		}
		smp.At, smp.OldestAge = fromMicros(minute), time.Duration(oldestMS)*time.Millisecond
		return smp, nil
	}, micros(since))
	if err != nil {
		return nil, fmt.Errorf("queue samples: %w", err)
	}
	return out, nil
}

// JobEvents lists up to limit events whose related job is jobID, newest
// first.
func (db *DB) JobEvents(ctx context.Context, jobID string, limit int) ([]voicehook.Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	out, err := readAll(ctx, db, "SELECT "+eventColumns+` FROM voicehook_events WHERE related_job = ? AND related_job <> ''
		ORDER BY received_at DESC, id DESC LIMIT ?`, scanEvent, jobID, limit)
	if err != nil {
		return nil, fmt.Errorf("events of job %s: %w", jobID, err)
	}
	return out, nil
}

// EventAudio gives the voiceover duration and size of those of eventIDs
// that succeeded in completing their job, while the job's voiceover is
// still its segment's (no job of the segment completed later). Transcript
// events, which succeed with the checked job as their related job, are left
// out: they delivered no audio.
func (db *DB) EventAudio(ctx context.Context, eventIDs []string) (map[string]voicehook.EventAudio, error) {
	out := map[string]voicehook.EventAudio{}
	if len(eventIDs) == 0 {
		return out, nil
	}
	if len(eventIDs) > 1000 {
		return nil, fmt.Errorf("event audio: %d ids, at most 1000", len(eventIDs))
	}
	args := []any{}
	for _, id := range eventIDs {
		args = append(args, id)
	}
	args = append(args, voicehook.EventSucceeded, voicehook.TranscriptEventType, voicehook.JobCompleted, voicehook.JobCompleted)
	type row struct {
		id string
		a  voicehook.EventAudio
	}
	rows, err := readAll(ctx, db, `SELECT e.id, s.duration_ms, s.bytes FROM voicehook_events e
		JOIN voicehook_jobs j ON j.id = e.related_job
		JOIN voicehook_segments s ON s.id = j.segment_id
		WHERE e.id IN (`+placeholders(len(eventIDs))+`) AND e.status = ? AND e.type <> ? AND j.status = ? AND s.voiceover <> ''
		AND NOT EXISTS (SELECT 1 FROM voicehook_jobs later WHERE later.segment_id = j.segment_id
			AND later.status = ? AND later.completed_at > j.completed_at)`,
		func(s scanner) (row, error) {
			var r row
			if err := s.Scan(&r.id, &r.a.DurationMS, &r.a.Bytes); err != nil {
				return r, fmt.Errorf("reading event audio: %w", err)
			}
			return r, nil
		}, args...)
	if err != nil {
		return nil, fmt.Errorf("event audio: %w", err)
	}
	for _, r := range rows {
		out[r.id] = r.a
	}
	return out, nil
}
