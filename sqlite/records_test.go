package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/voicehook/voicehook/sqlite"
	"github.com/voicehook/voicehook/voicehooktest"
)

// TestRecords runs the Records contract on the SQL store over SQLite
// (--records sql), the same suite the Airtable records pass.
func TestRecords(t *testing.T) {
	t.Parallel()
	// Migrating a new file takes seconds under -race; each case starts from
	// a copy of one migrated file instead (and Migrate finds nothing to do).
	migrated := filepath.Join(t.TempDir(), sqlite.FileName)
	func() {
		dir := t.TempDir()
		db, err := sqlite.Open(dir, sqlite.Options{})
		if err != nil {
			t.Fatalf("opening the store: %v", err)
		}
		defer db.Close()
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatalf("migrating the store: %v", err)
		}
		// Closing the last connection checkpoints the WAL into the file.
		if err := db.Close(); err != nil {
			t.Fatalf("closing the store: %v", err)
		}
		copyFile(t, filepath.Join(dir, sqlite.FileName), migrated)
	}()

	voicehooktest.RunRecords(t, func(t *testing.T) voicehooktest.RecordsHarness {
		dir := t.TempDir()
		copyFile(t, migrated, filepath.Join(dir, sqlite.FileName))
		clock := voicehooktest.NewClock()
		db, err := sqlite.Open(dir, sqlite.Options{Clock: clock})
		if err != nil {
			t.Fatalf("opening the store: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(context.Background()); err != nil {
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

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("copying the migrated store: %v", err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatalf("copying the migrated store: %v", err)
	}
}
