package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/voicehook/voicehook"
)

// DB implements voicehook.Records with its own jobs and segments tables
// (--records sql).
var _ voicehook.Records = (*DB)(nil)

const jobColumns = "id, segment_id, type, status, external_id, error_details, created_at, completed_at, failed_at"

// CreateJob creates a processing job, and its segment if the segment is new.
// In the same transaction it supersedes the segment's jobs of the same type
// still processing: they fail with "superseded by <new job>" (their segment
// is left alone: its new job is under way). Without this an operator who
// creates a new job for a stuck one leaves the old one processing forever.
func (db *DB) CreateJob(ctx context.Context, nj voicehook.NewJob) (voicehook.Job, error) {
	// At the precision stored, so the job returned is the job read back.
	now := fromMicros(db.now())
	job := voicehook.Job{
		ID:         "job_" + uuid.Must(uuid.NewV7()).String(),
		SegmentID:  nj.SegmentID,
		Type:       nj.Type,
		Status:     voicehook.JobProcessing,
		ExternalID: nj.ExternalID,
		Timestamps: voicehook.Timestamps{Created: &now},
	}
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_segments (id, status, voiceover, sha256, bytes, duration_ms, created_at, updated_at)
			VALUES (?, ?, '', '', 0, 0, ?, ?) ON CONFLICT (id) DO NOTHING`), nj.SegmentID, voicehook.SegmentPending, micros(now), micros(now)); err != nil {
			return fmt.Errorf("creating segment: %w", err)
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE voicehook_jobs SET status = ?, error_details = ?, failed_at = ?
			WHERE segment_id = ? AND type = ? AND status = ?`),
			voicehook.JobFailed, voicehook.SupersededBy(job.ID), micros(now), job.SegmentID, job.Type, voicehook.JobProcessing); err != nil {
			return fmt.Errorf("superseding the segment's processing jobs: %w", err)
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_jobs (`+jobColumns+`) VALUES (?, ?, ?, ?, ?, '', ?, 0, 0)`),
			job.ID, job.SegmentID, job.Type, job.Status, job.ExternalID, micros(now)); err != nil {
			return fmt.Errorf("creating job: %w", err)
		}
		return nil
	})
	return job, err
}

// Job reads one job.
func (db *DB) Job(ctx context.Context, id string) (voicehook.Job, error) {
	job, err := scanJob(db.readRow(ctx, db.q("SELECT "+jobColumns+" FROM voicehook_jobs WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return job, fmt.Errorf("job %s: %w", id, voicehook.ErrNotFound)
	}
	return job, err
}

// Segment reads one segment.
func (db *DB) Segment(ctx context.Context, id string) (voicehook.Segment, error) {
	var s voicehook.Segment
	var updated int64
	err := db.readRow(ctx, db.q(`SELECT id, status, voiceover, sha256, bytes, duration_ms, captions, updated_at
		FROM voicehook_segments WHERE id = ?`), id).Scan(&s.ID, &s.Status, &s.Voiceover, &s.SHA256, &s.Bytes, &s.DurationMS, &s.Captions, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("segment %s: %w", id, voicehook.ErrNotFound)
	}
	if err != nil {
		return s, unavailable(fmt.Errorf("reading segment: %w", err))
	}
	s.UpdatedAt = fromMicros(updated)
	return s, nil
}

// ListJobs lists jobs newest first.
func (db *DB) ListJobs(ctx context.Context, f voicehook.JobFilter) ([]voicehook.Job, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.SegmentID != "" {
		where, args = append(where, "segment_id = ?"), append(args, f.SegmentID)
	}
	query := "SELECT " + jobColumns + " FROM voicehook_jobs"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	return db.queryJobs(ctx, query, append(args, limit)...)
}

// FindJob finds the voiceover job of a segment or, failing that, of one of
// the sender's ids, preferring a job still processing. It reads from the
// reader, which sees every commit made before the call (see Config.Reader):
// a worker sees a job created a moment ago.
func (db *DB) FindJob(ctx context.Context, q voicehook.JobQuery) (voicehook.Job, error) {
	order := " ORDER BY CASE WHEN status = 'processing' THEN 0 ELSE 1 END, created_at DESC, id DESC LIMIT 1"
	if q.SegmentID != "" {
		jobs, err := db.queryJobs(ctx, "SELECT "+jobColumns+" FROM voicehook_jobs WHERE type = ? AND segment_id = ?"+order,
			voicehook.JobTypeVoiceover, q.SegmentID)
		if err != nil || len(jobs) > 0 {
			return first(jobs), err
		}
	}
	if len(q.ExternalIDs) > 0 {
		args := []any{voicehook.JobTypeVoiceover}
		for _, id := range q.ExternalIDs {
			args = append(args, id)
		}
		jobs, err := db.queryJobs(ctx, "SELECT "+jobColumns+" FROM voicehook_jobs WHERE type = ? AND external_id <> '' AND external_id IN ("+
			placeholders(len(q.ExternalIDs))+")"+order, args...)
		if err != nil || len(jobs) > 0 {
			return first(jobs), err
		}
	}
	return voicehook.Job{}, fmt.Errorf("voiceover job for segment %q / ids %v: %w", q.SegmentID, q.ExternalIDs, voicehook.ErrNotFound)
}

func first(jobs []voicehook.Job) voicehook.Job {
	if len(jobs) == 0 {
		return voicehook.Job{}
	}
	return jobs[0]
}

// FinishJob moves a processing job to end.Status and its segment to match,
// in one transaction; a finished job is left as it is.
func (db *DB) FinishJob(ctx context.Context, job voicehook.Job, end voicehook.JobEnd) error {
	return db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return db.finishJob(ctx, tx, job, end) })
}

// Resolve ends a processing attempt that resolves a job, in one
// transaction: it claims the job as ClaimJob does; when the event owns the
// claim, finishes the job as FinishJob does; then records the attempt and the
// event's end r.Outcome gives for the owner, as RecordAttempt does. One
// commit instead of three, and the claim, the job's move and the event's
// outcome are never seen apart.
func (db *DB) Resolve(ctx context.Context, r voicehook.Resolution) (string, error) {
	var owner string
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		if owner, err = db.claimJob(ctx, tx, r.Job.ID, r.EventID); err != nil {
			return err
		}
		if owner == r.EventID {
			if err := db.finishJob(ctx, tx, r.Job, r.End); err != nil {
				return err
			}
		}
		a, fin := r.Outcome(owner)
		return db.recordAttempt(ctx, tx, a, &fin)
	})
	return owner, err
}

// finishJob applies end in tx: the job first, conditionally on it still
// processing, then its segment only if the job moved.
func (db *DB) finishJob(ctx context.Context, tx *sql.Tx, job voicehook.Job, end voicehook.JobEnd) error {
	if err := end.Problem(); err != nil {
		return fmt.Errorf("finishing job %s: %w", job.ID, err)
	}
	var res sql.Result
	var err error
	at := micros(end.At)
	if end.Status == voicehook.JobCompleted {
		res, err = tx.ExecContext(ctx, db.q("UPDATE voicehook_jobs SET status = ?, completed_at = ? WHERE id = ? AND status = ?"),
			end.Status, at, job.ID, voicehook.JobProcessing)
	} else {
		res, err = tx.ExecContext(ctx, db.q("UPDATE voicehook_jobs SET status = ?, error_details = ?, failed_at = ? WHERE id = ? AND status = ?"),
			end.Status, end.Reason, at, job.ID, voicehook.JobProcessing)
	}
	if err != nil {
		return fmt.Errorf("updating job %s: %w", job.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already finished: never moved back
	}
	seg := end.Status.SegmentStatus()
	if end.Status == voicehook.JobCompleted {
		a := end.Audio
		_, err = tx.ExecContext(ctx, db.q(`UPDATE voicehook_segments SET status = ?, voiceover = ?, sha256 = ?, bytes = ?, duration_ms = ?, captions = ?, updated_at = ? WHERE id = ?`),
			seg, a.URL, a.SHA256, a.Bytes, a.DurationMS, end.Captions, at, job.SegmentID)
	} else {
		_, err = tx.ExecContext(ctx, db.q(`UPDATE voicehook_segments SET status = ?, updated_at = ? WHERE id = ?`), seg, at, job.SegmentID)
	}
	if err != nil {
		return fmt.Errorf("updating segment %s: %w", job.SegmentID, err)
	}
	return nil
}

// CountJobs counts the jobs in status, up to upTo.
func (db *DB) CountJobs(ctx context.Context, status voicehook.JobStatus, upTo int) (int, error) {
	var n int
	err := db.readRow(ctx, db.q("SELECT COUNT(*) FROM (SELECT 1 FROM voicehook_jobs WHERE status = ? LIMIT ?) AS j"), status, upTo).Scan(&n)
	if err != nil {
		return 0, unavailable(fmt.Errorf("counting jobs: %w", err))
	}
	return n, nil
}

// Check checks that the store answers (voicehook doctor).
func (db *DB) Check(ctx context.Context) error { return db.Ping(ctx) }

func (db *DB) queryJobs(ctx context.Context, query string, args ...any) ([]voicehook.Job, error) {
	return readAll(ctx, db, query, scanJob, args...)
}

func scanJob(s scanner) (voicehook.Job, error) {
	var j voicehook.Job
	var created, completed, failed int64
	err := s.Scan(&j.ID, &j.SegmentID, &j.Type, &j.Status, &j.ExternalID, &j.ErrorDetails, &created, &completed, &failed)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return j, err
		}
		return j, fmt.Errorf("reading job: %w", err)
	}
	j.Timestamps = voicehook.Timestamps{Created: timePtr(created), Completed: timePtr(completed), Failed: timePtr(failed)}
	return j, nil
}
