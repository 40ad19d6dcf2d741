package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/voicehook/voicehook"
)

// Ingest stores a batch of verified deliveries in one transaction. A delivery
// whose dedupe key is already stored (earlier, or earlier in this batch) is
// reported as a duplicate of the first event. Every result shares the
// transaction's fate: when it fails, every result carries the error.
//
// The events go in as multi-row INSERTs of power-of-two sizes, so a handful
// of statement texts cover every batch and stay compiled (PostgreSQL's
// prepared statements; on SQLite the write connection's statement cache).
// On PostgreSQL that is one round trip per chunk instead of one per event,
// which tripled ingest there; RETURNING names the rows inserted, and the
// rest, which hit an existing dedupe key, are looked up together afterwards.
// On SQLite it is one statement run per chunk instead of one per event
// (each run has the driver's fixed costs: a goroutine watching the context,
// database/sql's locking and argument conversion), and without RETURNING:
// the count of rows inserted says whether any was skipped, which is rare.
// Against one compiled single-row INSERT per event it took the writer's user
// CPU per event from 44 to 39 µs in batches of 11 and from 29 to 25 µs in
// batches of 28 (BenchmarkIngestBatch, medians of 6 interleaved runs); in
// `voicehook bench --process=false` the difference is within the noise.
func (db *DB) Ingest(ctx context.Context, events []voicehook.NewEvent) []voicehook.IngestResult {
	results := make([]voicehook.IngestResult, len(events))
	err := db.txTurn(ctx, true, func(ctx context.Context, tx *sql.Tx) error {
		insert := db.insertEvents
		if db.cfg.Dialect == SQLite {
			insert = db.insertEventsCounted
		}
		for start := 0; start < len(events); {
			n := chunkRows(len(events) - start)
			if err := insert(ctx, tx, events[start:start+n], results[start:start+n]); err != nil {
				return err
			}
			start += n
		}
		return db.resolveDuplicates(ctx, tx, events, results)
	})
	if err != nil {
		if !errors.Is(err, voicehook.ErrUnavailable) {
			err = unavailable(err)
		}
		for i := range results {
			results[i] = voicehook.IngestResult{Err: err}
		}
	}
	return results
}

// maxInsertRows caps one INSERT: 64 rows × 12 parameters stays far below
// both databases' parameter limits.
const maxInsertRows = 64

// chunkRows is the largest power of two ≤ remaining, at most maxInsertRows.
func chunkRows(remaining int) int {
	n := 1
	for n*2 <= remaining && n*2 <= maxInsertRows {
		n *= 2
	}
	return n
}

const insertEventsColumns = ` voicehook_events
	(id, service, endpoint, dedupe_key, type, segment_id, raw_payload, headers,
	 received_at, status, error_details, related_job, attempts, enqueued, updated_at, traceparent)
	VALUES `

const insertEventsRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', 0, 0, ?, ?)`

// eventParams is the number of parameters of insertEventsRow.
const eventParams = 12

var insertEventsSQL sync.Map // Dialect, row count, returning → statement text

func (db *DB) insertEventsStatement(rows int, returning bool) string {
	key := [3]int{int(db.cfg.Dialect), rows, 0}
	if returning {
		key[2] = 1
	}
	if q, ok := insertEventsSQL.Load(key); ok {
		return q.(string)
	}
	values := strings.TrimSuffix(strings.Repeat(insertEventsRow+", ", rows), ", ")
	var q string
	if db.cfg.Dialect == SQLite {
		// OR IGNORE, not ON CONFLICT (dedupe_key) DO NOTHING: a statement
		// that writes several rows and may abort half way (on the primary
		// key or a NOT NULL) makes SQLite copy every page it changes into a
		// statement journal first, to undo the statement alone: 17% of the
		// CPU profile of BenchmarkIngestBatch, and why multi-row INSERTs
		// measured slower here at first. A row skipped for another
		// constraint than its dedupe key's is caught by resolveDuplicates,
		// which then finds no stored event with its key and fails the
		// batch, as the abort did (TestIngestConstraintFailsBatch).
		q = "INSERT OR IGNORE INTO" + insertEventsColumns + values
	} else {
		q = "INSERT INTO" + insertEventsColumns + values + " ON CONFLICT (dedupe_key) DO NOTHING"
	}
	if returning {
		q += " RETURNING id"
	}
	q = db.q(q)
	insertEventsSQL.Store(key, q)
	return q
}

// eventArgs appends one row's parameters of insertEventsRow to args. The
// headers come encoded from the webhook handler (HeadersJSON), which keeps
// encoding/json off this single writer; other callers' are encoded here.
func eventArgs(args []any, ev voicehook.NewEvent) ([]any, error) {
	headers := ev.HeadersJSON
	if headers == "" {
		b, err := json.Marshal(ev.Headers)
		if err != nil {
			return args, fmt.Errorf("encoding headers of event %s: %w", ev.ID, err)
		}
		headers = string(b)
	}
	return append(args, ev.ID, ev.Service, ev.Endpoint, ev.DedupeKey, ev.Type, ev.SegmentID,
		ev.RawPayload, headers, micros(ev.ReceivedAt), voicehook.EventReceived, micros(ev.ReceivedAt), ev.TraceParent), nil
}

// insertEvents inserts one chunk and fills in the results of the rows it
// inserted; the others are marked as duplicates still to resolve.
func (db *DB) insertEvents(ctx context.Context, tx *sql.Tx, events []voicehook.NewEvent, results []voicehook.IngestResult) error {
	args := make([]any, 0, eventParams*len(events))
	for _, ev := range events {
		var err error
		if args, err = eventArgs(args, ev); err != nil {
			return err
		}
	}
	rows, err := tx.QueryContext(ctx, db.insertEventsStatement(len(events), true), args...)
	if err != nil {
		return fmt.Errorf("inserting events: %w", err)
	}
	defer rows.Close()
	inserted := make(map[string]bool, len(events))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("inserting events: %w", err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("inserting events: %w", err)
	}
	for i, ev := range events {
		if inserted[ev.ID] {
			results[i] = voicehook.IngestResult{EventID: ev.ID}
		} else {
			results[i] = voicehook.IngestResult{Duplicate: true}
		}
	}
	return nil
}

// insertEventsCounted is insertEvents without RETURNING, SQLite's way (see
// Ingest): when the statement inserted every row, as it almost always does,
// nothing more is read; otherwise every row of the chunk is left for
// resolveDuplicates, which tells the inserted ones by their id.
func (db *DB) insertEventsCounted(ctx context.Context, tx *sql.Tx, events []voicehook.NewEvent, results []voicehook.IngestResult) error {
	args := make([]any, 0, eventParams*len(events))
	for _, ev := range events {
		var err error
		if args, err = eventArgs(args, ev); err != nil {
			return err
		}
	}
	res, err := tx.ExecContext(ctx, db.insertEventsStatement(len(events), false), args...)
	if err != nil {
		return fmt.Errorf("inserting events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("inserting events: %w", err)
	}
	for i, ev := range events {
		results[i] = voicehook.IngestResult{EventID: ev.ID, Duplicate: n != int64(len(events))}
	}
	return nil
}

// resolveDuplicates points every duplicate at the stored event with its
// dedupe key (stored before, or earlier in this transaction).
func (db *DB) resolveDuplicates(ctx context.Context, tx *sql.Tx, events []voicehook.NewEvent, results []voicehook.IngestResult) error {
	var keys []any
	for i, r := range results {
		if r.Duplicate {
			keys = append(keys, events[i].DedupeKey)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	first := make(map[string]string, len(keys))
	for start := 0; start < len(keys); start += maxInsertRows {
		chunk := keys[start:min(start+maxInsertRows, len(keys))]
		q := db.q("SELECT dedupe_key, id FROM voicehook_events WHERE dedupe_key IN (" +
			strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + ")")
		rows, err := tx.QueryContext(ctx, q, chunk...)
		if err != nil {
			return fmt.Errorf("finding the events duplicates repeat: %w", err)
		}
		for rows.Next() {
			var key, id string
			if err := rows.Scan(&key, &id); err != nil {
				rows.Close()
				return fmt.Errorf("finding the events duplicates repeat: %w", err)
			}
			first[key] = id
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("finding the events duplicates repeat: %w", err)
		}
	}
	for i, r := range results {
		if !r.Duplicate {
			continue
		}
		id, ok := first[events[i].DedupeKey]
		if !ok {
			// On SQLite: skipped for another constraint (see insertEventsStatement).
			return fmt.Errorf("event %s was not stored, and no stored event has its dedupe key %q", events[i].ID, events[i].DedupeKey)
		}
		// On SQLite a row of a chunk that skipped some may be the one stored
		// (see insertEventsCounted).
		results[i] = voicehook.IngestResult{EventID: id, Duplicate: id != events[i].ID}
	}
	return nil
}
