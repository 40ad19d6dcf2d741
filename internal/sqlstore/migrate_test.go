package sqlstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/voicehook/voicehook/internal/sqlstore"
	"github.com/voicehook/voicehook/voicehooktest"
)

func TestMigrate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		for i := range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("Migrate again (%d): %v", i+1, err)
			}
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("Ping after Migrate: %v", err)
		}
		if err := db.Check(ctx); err != nil {
			t.Fatalf("Check after Migrate: %v", err)
		}
		// The data survives a repeated migration.
		ingest(t, db, newEvent("evt_1", "k1", t0))
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate with data: %v", err)
		}
		event(t, db, "evt_1")

		// A schema behind the latest migration fails Ping and Check and
		// says what to do.
		if _, err := db.Writer().ExecContext(ctx, "DELETE FROM voicehook_migrations"); err != nil {
			t.Fatal(err)
		}
		err := db.Ping(ctx)
		if err == nil || !strings.Contains(err.Error(), "migrate") {
			t.Fatalf("Ping on a schema behind: got %v, want an error telling to migrate", err)
		}
		err = db.Check(ctx)
		if err == nil || !strings.Contains(err.Error(), "migrate") {
			t.Fatalf("Check on a schema behind: got %v, want an error telling to migrate", err)
		}
	})
}

func TestPingUnmigrated(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db := s.open(t, s.location(t), voicehooktest.NewClock())
		err := db.Ping(ctx)
		if err == nil {
			t.Fatal("Ping on an unmigrated database succeeded")
		}
		if !strings.Contains(err.Error(), "migrate") {
			t.Errorf("Ping on an unmigrated database: %q does not tell to migrate", err)
		}
		t.Logf("Ping error: %v", err)
		if err := db.Check(ctx); err == nil || !strings.Contains(err.Error(), "migrate") {
			t.Errorf("Check on an unmigrated database: got %v, want an error telling to migrate", err)
		}
		migrate(t, db)
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("Ping after Migrate: %v", err)
		}
		if err := db.Check(ctx); err != nil {
			t.Fatalf("Check after Migrate: %v", err)
		}
	})
}

func TestMigrateConcurrentReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		if !s.separateOpens {
			t.Skip("one process owns a SQLite file and migrates it once; concurrent migration is a PostgreSQL concern")
		}
		loc := s.location(t)
		dbs := make([]*sqlstore.DB, 3)
		for i := range dbs {
			dbs[i] = s.open(t, loc, voicehooktest.NewClock())
		}
		errs := make([]error, len(dbs))
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() { errs[i] = db.Migrate(context.Background()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: Migrate: %v", i, err)
			}
		}
		for i, db := range dbs {
			if err := db.Ping(context.Background()); err != nil {
				t.Errorf("replica %d: Ping: %v", i, err)
			}
		}
		// Every migration was recorded exactly once.
		var n, distinct int
		if err := dbs[0].Writer().QueryRow("SELECT COUNT(*), COUNT(DISTINCT version) FROM voicehook_migrations").Scan(&n, &distinct); err != nil {
			t.Fatal(err)
		}
		if n != distinct || n == 0 {
			t.Errorf("voicehook_migrations has %d rows for %d versions", n, distinct)
		}
	})
}
