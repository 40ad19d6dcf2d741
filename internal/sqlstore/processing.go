package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/voicehook/voicehook"
)

// DB keeps the claims of voicehook.Claims and resolves jobs in one
// transaction (voicehook.Resolver) when it also holds the records.
var (
	_ voicehook.Claims   = (*DB)(nil)
	_ voicehook.Resolver = (*DB)(nil)
)

// RecordAttempt appends one processing attempt to an event's history and,
// when fin is not nil, records the event's new state, in one transaction: a
// crash leaves either both or neither, so the history never shows an outcome
// the event does not have.
func (db *DB) RecordAttempt(ctx context.Context, a voicehook.Attempt, fin *voicehook.EventFinish) error {
	return db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return db.recordAttempt(ctx, tx, a, fin) })
}

func (db *DB) recordAttempt(ctx context.Context, tx *sql.Tx, a voicehook.Attempt, fin *voicehook.EventFinish) error {
	var n int
	if err := tx.QueryRowContext(ctx, db.q("SELECT attempts FROM voicehook_events WHERE id = ?"), a.EventID).Scan(&n); err != nil {
		return fmt.Errorf("recording attempt: %w", err)
	}
	n++
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_attempts (event_id, attempt, started_at, finished_at, outcome, error)
		VALUES (?, ?, ?, ?, ?, ?)`), a.EventID, n, micros(a.StartedAt), micros(a.FinishedAt), a.Outcome, a.Error); err != nil {
		return fmt.Errorf("recording attempt: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.q("UPDATE voicehook_events SET attempts = ?, updated_at = ? WHERE id = ?"), n, db.now(), a.EventID); err != nil {
		return fmt.Errorf("recording attempt: %w", err)
	}
	if fin != nil {
		return db.finishEvent(ctx, tx, a.EventID, *fin)
	}
	return nil
}

// Attempts lists an event's processing attempts, oldest first.
func (db *DB) Attempts(ctx context.Context, eventID string) ([]voicehook.Attempt, error) {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT event_id, attempt, started_at, finished_at, outcome, error
		FROM voicehook_attempts WHERE event_id = ? ORDER BY attempt`), eventID)
	if err != nil {
		return nil, unavailable(fmt.Errorf("listing attempts: %w", err))
	}
	defer rows.Close()
	var out []voicehook.Attempt
	for rows.Next() {
		var a voicehook.Attempt
		var started, finished int64
		if err := rows.Scan(&a.EventID, &a.Attempt, &started, &finished, &a.Outcome, &a.Error); err != nil {
			return nil, fmt.Errorf("listing attempts: %w", err)
		}
		a.StartedAt, a.FinishedAt = fromMicros(started), fromMicros(finished)
		out = append(out, a)
	}
	return out, rows.Err()
}

// finishEvent writes an event's state after a processing step. Empty fields
// of f other than Status keep their stored value.
func (db *DB) finishEvent(ctx context.Context, tx *sql.Tx, id string, f voicehook.EventFinish) error {
	_, err := tx.ExecContext(ctx, db.q(`UPDATE voicehook_events SET status = ?,
		error_details = CASE WHEN ? = '' THEN error_details ELSE ? END,
		related_job = CASE WHEN ? = '' THEN related_job ELSE ? END,
		updated_at = ? WHERE id = ?`),
		f.Status, f.ErrorDetails, f.ErrorDetails, f.RelatedJob, f.RelatedJob, db.now(), id)
	if err != nil {
		return fmt.Errorf("updating event %s: %w", id, err)
	}
	return nil
}

// Replay puts a finished event back in the queue: status received, details
// cleared, waiting for the enqueuer. Its attempts and history stay. An event
// still being processed is not replayed (ErrInProgress): a second queue job
// for it would only race the first.
func (db *DB) Replay(ctx context.Context, id string) error {
	var res sql.Result
	err := db.writeStmt(ctx, func(ctx context.Context) (err error) {
		res, err = db.w.ExecContext(ctx, db.q(`UPDATE voicehook_events SET status = ?, error_details = '', enqueued = 0, updated_at = ?
			WHERE id = ? AND status <> ?`), voicehook.EventReceived, db.now(), id, voicehook.EventReceived)
		return err
	})
	if err != nil {
		return unavailable(fmt.Errorf("replaying event %s: %w", id, err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := db.Event(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("replaying event %s: %w", id, voicehook.ErrInProgress)
}

// ClaimJob records that eventID resolves jobID. The first event to claim a
// job owns it; ClaimJob returns the owner, which is eventID unless another
// event claimed the job first. A claim is what makes "the segment is updated
// exactly once" hold across retries, replays and replicas.
func (db *DB) ClaimJob(ctx context.Context, jobID, eventID string) (string, error) {
	var owner string
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		owner, err = db.claimJob(ctx, tx, jobID, eventID)
		return err
	})
	return owner, err
}

func (db *DB) claimJob(ctx context.Context, tx *sql.Tx, jobID, eventID string) (string, error) {
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_claims (job_id, event_id, claimed_at) VALUES (?, ?, ?)
		ON CONFLICT (job_id) DO NOTHING`), jobID, eventID, db.now()); err != nil {
		return "", fmt.Errorf("claiming job %s: %w", jobID, err)
	}
	var owner string
	if err := tx.QueryRowContext(ctx, db.q("SELECT event_id FROM voicehook_claims WHERE job_id = ?"), jobID).Scan(&owner); err != nil {
		return "", fmt.Errorf("reading claim on job %s: %w", jobID, err)
	}
	return owner, nil
}

// Secret returns the named server secret, creating it from gen on first use.
// Keeping it in the database lets every replica share it.
func (db *DB) Secret(ctx context.Context, name string, gen func() string) (string, error) {
	var v string
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q("INSERT INTO voicehook_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"), name, gen()); err != nil {
			return fmt.Errorf("storing secret %s: %w", name, err)
		}
		return tx.QueryRowContext(ctx, db.q("SELECT value FROM voicehook_meta WHERE key = ?"), name).Scan(&v)
	})
	return v, err
}

// ClaimOwner returns the event that claimed jobID, or ErrNotFound.
func (db *DB) ClaimOwner(ctx context.Context, jobID string) (string, error) {
	var owner string
	err := db.readRow(ctx, db.q("SELECT event_id FROM voicehook_claims WHERE job_id = ?"), jobID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("claim on job %s: %w", jobID, voicehook.ErrNotFound)
	}
	if err != nil {
		return "", unavailable(fmt.Errorf("reading claim on job %s: %w", jobID, err))
	}
	return owner, nil
}
