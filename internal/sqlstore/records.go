package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/voicehook/voicehook"
)

// DB implements voicehook.Records with its own jobs and segments tables
// (--records sql).
var _ voicehook.Records = (*DB)(nil)

const jobColumns = "id, segment_id, type, status, external_id, error_details, created_at, completed_at, failed_at"

// CreateJob creates a processing job, and its segment if the segment is new.
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
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_segments (id, status, voiceover, sha256, bytes, duration_ms, created_at, updated_at)
			VALUES (?, ?, '', '', 0, 0, ?, ?) ON CONFLICT (id) DO NOTHING`), nj.SegmentID, voicehook.SegmentPending, micros(now), micros(now)); err != nil {
			return fmt.Errorf("creating segment: %w", err)
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
	job, err := scanJob(db.r.QueryRowContext(ctx, db.q("SELECT "+jobColumns+" FROM voicehook_jobs WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return job, fmt.Errorf("job %s: %w", id, voicehook.ErrNotFound)
	}
	return job, err
}

// Segment reads one segment.
func (db *DB) Segment(ctx context.Context, id string) (voicehook.Segment, error) {
	var s voicehook.Segment
	var updated int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, status, voiceover, sha256, bytes, duration_ms, updated_at
		FROM voicehook_segments WHERE id = ?`), id).Scan(&s.ID, &s.Status, &s.Voiceover, &s.SHA256, &s.Bytes, &s.DurationMS, &updated)
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
	return db.queryJobs(ctx, db.r, query, append(args, limit)...)
}

// FindJob finds the voiceover job of a segment or, failing that, of one of
// the sender's ids, preferring a job still processing. It reads from the
// writer: a worker must see a job created a moment ago.
func (db *DB) FindJob(ctx context.Context, q voicehook.JobQuery) (voicehook.Job, error) {
	order := " ORDER BY CASE WHEN status = 'processing' THEN 0 ELSE 1 END, created_at DESC, id DESC LIMIT 1"
	if q.SegmentID != "" {
		jobs, err := db.queryJobs(ctx, db.r, "SELECT "+jobColumns+" FROM voicehook_jobs WHERE type = ? AND segment_id = ?"+order,
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
		jobs, err := db.queryJobs(ctx, db.r, "SELECT "+jobColumns+" FROM voicehook_jobs WHERE type = ? AND external_id <> '' AND external_id IN ("+
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

// CompleteJob moves a processing job to completed and its segment to
// voiceover_ready, in one transaction; a finished job is left as it is.
func (db *DB) CompleteJob(ctx context.Context, job voicehook.Job, audio voicehook.StoredAudio, at time.Time) error {
	return db.withTx(ctx, func(tx *sql.Tx) error { return db.finishJob(ctx, tx, completeJob(job, audio, at)) })
}

// FailJob moves a processing job to failed and its segment to
// voiceover_failed, in one transaction; a finished job is left as it is.
func (db *DB) FailJob(ctx context.Context, job voicehook.Job, reason string, at time.Time) error {
	return db.withTx(ctx, func(tx *sql.Tx) error { return db.finishJob(ctx, tx, failJob(job, reason, at)) })
}

// ClaimAndCompleteJob ends a processing attempt that resolves a job, in one
// transaction: it claims job for eventID as ClaimJob does; when the event
// owns the claim, completes the job as CompleteJob does; then records the
// attempt and the event's new state that end returns for the claim's owner,
// as FinishAttempt does. One commit instead of three, and the claim, the
// job's move and the event's outcome are never seen apart. end may be nil
// (nothing recorded). It returns the claim's owner.
func (db *DB) ClaimAndCompleteJob(ctx context.Context, job voicehook.Job, eventID string, audio voicehook.StoredAudio, at time.Time,
	end func(owner string) (voicehook.Attempt, voicehook.EventFinish)) (string, error) {
	return db.claimAndFinish(ctx, job, eventID, completeJob(job, audio, at), end)
}

// ClaimAndFailJob is ClaimAndCompleteJob for FailJob.
func (db *DB) ClaimAndFailJob(ctx context.Context, job voicehook.Job, eventID, reason string, at time.Time,
	end func(owner string) (voicehook.Attempt, voicehook.EventFinish)) (string, error) {
	return db.claimAndFinish(ctx, job, eventID, failJob(job, reason, at), end)
}

func (db *DB) claimAndFinish(ctx context.Context, job voicehook.Job, eventID string, m jobMove,
	end func(owner string) (voicehook.Attempt, voicehook.EventFinish)) (string, error) {
	var owner string
	err := db.withTx(ctx, func(tx *sql.Tx) (err error) {
		if owner, err = db.claimJob(ctx, tx, job.ID, eventID); err != nil {
			return err
		}
		if owner == eventID {
			if err := db.finishJob(ctx, tx, m); err != nil {
				return err
			}
		}
		if end == nil {
			return nil
		}
		a, fin := end(owner)
		return db.finishAttempt(ctx, tx, a, &fin)
	})
	return owner, err
}

// jobMove is the two updates that finish a job and its segment.
type jobMove struct {
	job, segment         string
	jobSQL, segSQL       string
	jobArgs, segmentArgs []any
}

func completeJob(job voicehook.Job, audio voicehook.StoredAudio, at time.Time) jobMove {
	return jobMove{job: job.ID, segment: job.SegmentID,
		jobSQL:      "UPDATE voicehook_jobs SET status = ?, completed_at = ? WHERE id = ? AND status = ?",
		jobArgs:     []any{voicehook.JobCompleted, micros(at), job.ID, voicehook.JobProcessing},
		segSQL:      `UPDATE voicehook_segments SET status = ?, voiceover = ?, sha256 = ?, bytes = ?, duration_ms = ?, updated_at = ? WHERE id = ?`,
		segmentArgs: []any{voicehook.SegmentVoiceoverReady, audio.URL, audio.SHA256, audio.Bytes, audio.DurationMS, micros(at), job.SegmentID}}
}

func failJob(job voicehook.Job, reason string, at time.Time) jobMove {
	return jobMove{job: job.ID, segment: job.SegmentID,
		jobSQL:      "UPDATE voicehook_jobs SET status = ?, error_details = ?, failed_at = ? WHERE id = ? AND status = ?",
		jobArgs:     []any{voicehook.JobFailed, reason, micros(at), job.ID, voicehook.JobProcessing},
		segSQL:      `UPDATE voicehook_segments SET status = ?, updated_at = ? WHERE id = ?`,
		segmentArgs: []any{voicehook.SegmentVoiceoverFailed, micros(at), job.SegmentID}}
}

// finishJob applies m in tx; a job no longer processing is left as it is.
func (db *DB) finishJob(ctx context.Context, tx *sql.Tx, m jobMove) error {
	res, err := tx.ExecContext(ctx, db.q(m.jobSQL), m.jobArgs...)
	if err != nil {
		return fmt.Errorf("updating job %s: %w", m.job, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already finished: never moved back
	}
	if _, err := tx.ExecContext(ctx, db.q(m.segSQL), m.segmentArgs...); err != nil {
		return fmt.Errorf("updating segment %s: %w", m.segment, err)
	}
	return nil
}

func (db *DB) queryJobs(ctx context.Context, pool *sql.DB, query string, args ...any) ([]voicehook.Job, error) {
	return queryAll(ctx, pool, db.q(query), scanJob, args...)
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
