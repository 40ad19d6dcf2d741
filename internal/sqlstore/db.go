// Package sqlstore is voicehook's SQL store: the durable inbox of webhook
// events, the processing claims, and the jobs and segments of --records sql.
// One implementation serves SQLite and PostgreSQL through database/sql; the
// few places where their SQL differs go through Dialect. The sqlite and
// postgres packages open a DB with the right pools, pragmas and schema.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river/riverdriver"

	"github.com/voicehook/voicehook"
)

// Dialect names the SQL flavour of a DB.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Migration is one numbered schema step.
type Migration struct {
	Version int
	SQL     string
}

// Config is what an opener hands to New.
type Config struct {
	Dialect Dialect
	// Writer takes every write. On SQLite it must hold exactly one
	// connection: SQLite has one writer, and River shares it.
	Writer *sql.DB
	// Reader serves every read outside a transaction — the API's, the admin
	// pages', and processing's (the event, its job, a claim) — so reads never
	// queue behind SQLite's one writer. It must see every write committed
	// before the read starts, which SQLite's read-only connections on the
	// same WAL database do; a lagging replica must not be used. May equal
	// Writer.
	Reader *sql.DB
	// River is the queue driver over Writer.
	River riverdriver.Driver[*sql.Tx]
	// Lock, if set, serialises migrations across processes (PostgreSQL
	// advisory lock); it returns the unlock function.
	Lock  func(ctx context.Context) (func(), error)
	Clock voicehook.Clock
	// OpTimeout is the client-side deadline of one store operation (a
	// transaction from its turn to its commit, a read with its rows), unless
	// the caller's ctx ends sooner: default DefaultOpTimeout; negative, none.
	// A database that stops answering (packets dropped, so neither the
	// server's statement_timeout nor a refused connection can tell) then
	// fails the operation at the deadline; the driver closes the connection
	// the deadline interrupted and the pool discards it.
	OpTimeout time.Duration
}

// DefaultOpTimeout bounds a store operation when Config.OpTimeout is 0.
const DefaultOpTimeout = 10 * time.Second

// DB is an open store.
type DB struct {
	cfg   Config
	w, r  *sql.DB
	clock voicehook.Clock
	// turns orders the use of SQLite's one write connection (nil on
	// PostgreSQL): see writeTurns.
	turns *writeTurns
	// enqueuerWake, once a queue runs on this store, wakes its enqueuer
	// (a func()): waking parked events needs it (waits.go).
	enqueuerWake atomic.Value
}

// New wraps opened pools. It does not migrate; call Migrate.
func New(cfg Config) *DB {
	if cfg.Clock == nil {
		cfg.Clock = voicehook.SystemClock{}
	}
	if cfg.Reader == nil {
		cfg.Reader = cfg.Writer
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	db := &DB{cfg: cfg, w: cfg.Writer, r: cfg.Reader, clock: cfg.Clock}
	if cfg.Dialect == SQLite {
		db.turns = &writeTurns{}
	}
	return db
}

// Dialect reports the SQL flavour.
func (db *DB) Dialect() Dialect { return db.cfg.Dialect }

// RiverDriver is the queue driver sharing this store's writer.
func (db *DB) RiverDriver() riverdriver.Driver[*sql.Tx] { return db.cfg.River }

// Writer exposes the write pool for the queue's transactions.
func (db *DB) Writer() *sql.DB { return db.w }

// OpTimeout is the deadline of one store operation (≤ 0: none).
func (db *DB) OpTimeout() time.Duration { return db.cfg.OpTimeout }

// bounded gives ctx the operation deadline, unless ctx ends sooner.
func (db *DB) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.cfg.OpTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, db.cfg.OpTimeout)
}

// Close closes both pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Ping checks that the store answers and its schema is current.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	var v int
	err := db.r.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM voicehook_migrations").Scan(&v)
	if err != nil {
		// A database that answers but lacks the migrations table has never
		// been migrated: say so rather than report it down.
		var one int
		if db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one) == nil {
			return fmt.Errorf("schema not migrated (%v): run voicehook migrate", err)
		}
		return unavailable(fmt.Errorf("checking schema version: %w", err))
	}
	if want := db.latestMigration(); v < want {
		return fmt.Errorf("schema at version %d, want %d: run voicehook migrate", v, want)
	}
	return nil
}

func (db *DB) latestMigration() int {
	latest := 0
	for _, m := range migrations(db.cfg.Dialect) {
		latest = max(latest, m.Version)
	}
	return latest
}

// q rewrites a query written with ? placeholders for the dialect.
func (db *DB) q(query string) string {
	if db.cfg.Dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// placeholders returns "?,?,…" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func (db *DB) now() int64 { return micros(db.clock.Now()) }

// Times are stored as integer microseconds since the Unix epoch, the one
// representation both databases sort and compare the same way.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func timePtr(us int64) *time.Time {
	if us == 0 {
		return nil
	}
	t := fromMicros(us)
	return &t
}

// unavailable marks connection-level failures so the HTTP layer answers 503.
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", voicehook.ErrUnavailable, err)
}

// writeTx runs fn in a write transaction, committing when fn returns nil,
// all within the operation deadline: fn must run its statements on the ctx
// it is given.
func (db *DB) writeTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return db.txTurn(ctx, false, fn)
}

// writeStmt runs fn, a statement on the write pool outside a transaction,
// in its turn and within the operation deadline: fn must run on the ctx it
// is given.
func (db *DB) writeStmt(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	if err := db.turns.acquire(ctx, false); err != nil {
		return unavailable(err)
	}
	defer db.turns.release()
	return fn(ctx)
}

// txTurn runs fn in a write transaction in its turn on the writer, within
// the operation deadline: high is the ingest writer's, whose commit senders
// wait for.
func (db *DB) txTurn(ctx context.Context, high bool, fn func(ctx context.Context, tx *sql.Tx) error) error {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	return db.runTx(ctx, high, fn)
}

// runTx is txTurn without the operation deadline: ctx alone bounds it.
func (db *DB) runTx(ctx context.Context, high bool, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := db.turns.acquire(ctx, high); err != nil {
		return unavailable(fmt.Errorf("waiting for the writer: %w", err))
	}
	defer db.turns.release()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(fmt.Errorf("beginning transaction: %w", err))
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return unavailable(fmt.Errorf("committing: %w", err))
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

// readRow runs a one-row query on the reader within the operation deadline,
// which ends when the row is scanned.
func (db *DB) readRow(ctx context.Context, query string, args ...any) boundedRow {
	ctx, cancel := db.bounded(ctx)
	return boundedRow{row: db.r.QueryRowContext(ctx, query, args...), cancel: cancel}
}

type boundedRow struct {
	row    *sql.Row
	cancel context.CancelFunc
}

func (r boundedRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.row.Scan(dest...)
}

// readAll runs a query on the reader and scans every row with scan, within
// the operation deadline.
func readAll[T any](ctx context.Context, db *DB, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, unavailable(fmt.Errorf("querying: %w", err))
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(fmt.Errorf("reading rows: %w", err))
	}
	return out, nil
}
