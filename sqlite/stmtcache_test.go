package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	sqlitedrv "modernc.org/sqlite"
)

// openCached opens a pool on a fresh file whose connections cache size
// statements.
func openCached(t *testing.T, size, conns int) (*sql.DB, *[]*cachingConn) {
	t.Helper()
	base, err := sqlitedrv.NewConnector(dsn(filepath.Join(t.TempDir(), "t.db"), false))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var opened []*cachingConn
	db := sql.OpenDB(connectorFunc{base, func(c *cachingConn) { mu.Lock(); opened = append(opened, c); mu.Unlock() }, size})
	db.SetMaxOpenConns(conns)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db, &opened
}

// connectorFunc is a cachingConnector that also hands each connection it
// opens to seen.
type connectorFunc struct {
	base driver.Connector
	seen func(*cachingConn)
	size int
}

func (c connectorFunc) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := cachingConnector{Connector: c.base, size: c.size}.Connect(ctx)
	if err == nil {
		c.seen(conn.(*cachingConn))
	}
	return conn, err
}

func (c connectorFunc) Driver() driver.Driver { return c.base.Driver() }

func TestStmtCacheReuse(t *testing.T) {
	t.Parallel()
	db, opened := openCached(t, 8, 1)
	for i := range 100 {
		if _, err := db.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		var v string
		if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("row %d: %q, %v", i, v, err)
		}
	}
	c := (*opened)[0]
	// CREATE, INSERT and SELECT: three statements compiled, not 201.
	if n := c.lru.Len(); n != 3 {
		t.Errorf("%d statements cached, want 3", n)
	}
}

// TestStmtCacheNested: the same query run again while its rows are open
// (in one transaction, so on one connection) gets a statement of its own.
func TestStmtCacheNested(t *testing.T) {
	t.Parallel()
	db, _ := openCached(t, 8, 1)
	for i := range 5 {
		if _, err := db.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = "SELECT k, v FROM kv WHERE k >= ? ORDER BY k"
	outer, err := tx.Query(q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var k int
		var v string
		if err := outer.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.Query(q, k)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%d", v, n))
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	want := "[v0:5 v1:4 v2:3 v3:2 v4:1]"
	if fmt.Sprint(got) != want {
		t.Fatalf("nested reads %v, want %s", got, want)
	}
	// And the cached statement works again afterwards.
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM kv WHERE k >= ?", 2).Scan(&n); err != nil || n != 3 {
		t.Fatalf("count %d, %v", n, err)
	}
}

// TestStmtCacheErrors: a statement that failed (a constraint) runs again
// correctly, and a bad statement is not cached.
func TestStmtCacheErrors(t *testing.T) {
	t.Parallel()
	db, opened := openCached(t, 8, 1)
	const ins = "INSERT INTO kv (k, v) VALUES (?, ?)"
	if _, err := db.Exec(ins, 1, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ins, 1, "b"); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if _, err := db.Exec(ins, 2, "c"); err != nil {
		t.Fatalf("the statement after a failure: %v", err)
	}
	if _, err := db.Exec("INSERT INTO nope VALUES (1)"); err == nil {
		t.Fatal("insert into a missing table accepted")
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM kv").Scan(&n); err != nil || n != 2 {
		t.Fatalf("count %d, %v", n, err)
	}
	for e := (*opened)[0].lru.Front(); e != nil; e = e.Next() {
		if q := e.Value.(*cachedStmt).query; q == "INSERT INTO nope VALUES (1)" {
			t.Fatal("a statement that failed to compile was cached")
		}
	}
}

// TestStmtCacheEviction: beyond its size the least recently used statement
// goes; one evicted while its rows are open is closed when they close.
func TestStmtCacheEviction(t *testing.T) {
	t.Parallel()
	db, opened := openCached(t, 2, 1)
	if _, err := db.Exec("INSERT INTO kv (k, v) VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query("SELECT v FROM kv ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	// Two more statements push the open one out of the cache.
	for i := range 2 {
		var n int
		if err := tx.QueryRow(fmt.Sprintf("SELECT COUNT(*) + %d FROM kv", i)).Scan(&n); err != nil || n != 2+i {
			t.Fatalf("count %d, %v", n, err)
		}
	}
	c := (*opened)[0]
	if c.lru.Len() != 2 {
		t.Fatalf("%d cached, want 2", c.lru.Len())
	}
	var vs []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(vs) != "[a b]" {
		t.Fatalf("rows of the evicted statement: %v", vs)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestStmtCacheConcurrent: a pool of connections, each with its cache, used
// from many goroutines (run with -race).
func TestStmtCacheConcurrent(t *testing.T) {
	t.Parallel()
	db, _ := openCached(t, 16, 4)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := g*1000 + i
				if _, err := db.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", k, fmt.Sprint(k)); err != nil {
					t.Error(err)
					return
				}
				var v string
				if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil || v != fmt.Sprint(k) {
					t.Errorf("k %d: %q %v", k, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM kv").Scan(&n); err != nil || n != 400 {
		t.Fatalf("count %d, %v", n, err)
	}
}
