package sqlstore

// Parked events (voicehook.Waits). An event whose job does not exist yet
// holds one row here per key it waits on (its segment, the sender's ids),
// keeps enqueued = 1 so the enqueuer passes it over, and has no queue job:
// waiting costs nothing but these rows. Waking an event deletes its rows
// and sets enqueued = 0 in one transaction, and the enqueuer gives it a
// queue job as it would a new delivery. Wake-ups come from three places:
// creating a job (Wake, by its keys), the grace running out (WakeExpired,
// one sweep for every expired event), and — where jobs can appear without
// passing through voicehook, as in a user's Airtable base — a slow recheck
// of the events checked longest ago (WakeUnchecked).

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/voicehook/voicehook"
)

const schemaWaits = `
CREATE TABLE voicehook_waits (
	event_id   TEXT NOT NULL,
	wait_key   TEXT NOT NULL,
	until_at   BIGINT NOT NULL,
	checked_at BIGINT NOT NULL,
	PRIMARY KEY (event_id, wait_key)
);
CREATE INDEX voicehook_waits_key ON voicehook_waits (wait_key);
CREATE INDEX voicehook_waits_until ON voicehook_waits (until_at);
CREATE INDEX voicehook_waits_checked ON voicehook_waits (checked_at);
`

var _ voicehook.Waits = (*DB)(nil)

// Park records the event's wait on keys until until, and a as its attempt
// unless its latest attempt already says it waits, in one transaction.
func (db *DB) Park(ctx context.Context, a voicehook.Attempt, keys []string, until time.Time) error {
	if len(keys) == 0 {
		return fmt.Errorf("parking event %s: no key to wait on", a.EventID)
	}
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := db.now()
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_waits (event_id, wait_key, until_at, checked_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (event_id, wait_key) DO UPDATE SET until_at = excluded.until_at, checked_at = excluded.checked_at`),
				a.EventID, k, micros(until), now); err != nil {
				return fmt.Errorf("recording the wait on %s: %w", k, err)
			}
		}
		var last string
		err := tx.QueryRowContext(ctx, db.q("SELECT outcome FROM voicehook_attempts WHERE event_id = ? ORDER BY attempt DESC LIMIT 1"), a.EventID).Scan(&last)
		if err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("reading the latest attempt: %w", err)
		}
		if voicehook.AttemptOutcome(last) == voicehook.AttemptWaiting {
			return nil
		}
		return db.recordAttempt(ctx, tx, a, nil)
	})
	if err != nil {
		return unavailable(fmt.Errorf("parking event %s: %w", a.EventID, err))
	}
	return nil
}

// Wake puts back in the queue the events parked on any of keys.
func (db *DB) Wake(ctx context.Context, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	return db.wakeWhere(ctx, "waking events parked on "+fmt.Sprint(keys),
		"SELECT DISTINCT event_id FROM voicehook_waits WHERE wait_key IN ("+placeholders(len(keys))+")", args...)
}

// WakeExpired puts back in the queue every parked event whose wait ran out
// by now; their next attempt fails them.
func (db *DB) WakeExpired(ctx context.Context) (int, error) {
	return db.wakeWhere(ctx, "waking expired waits", "SELECT DISTINCT event_id FROM voicehook_waits WHERE until_at <= ?", db.now())
}

// WakeUnchecked puts back in the queue up to limit parked events last
// checked before before, longest ago first, so that each looks for its job
// again.
func (db *DB) WakeUnchecked(ctx context.Context, before time.Time, limit int) (int, error) {
	return db.wakeWhere(ctx, "rechecking parked events",
		"SELECT event_id FROM voicehook_waits WHERE checked_at < ? GROUP BY event_id ORDER BY MIN(checked_at) LIMIT ?", micros(before), limit)
}

// WakeMatched wakes the parked events whose job now exists in the store's
// own records (--records sql). Creating a job wakes its events at once;
// this sweep is the safety net behind that wake-up (one that failed, or a
// job created by another process without a wake).
func (db *DB) WakeMatched(ctx context.Context) (int, error) {
	return db.wakeWhere(ctx, "waking parked events whose job exists", `SELECT DISTINCT w.event_id FROM voicehook_waits w
		WHERE (w.wait_key LIKE 'segment:%' AND EXISTS (SELECT 1 FROM voicehook_jobs j
			WHERE j.segment_id = substr(w.wait_key, 9) AND j.type = ?))
		OR (w.wait_key LIKE 'external:%' AND EXISTS (SELECT 1 FROM voicehook_jobs j
			WHERE j.external_id = substr(w.wait_key, 10) AND j.external_id <> '' AND j.type = ?))`,
		voicehook.JobTypeVoiceover, voicehook.JobTypeVoiceover)
}

// ParkedEvents counts the events parked now.
func (db *DB) ParkedEvents(ctx context.Context) (int, error) {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(DISTINCT event_id) FROM voicehook_waits").Scan(&n); err != nil {
		return 0, unavailable(fmt.Errorf("counting parked events: %w", err))
	}
	return n, nil
}

// wakeChunk bounds the ids of one statement.
const wakeChunk = 500

// wakeWhere wakes the events selectIDs names. They are selected on the
// reader, so a sweep that finds nothing costs the writer nothing; then in
// one transaction, for each still parked (it may have been woken since),
// it clears enqueued if the event is still received and deletes its waits.
// Then it signals the enqueuer.
func (db *DB) wakeWhere(ctx context.Context, what, selectIDs string, args ...any) (int, error) {
	ids, err := db.selectIDs(ctx, selectIDs, args...)
	if err != nil {
		return 0, unavailable(fmt.Errorf("%s: %w", what, err))
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var woken int
	err = db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		woken = 0
		for start := 0; start < len(ids); start += wakeChunk {
			chunk := ids[start:min(start+wakeChunk, len(ids))]
			in := "(" + placeholders(len(chunk)) + ")"
			res, err := tx.ExecContext(ctx, db.q(`UPDATE voicehook_events SET enqueued = 0 WHERE status = ? AND id IN `+in+`
				AND EXISTS (SELECT 1 FROM voicehook_waits w WHERE w.event_id = voicehook_events.id)`),
				append([]any{voicehook.EventReceived}, chunk...)...)
			if err != nil {
				return fmt.Errorf("requeueing parked events: %w", err)
			}
			n, _ := res.RowsAffected()
			woken += int(n)
			if _, err := tx.ExecContext(ctx, db.q("DELETE FROM voicehook_waits WHERE event_id IN "+in), chunk...); err != nil {
				return fmt.Errorf("deleting waits: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, unavailable(fmt.Errorf("%s: %w", what, err))
	}
	if woken > 0 {
		db.signalEnqueuer()
	}
	return woken, nil
}

func (db *DB) selectIDs(ctx context.Context, query string, args ...any) ([]any, error) {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("selecting parked events: %w", err)
	}
	defer rows.Close()
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("selecting parked events: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("selecting parked events: %w", err)
	}
	return ids, nil
}

// signalEnqueuer wakes this process's enqueuer, if it runs a queue (other
// replicas find the woken events at their next sweep).
func (db *DB) signalEnqueuer() {
	if f, ok := db.enqueuerWake.Load().(func()); ok && f != nil {
		f()
	}
}
