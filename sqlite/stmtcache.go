package sqlite

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
)

// SQLite compiles every statement before running it, and database/sql asks
// the driver to compile each ExecContext and QueryContext afresh: on the
// write connection, which every transaction shares, compiling took more time
// than running (River's statements are long; measured in BENCHMARKS.md). So
// each connection keeps its compiled statements by SQL text, in a bounded
// LRU, and runs them again after a reset — what SQLite's own prepared
// statements are for. Semantics do not change: the same SQL runs on the same
// connection; a statement whose rows are still open is not reused (a fresh
// one runs instead), and a connection's statements are finalized when it
// closes.

// cachingConnector opens connections that cache their statements.
type cachingConnector struct {
	driver.Connector
	size int
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn, c.size), nil
}

// cachingConn is one connection and its compiled statements. database/sql
// uses a connection from one goroutine at a time, so it needs no lock.
type cachingConn struct {
	driver.Conn
	size  int
	bySQL map[string]*list.Element // of *cachedStmt
	lru   *list.List               // most recently used first
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	// busy: rows from it are open, so it cannot run again yet.
	busy bool
	// evicted: left the cache while busy; close it when its rows close.
	evicted bool
}

// The optional interfaces every connection of the driver implements, which
// a wrapper must forward (see sqlite.NewConnector).
var (
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

func newCachingConn(conn driver.Conn, size int) *cachingConn {
	return &cachingConn{Conn: conn, size: max(size, 1), bySQL: map[string]*list.Element{}, lru: list.New()}
}

// Unwrap returns the driver's own connection.
func (c *cachingConn) Unwrap() driver.Conn { return c.Conn }

// statement returns the compiled statement for query and whether it is a
// one-off the caller must close (the cached one is busy).
func (c *cachingConn) statement(ctx context.Context, query string) (*cachedStmt, bool, error) {
	if e, ok := c.bySQL[query]; ok {
		cs := e.Value.(*cachedStmt)
		if !cs.busy {
			c.lru.MoveToFront(e)
			return cs, false, nil
		}
		st, err := c.PrepareContext(ctx, query)
		if err != nil {
			return nil, false, err
		}
		return &cachedStmt{query: query, stmt: st}, true, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.bySQL[query] = c.lru.PushFront(cs)
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		ocs := old.Value.(*cachedStmt)
		delete(c.bySQL, ocs.query)
		if ocs.busy {
			ocs.evicted = true
		} else {
			_ = ocs.stmt.Close()
		}
	}
	return cs, false, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, oneOff, err := c.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	if oneOff {
		defer cs.stmt.Close()
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, oneOff, err := c.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		if oneOff {
			_ = cs.stmt.Close()
		}
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs, closeStmt: oneOff}, nil
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, e.Value.(*cachedStmt).stmt.Close())
	}
	c.lru.Init()
	clear(c.bySQL)
	return errors.Join(append(errs, c.Conn.Close())...)
}

// cachedRows releases its statement for reuse when closed.
type cachedRows struct {
	driver.Rows
	cs        *cachedStmt
	closeStmt bool
	closed    bool
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.closed {
		return err
	}
	r.closed = true
	r.cs.busy = false
	if r.closeStmt || r.cs.evicted {
		err = errors.Join(err, r.cs.stmt.Close())
	}
	return err
}

// The column type methods of the driver's rows, forwarded.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
