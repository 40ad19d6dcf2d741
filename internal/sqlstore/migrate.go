package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river/rivermigrate"
)

// Migrate brings voicehook's schema and River's queue schema up to date. It is
// safe when several processes start at once: with a Lock (PostgreSQL) they
// take turns; SQLite has one writer anyway.
func (db *DB) Migrate(ctx context.Context) error {
	if db.cfg.Lock != nil {
		unlock, err := db.cfg.Lock(ctx)
		if err != nil {
			return fmt.Errorf("taking migration lock: %w", err)
		}
		defer unlock()
	}
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS voicehook_migrations (
		version INTEGER PRIMARY KEY,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("creating migrations table: %w", err)
	}
	applied := map[int]bool{}
	rows, err := db.w.QueryContext(ctx, "SELECT version FROM voicehook_migrations")
	if err != nil {
		return fmt.Errorf("reading applied migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("reading applied migrations: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	for _, m := range migrations(db.cfg.Dialect) {
		if applied[m.Version] {
			continue
		}
		err := db.runTx(ctx, false, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, db.q("INSERT INTO voicehook_migrations (version, applied_at) VALUES (?, ?)"), m.Version, db.now())
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %d: %w", m.Version, err)
		}
	}
	if db.cfg.River != nil {
		migrator, err := rivermigrate.New(db.cfg.River, nil)
		if err != nil {
			return fmt.Errorf("preparing queue migrations: %w", err)
		}
		if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("migrating queue schema: %w", err)
		}
	}
	return nil
}
