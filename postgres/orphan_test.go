package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/voicehook/voicehook/internal/dbtest"
	"github.com/voicehook/voicehook/postgres"
)

// TestOrphanedTransactionEndedByServer: a transaction left idle longer than
// twice the operation deadline (its client gave up; over a broken network
// the server may never hear it close) is ended by the server, so the rows it
// holds locked (a delivery's dedupe key) free up in seconds, not when TCP
// keepalive notices.
func TestOrphanedTransactionEndedByServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := postgres.Open(ctx, dbtest.PostgresURL(t), postgres.Options{MaxConns: 3, OpTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	var setting string
	if err := db.Writer().QueryRowContext(ctx, "SHOW idle_in_transaction_session_timeout").Scan(&setting); err != nil {
		t.Fatal(err)
	}
	if setting != "1s" {
		t.Fatalf("idle_in_transaction_session_timeout = %q, want 1s (twice --db-op-timeout)", setting)
	}

	// The orphan: a transaction opened and then left alone.
	tx, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() // fails: the server has ended it
	var pid int
	if err := tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var alive bool
		err := db.Writer().QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", pid).Scan(&alive)
		if err != nil {
			t.Fatal(err)
		}
		if !alive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %d still holds its idle transaction 15s on", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
