package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/tracing"
)

const eventColumns = `id, service, endpoint, dedupe_key, type, segment_id, raw_payload, headers,
	received_at, status, error_details, related_job, attempts, updated_at, traceparent`

// Event reads one event from the reader, which sees every write committed
// before the call (the Reader's promise, see Config): processing reads its
// event here too.
func (db *DB) Event(ctx context.Context, id string) (voicehook.Event, error) {
	ev, err := scanEvent(db.readRow(ctx, db.q("SELECT "+eventColumns+" FROM voicehook_events WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return voicehook.Event{}, fmt.Errorf("event %s: %w", id, voicehook.ErrNotFound)
	}
	return ev, err
}

// ListEvents lists events newest first.
func (db *DB) ListEvents(ctx context.Context, f voicehook.EventFilter) ([]voicehook.Event, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.SegmentID != "" {
		where, args = append(where, "segment_id = ?"), append(args, f.SegmentID)
	}
	if f.Type != "" {
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "received_at >= ?"), append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "received_at < ?"), append(args, micros(f.Until))
	}
	if f.BeforeID != "" {
		where = append(where, "(received_at < (SELECT received_at FROM voicehook_events WHERE id = ?) OR (received_at = (SELECT received_at FROM voicehook_events WHERE id = ?) AND id < ?))")
		args = append(args, f.BeforeID, f.BeforeID, f.BeforeID)
	}
	query := "SELECT " + eventColumns + " FROM voicehook_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	query += " ORDER BY received_at DESC, id DESC LIMIT ?"
	return readAll(ctx, db, query, scanEvent, append(args, limit)...)
}

// CountEvents counts events by status, received at or after since.
func (db *DB) CountEvents(ctx context.Context, since int64) (map[string]int, error) {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	rows, err := db.r.QueryContext(ctx, db.q("SELECT status, COUNT(*) FROM voicehook_events WHERE received_at >= ? GROUP BY status"), since)
	if err != nil {
		return nil, unavailable(fmt.Errorf("counting events: %w", err))
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("counting events: %w", err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

func scanEvent(s scanner) (voicehook.Event, error) {
	var ev voicehook.Event
	var headers string
	var received, updated int64
	err := s.Scan(&ev.ID, &ev.Service, &ev.Endpoint, &ev.DedupeKey, &ev.Type, &ev.SegmentID, &ev.RawPayload,
		&headers, &received, &ev.Status, &ev.ErrorDetails, &ev.RelatedJob, &ev.Attempts, &updated, &ev.TraceParent)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ev, err
		}
		return ev, fmt.Errorf("reading event: %w", err)
	}
	_ = json.Unmarshal([]byte(headers), &ev.Headers)
	ev.ReceivedAt, ev.UpdatedAt = fromMicros(received), fromMicros(updated)
	ev.Processed = ev.Status != voicehook.EventReceived
	ev.TraceID = tracing.TraceID(ev.TraceParent)
	switch ev.Status {
	case voicehook.EventSucceeded:
		ev.Success = new(true)
	case voicehook.EventFailed, voicehook.EventDead:
		ev.Success = new(false)
	}
	return ev, nil
}
