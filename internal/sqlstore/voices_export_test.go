package sqlstore

// QForTest rewrites a ?-placeholder query for the dialect, for external
// tests that write rows directly.
func (db *DB) QForTest(query string) string { return db.q(query) }
