package postgres_test

import (
	"context"
	"testing"

	"github.com/voicehook/voicehook/internal/dbtest"
	"github.com/voicehook/voicehook/postgres"
	"github.com/voicehook/voicehook/voicehooktest"
)

// TestRecords runs the Records contract on the SQL store over PostgreSQL,
// each case in a schema of its own. It skips unless
// VOICEHOOK_TEST_DATABASE_URL names a database.
func TestRecords(t *testing.T) {
	t.Parallel()
	voicehooktest.RunRecords(t, func(t *testing.T) voicehooktest.RecordsHarness {
		url := dbtest.PostgresURL(t)
		clock := voicehooktest.NewClock()
		ctx := context.Background()
		// Few connections: the suite opens a store per case, in parallel.
		db, err := postgres.Open(ctx, url, postgres.Options{Clock: clock, MaxConns: 2})
		if err != nil {
			t.Fatalf("opening the store: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrating the store: %v", err)
		}
		return voicehooktest.RecordsHarness{
			Records:    db,
			Clock:      clock,
			NewSegment: voicehooktest.SegmentIDs(),
			Stores:     voicehooktest.RecordsStores{ExternalIDs: true, AudioDetails: true, SegmentUpdatedAt: true},
		}
	})
}
