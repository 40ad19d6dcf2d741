// Package dbtest gives tests a fresh, real store: a SQLite file in a temp
// dir, or a schema of its own in the PostgreSQL named by
// VOICEHOOK_TEST_DATABASE_URL.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvURL names the PostgreSQL database tests may use.
const EnvURL = "VOICEHOOK_TEST_DATABASE_URL"

var seq atomic.Int64

// PostgresURL returns a URL whose search_path is a new, empty schema, dropped
// when the test ends. It skips the test, saying how to run it, when
// VOICEHOOK_TEST_DATABASE_URL is not set.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them", EnvURL)
	}
	schema := fmt.Sprintf("vh_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("opening %s: %v", EnvURL, err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Name turns a test name into something safe for a file or schema name.
func Name(t testing.TB) string {
	return strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
}
