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
}

// DB is an open store.
type DB struct {
	cfg   Config
	w, r  *sql.DB
	clock voicehook.Clock
	// turns orders the use of SQLite's one write connection (nil on
	// PostgreSQL): see writeTurns.
	turns *writeTurns
}

// New wraps opened pools. It does not migrate; call Migrate.
func New(cfg Config) *DB {
	if cfg.Clock == nil {
		cfg.Clock = voicehook.SystemClock{}
	}
	if cfg.Reader == nil {
		cfg.Reader = cfg.Writer
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

// withTx runs fn in a write transaction, committing when fn returns nil.
func (db *DB) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.txTurn(ctx, false, fn)
}

// onWriter runs fn, a statement on the write pool outside a transaction,
// in its turn.
func (db *DB) onWriter(ctx context.Context, fn func() error) error {
	if err := db.turns.acquire(ctx, false); err != nil {
		return unavailable(err)
	}
	defer db.turns.release()
	return fn()
}

// txTurn runs fn in a write transaction in its turn on the writer: high is
// the ingest writer's, whose commit senders wait for.
func (db *DB) txTurn(ctx context.Context, high bool, fn func(tx *sql.Tx) error) error {
	if err := db.turns.acquire(ctx, high); err != nil {
		return unavailable(fmt.Errorf("waiting for the writer: %w", err))
	}
	defer db.turns.release()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(fmt.Errorf("beginning transaction: %w", err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return unavailable(fmt.Errorf("committing: %w", err))
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

// readAll runs a query on the reader and scans every row with scan.
func readAll[T any](ctx context.Context, db *DB, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
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
