// Package postgres opens voicehook's store on PostgreSQL, for several
// replicas sharing one database. River coordinates the replicas' workers
// (one worker holds a job at a time; a dead replica's jobs are rescued);
// voicehook's own tables carry the dedupe key and the job claims, whose
// unique constraints hold across replicas.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

// Options tune Open.
type Options struct {
	Clock voicehook.Clock
	// MaxConns caps the connection pool (default 10).
	MaxConns int
	// StatementTimeout bounds every statement (default 30s; 0 keeps it).
	StatementTimeout time.Duration
	// OpTimeout is the client-side deadline of one store operation
	// (default sqlstore.DefaultOpTimeout): unlike StatementTimeout it holds
	// when the server never sees the statement or its answer never arrives.
	OpTimeout time.Duration
}

// migrationLockID is the advisory lock replicas take turns on while
// migrating ("voicehoo" in ASCII).
const migrationLockID = 0x766f696365686f6f

// Open connects to the database at url. It does not migrate.
func Open(ctx context.Context, url string, opts Options) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing database url: %w", err)
	}
	timeout := opts.StatementTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if timeout > 0 {
		cfg.RuntimeParams["statement_timeout"] = fmt.Sprint(timeout.Milliseconds())
	}
	opTimeout := opts.OpTimeout
	if opTimeout == 0 {
		opTimeout = sqlstore.DefaultOpTimeout
	}
	if opTimeout > 0 {
		// A client that gave up on a transaction at its deadline closed the
		// connection, but over a broken network the server may never hear
		// of it and would keep the transaction open (and the rows it
		// inserted locked: a retried delivery's INSERT would wait on its
		// dedupe key) until TCP keepalive notices, hours later. No
		// transaction of ours sits idle longer than its whole deadline, so
		// the server may end one that does.
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = fmt.Sprint((2 * opTimeout).Milliseconds())
	}
	cfg.ConnectTimeout = 5 * time.Second
	db := stdlib.OpenDB(*cfg)
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = 10
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	return sqlstore.New(sqlstore.Config{
		Dialect: sqlstore.Postgres,
		Writer:  db,
		Reader:  db,
		// River's database/sql driver lets the queue share the store's
		// *sql.Tx, so an event and its queue job commit together. It
		// polls instead of LISTEN/NOTIFY.
		River:     riverdatabasesql.New(db),
		Lock:      func(ctx context.Context) (func(), error) { return advisoryLock(ctx, db) },
		Clock:     opts.Clock,
		OpTimeout: opTimeout,
	}), nil
}

// advisoryLock holds a session-level lock on one dedicated connection until
// the returned function is called.
func advisoryLock(ctx context.Context, db *sql.DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockID)); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", int64(migrationLockID))
		conn.Close()
	}, nil
}
