package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/voicehook/voicehook"
)

// Overview counts what an operator looks at first: the events of the last
// hour and day by status, the events waiting and dead, the attempts made and the oldest event still waiting. Every
// query runs on the reader and, but for the attempts count, on an index.
func (db *DB) Overview(ctx context.Context, now time.Time) (voicehook.Overview, error) {
	ctx, cancel := db.bounded(ctx) // every query below: one operation
	defer cancel()
	o := voicehook.Overview{At: now.UTC(), LastHour: map[voicehook.EventStatus]int{}, LastDay: map[voicehook.EventStatus]int{}}
	hour, day := micros(now.Add(-time.Hour)), micros(now.Add(-24*time.Hour))
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT status, COUNT(*), COUNT(CASE WHEN received_at >= ? THEN 1 END)
		FROM voicehook_events WHERE received_at >= ? GROUP BY status`), hour, day)
	if err != nil {
		return o, unavailable(fmt.Errorf("counting recent events: %w", err))
	}
	for rows.Next() {
		var status voicehook.EventStatus
		var inDay, inHour int
		if err := rows.Scan(&status, &inDay, &inHour); err != nil {
			rows.Close()
			return o, fmt.Errorf("counting recent events: %w", err)
		}
		o.LastDay[status] = inDay
		if inHour > 0 {
			o.LastHour[status] = inHour
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return o, unavailable(fmt.Errorf("counting recent events: %w", err))
	}

	for _, c := range []struct {
		query string
		args  []any
		dst   any
	}{
		{"SELECT COUNT(*) FROM voicehook_events WHERE status = ?", []any{voicehook.EventReceived}, &o.Received},
		{"SELECT COUNT(*) FROM voicehook_events WHERE status = ?", []any{voicehook.EventDead}, &o.Dead},
		{"SELECT COUNT(*) FROM voicehook_attempts", nil, &o.Attempts},
	} {
		if err := db.r.QueryRowContext(ctx, db.q(c.query), c.args...).Scan(c.dst); err != nil {
			return o, unavailable(fmt.Errorf("overview: %w", err))
		}
	}

	var at int64
	err = db.r.QueryRowContext(ctx, db.q(`SELECT id, received_at FROM voicehook_events WHERE status = ?
		ORDER BY received_at, id LIMIT 1`), voicehook.EventReceived).Scan(&o.OldestReceivedID, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return o, unavailable(fmt.Errorf("finding the oldest waiting event: %w", err))
	default:
		o.OldestReceivedAt = fromMicros(at)
	}
	return o, nil
}
