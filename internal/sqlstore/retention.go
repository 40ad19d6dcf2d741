package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/voicehook/voicehook"
)

// finishedOlderThan selects up to limit events whose processing is over
// (succeeded, failed, ignored, dead) and that last changed before a time:
// the same rows for both statements of PurgeEvents, which run in one
// transaction.
const finishedOlderThan = `SELECT id FROM voicehook_events
	WHERE status IN (?, ?, ?, ?) AND updated_at < ?
	ORDER BY updated_at, id LIMIT ?`

// PurgeEvents deletes up to limit finished events that last changed before
// before, with their attempt history and any spooled audio, and reports how many it deleted. An
// event still waiting or being processed is never deleted, whatever its
// age. A redelivery of a purged event is stored again as new; its job is
// already finished, so processing it changes nothing.
func (db *DB) PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	args := []any{voicehook.EventSucceeded, voicehook.EventFailed, voicehook.EventIgnored, voicehook.EventDead, micros(before), limit}
	var n int64
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q("DELETE FROM voicehook_attempts WHERE event_id IN ("+finishedOlderThan+")"), args...); err != nil {
			return fmt.Errorf("deleting attempts: %w", err)
		}
		// Waits left by an event that finished while parked (a crash
		// between its finish and its wake-up).
		if _, err := tx.ExecContext(ctx, db.q("DELETE FROM voicehook_waits WHERE event_id IN ("+finishedOlderThan+")"), args...); err != nil {
			return fmt.Errorf("deleting waits: %w", err)
		}
		// Audio still spooled for an event that never succeeded.
		if _, err := tx.ExecContext(ctx, db.q("DELETE FROM voicehook_spool WHERE event_id IN ("+finishedOlderThan+")"), args...); err != nil {
			return fmt.Errorf("deleting spooled audio: %w", err)
		}
		res, err := tx.ExecContext(ctx, db.q("DELETE FROM voicehook_events WHERE id IN ("+finishedOlderThan+")"), args...)
		if err != nil {
			return fmt.Errorf("deleting events: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, unavailable(fmt.Errorf("purging events before %s: %w", before.Format(time.RFC3339), err))
	}
	return int(n), nil
}
