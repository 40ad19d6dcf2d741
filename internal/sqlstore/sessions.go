package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Admin sign-outs live in voicehook_meta (no schema change): one row per
// signed-out session, keyed sessionRevokedPrefix + id, valued with the
// time the session expires anyway as zero-padded microseconds, so both
// databases compare the text in time order. Sign-outs are rare and a row
// outlives its session by at most one sign-out's sweep, so the table stays
// tiny.
const sessionRevokedPrefix = "session_revoked:"

// RevokeSession records that the admin session id was signed out, until
// until; it implements web.SessionRevocations for every replica at once.
// It also forgets sign-outs of sessions that have expired since.
func (db *DB) RevokeSession(ctx context.Context, id string, until time.Time) error {
	return db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q("DELETE FROM voicehook_meta WHERE key LIKE ? AND value < ?"),
			sessionRevokedPrefix+"%", sessionUntil(db.clock.Now())); err != nil {
			return fmt.Errorf("forgetting expired sign-outs: %w", err)
		}
		if _, err := tx.ExecContext(ctx, db.q("INSERT INTO voicehook_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"),
			sessionRevokedPrefix+id, sessionUntil(until)); err != nil {
			return fmt.Errorf("recording sign-out: %w", err)
		}
		return nil
	})
}

// SessionRevoked reports whether the admin session id was signed out.
func (db *DB) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var v string
	err := db.readRow(ctx, db.q("SELECT value FROM voicehook_meta WHERE key = ?"), sessionRevokedPrefix+id).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, unavailable(fmt.Errorf("reading sign-outs: %w", err))
	}
	return true, nil
}

func sessionUntil(t time.Time) string {
	return fmt.Sprintf("%020d", micros(t))
}
