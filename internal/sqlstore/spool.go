package sqlstore

// The spool keeps a long call's audio (voicehook.Spool) in the database, in
// rows of spoolChunk bytes: one row in memory at a time whether writing or
// reading, and each row its own short write, so a two-hour call never holds
// the single SQLite writer for long and never sits whole in memory. Rows
// whose event was never committed (a crash or a refusal mid-upload) are
// removed by SweepSpool.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/voicehook/voicehook"
)

var _ voicehook.Spool = (*DB)(nil)

// spoolChunk is the size of one spool row.
const spoolChunk = 1 << 20

// schemaSpool holds the spool's rows.
const schemaSpool = `
CREATE TABLE voicehook_spool (
	event_id   TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	data       {{BLOB}} NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (event_id, seq)
);
`

// CreateSpool starts eventID's audio.
func (db *DB) CreateSpool(ctx context.Context, eventID string) (io.WriteCloser, error) {
	return &spoolWriter{ctx: ctx, db: db, id: eventID, buf: make([]byte, 0, spoolChunk)}, nil
}

type spoolWriter struct {
	ctx context.Context
	db  *DB
	id  string
	seq int
	buf []byte
	err error
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && w.err == nil {
		m := min(len(p), spoolChunk-len(w.buf))
		w.buf = append(w.buf, p[:m]...)
		p, n = p[m:], n+m
		if len(w.buf) == spoolChunk {
			w.flush()
		}
	}
	return n, w.err
}

func (w *spoolWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	w.err = w.db.writeStmt(w.ctx, func(ctx context.Context) error {
		_, err := w.db.w.ExecContext(ctx, w.db.q("INSERT INTO voicehook_spool (event_id, seq, data, created_at) VALUES (?, ?, ?, ?)"),
			w.id, w.seq, w.buf, w.db.now())
		return err
	})
	if w.err != nil {
		w.err = unavailable(fmt.Errorf("spooling audio of %s: %w", w.id, w.err))
	}
	w.seq++
	w.buf = w.buf[:0]
}

// Close writes what is left; each row was committed as it was written.
func (w *spoolWriter) Close() error {
	if w.err == nil {
		w.flush()
	}
	return w.err
}

// OpenSpool reads eventID's audio back, a row at a time.
func (db *DB) OpenSpool(ctx context.Context, eventID string) (io.ReadCloser, error) {
	r := &spoolReader{ctx: ctx, db: db, id: eventID}
	if err := r.next(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("spooled audio of %s: %w", eventID, voicehook.ErrNotFound)
		}
		return nil, err
	}
	return r, nil
}

type spoolReader struct {
	ctx context.Context
	db  *DB
	id  string
	seq int
	cur []byte
}

func (r *spoolReader) next() error {
	err := r.db.readRow(r.ctx, r.db.q("SELECT data FROM voicehook_spool WHERE event_id = ? AND seq = ?"), r.id, r.seq).Scan(&r.cur)
	if errors.Is(err, sql.ErrNoRows) {
		return io.EOF
	}
	if err != nil {
		return unavailable(fmt.Errorf("reading spooled audio of %s: %w", r.id, err))
	}
	r.seq++
	return nil
}

func (r *spoolReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *spoolReader) Close() error { return nil }

// DeleteSpool removes eventID's audio.
func (db *DB) DeleteSpool(ctx context.Context, eventID string) error {
	err := db.writeStmt(ctx, func(ctx context.Context) error {
		_, err := db.w.ExecContext(ctx, db.q("DELETE FROM voicehook_spool WHERE event_id = ?"), eventID)
		return err
	})
	if err != nil {
		return unavailable(fmt.Errorf("deleting spooled audio of %s: %w", eventID, err))
	}
	return nil
}

// SweepSpool removes spooled audio older than before whose event was never
// stored (an upload cut by a crash, or refused after it began), and that of
// events no longer kept. It reports how many rows it removed.
func (db *DB) SweepSpool(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.writeStmt(ctx, func(ctx context.Context) error {
		res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM voicehook_spool WHERE created_at < ?
			AND NOT EXISTS (SELECT 1 FROM voicehook_events e WHERE e.id = voicehook_spool.event_id)`), micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, unavailable(fmt.Errorf("sweeping the spool: %w", err))
	}
	return int(n), nil
}
