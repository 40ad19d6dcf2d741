// Package sqlite opens voicehook's embedded store: one SQLite file in the
// data dir, in WAL mode with synchronous=FULL so a commit survives power
// loss. SQLite has one writer, so the write pool holds exactly one
// connection, shared by the ingest writer and River; API and admin reads go
// through a separate read-only pool and never queue behind it.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	sqlitedrv "modernc.org/sqlite" // also registers the "sqlite" database/sql driver

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

// FileName is the database file inside the data dir.
const FileName = "voicehook.db"

// Options tune Open.
type Options struct {
	Clock voicehook.Clock
	// Readers caps the read-only pool (default 4).
	Readers int
	// OpTimeout is the deadline of one store operation (default
	// sqlstore.DefaultOpTimeout; negative, none).
	OpTimeout time.Duration
}

// Open opens (creating if needed) the store in dataDir. It does not migrate.
func Open(dataDir string, opts Options) (*sqlstore.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	writer, err := openPool(dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// Open the writer first: it creates the file and switches it to WAL,
	// which the read-only pool needs.
	if err := writer.PingContext(context.Background()); err != nil {
		writer.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	reader, err := openPool(dsn(path, true))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("opening %s read-only: %w", path, err)
	}
	readers := opts.Readers
	if readers <= 0 {
		readers = 4
	}
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)
	return sqlstore.New(sqlstore.Config{
		Dialect:   sqlstore.SQLite,
		Writer:    writer,
		Reader:    reader,
		River:     riversqlite.New(writer),
		Clock:     opts.Clock,
		OpTimeout: opts.OpTimeout,
	}), nil
}

// stmtCacheSize is how many compiled statements each connection keeps:
// more than voicehook's and River's distinct statements together.
const stmtCacheSize = 256

// openPool opens a pool whose connections keep their compiled statements
// (see stmtcache.go).
func openPool(dsn string) (*sql.DB, error) {
	base, err := sqlitedrv.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(cachingConnector{Connector: base, size: stmtCacheSize}), nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(on)")
	if readOnly {
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL: a commit is on disk before we acknowledge the delivery.
		q.Add("_pragma", "synchronous(FULL)")
		// Take the write lock at BEGIN so a transaction never fails half
		// way on a lock upgrade.
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}
