package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

// The enqueuer is driven by hand: each test builds a Queue it never starts
// and calls EnqueuePendingForTest (export_test.go); what a call enqueued is
// read back from River's river_job table.

// idleProcessor is the processor of a queue that is never started.
type idleProcessor struct{}

func (idleProcessor) Process(context.Context, voicehook.Run) voicehook.RunResult {
	return voicehook.RunResult{Retry: errors.New("the test queue is never started")}
}

// newQueue builds a queue over db without starting it.
func newQueue(t *testing.T, db *sqlstore.DB) *sqlstore.Queue {
	t.Helper()
	q, err := db.NewQueue(idleProcessor{}, sqlstore.QueueConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("NewQueue: %v", err)
	}
	return q
}

// queueJob is one row of river_job.
type queueJob struct {
	ID      int64
	EventID string
	Kind    string
	State   string
}

// queueJobs lists every queue job, in insertion order.
func queueJobs(t *testing.T, db *sqlstore.DB) []queueJob {
	t.Helper()
	eventID := "args->>'event_id'"
	if db.Dialect() == sqlstore.SQLite {
		eventID = "json_extract(args, '$.event_id')"
	}
	rows, err := db.Writer().Query("SELECT id, " + eventID + ", kind, state FROM river_job ORDER BY id")
	if err != nil {
		t.Fatalf("listing queue jobs: %v", err)
	}
	defer rows.Close()
	var out []queueJob
	for rows.Next() {
		var j queueJob
		if err := rows.Scan(&j.ID, &j.EventID, &j.Kind, &j.State); err != nil {
			t.Fatalf("listing queue jobs: %v", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("listing queue jobs: %v", err)
	}
	return out
}

// jobsPerEvent counts the queue jobs of each event.
func jobsPerEvent(t *testing.T, db *sqlstore.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, j := range queueJobs(t, db) {
		out[j.EventID]++
	}
	return out
}

// added returns the event ids of the queue jobs in after that are not in
// before, in insertion order, checking that every job of before is still
// there unchanged and that each new job is a waiting
// voicehook.process_event job. (Ids come from a sequence, so a concurrent
// inserter's jobs may sit between the new ones.)
func added(t *testing.T, before, after []queueJob) []string {
	t.Helper()
	old := map[int64]bool{}
	for _, j := range before {
		old[j.ID] = true
	}
	var kept, fresh []queueJob
	for _, j := range after {
		if old[j.ID] {
			kept = append(kept, j)
		} else {
			fresh = append(fresh, j)
		}
	}
	if !slices.Equal(before, kept) {
		t.Fatalf("queue jobs changed under the enqueuer:\nbefore %v\nafter  %v", before, after)
	}
	got := []string{}
	for _, j := range fresh {
		if j.Kind != (sqlstore.Args{}).Kind() || j.State != "available" {
			t.Errorf("queue job %+v; want kind %s, available", j, sqlstore.Args{}.Kind())
		}
		got = append(got, j.EventID)
	}
	return got
}

// enqueued runs one enqueuer pass of q over db and returns the ids of the
// events it inserted queue jobs for, checking it reports as many.
func enqueued(t *testing.T, q *sqlstore.Queue, db *sqlstore.DB, limit int) []string {
	t.Helper()
	before := queueJobs(t, db)
	n, err := q.EnqueuePendingForTest(context.Background(), limit)
	if err != nil {
		t.Fatalf("enqueuePending(%d): %v", limit, err)
	}
	got := added(t, before, queueJobs(t, db))
	if n != len(got) {
		t.Errorf("enqueuePending returned %d, inserted %d queue jobs", n, len(got))
	}
	return got
}

// execAll runs statements on db's writer.
func execAll(t *testing.T, db *sqlstore.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Writer().Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// failQueueInserts makes every insert into river_job fail with "queue
// down" until the returned function is called.
func failQueueInserts(t *testing.T, db *sqlstore.DB) (restore func()) {
	t.Helper()
	if db.Dialect() == sqlstore.SQLite {
		execAll(t, db, `CREATE TRIGGER vh_test_queue_down BEFORE INSERT ON river_job BEGIN SELECT RAISE(ABORT, 'queue down'); END`)
	} else {
		execAll(t, db,
			`CREATE FUNCTION vh_test_queue_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'queue down'; END $$`,
			`CREATE TRIGGER vh_test_queue_down BEFORE INSERT ON river_job FOR EACH ROW EXECUTE FUNCTION vh_test_queue_down()`)
	}
	return func() {
		t.Helper()
		if db.Dialect() == sqlstore.SQLite {
			execAll(t, db, `DROP TRIGGER vh_test_queue_down`)
		} else {
			execAll(t, db, `DROP TRIGGER vh_test_queue_down ON river_job`)
		}
	}
}

func TestEnqueuePending(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		q := newQueue(t, db)
		// Stored out of order; they come out in received order.
		for _, i := range []int{3, 1, 4, 0, 2} {
			id := fmt.Sprintf("evt_%d", i)
			ingest(t, db, newEvent(id, id, t0.Add(time.Duration(i)*time.Second)))
		}
		if diff := cmp.Diff([]string{"evt_0", "evt_1"}, enqueued(t, q, db, 2)); diff != "" {
			t.Errorf("first call (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"evt_2", "evt_3"}, enqueued(t, q, db, 2)); diff != "" {
			t.Errorf("second call (-want +got):\n%s", diff)
		}

		// A failing queue insert rolls back: no queue job, the event not
		// marked, and it comes out next time.
		restore := failQueueInserts(t, db)
		before := queueJobs(t, db)
		n, err := q.EnqueuePendingForTest(ctx, 10)
		if err == nil || !strings.Contains(err.Error(), "queue down") || n != 0 {
			t.Errorf("enqueuePending with a failing insert = %d, %v; want 0, queue down", n, err)
		}
		if diff := cmp.Diff(before, queueJobs(t, db)); diff != "" {
			t.Errorf("queue jobs after a failing insert (-before +after):\n%s", diff)
		}
		restore()
		if diff := cmp.Diff([]string{"evt_4"}, enqueued(t, q, db, 10)); diff != "" {
			t.Errorf("after rollback (-want +got):\n%s", diff)
		}
		if got := enqueued(t, q, db, 10); len(got) != 0 {
			t.Errorf("nothing pending, yet got %v", got)
		}

		// A new event comes out once.
		ingest(t, db, newEvent("evt_5", "evt_5", t0.Add(5*time.Second)))
		if diff := cmp.Diff([]string{"evt_5"}, enqueued(t, q, db, 10)); diff != "" {
			t.Errorf("new event (-want +got):\n%s", diff)
		}

		// Replay puts a finished event back to received; it comes out again,
		// keeping its attempts and related job.
		if err := db.Replay(ctx, "evt_1"); !errors.Is(err, voicehook.ErrInProgress) {
			t.Errorf("Replay of a waiting event: got %v, want ErrInProgress", err)
		}
		fin := voicehook.EventFinish{Status: voicehook.EventDead, ErrorDetails: "gave up", RelatedJob: "job_1"}
		if err := db.RecordAttempt(ctx, voicehook.Attempt{EventID: "evt_1", Outcome: voicehook.AttemptDead, Error: "x"}, &fin); err != nil {
			t.Fatal(err)
		}
		if err := db.Replay(ctx, "evt_1"); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		ev := event(t, db, "evt_1")
		type state struct {
			Status       voicehook.EventStatus
			Processed    bool
			Success      *bool
			ErrorDetails string
			RelatedJob   string
			Attempts     int
		}
		want := state{voicehook.EventReceived, false, nil, "", "job_1", 1}
		if diff := cmp.Diff(want, state{ev.Status, ev.Processed, ev.Success, ev.ErrorDetails, ev.RelatedJob, ev.Attempts}); diff != "" {
			t.Errorf("replayed event (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"evt_1"}, enqueued(t, q, db, 10)); diff != "" {
			t.Errorf("after Replay (-want +got):\n%s", diff)
		}
		if got := enqueued(t, q, db, 10); len(got) != 0 {
			t.Errorf("replayed event came out twice: %v", got)
		}
		if err := db.Replay(ctx, "nope"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("Replay(nope): got %v, want ErrNotFound", err)
		}

		// Exactly one queue job per event per (re)play.
		wantJobs := map[string]int{"evt_0": 1, "evt_1": 2, "evt_2": 1, "evt_3": 1, "evt_4": 1, "evt_5": 1}
		if diff := cmp.Diff(wantJobs, jobsPerEvent(t, db)); diff != "" {
			t.Errorf("queue jobs per event (-want +got):\n%s", diff)
		}
	})
}

func TestEnqueuePendingConcurrentReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		const events, racers = 60, 6
		dbs, _ := s.replicas(t, 2)
		var all []voicehook.NewEvent
		for i := range events {
			id := fmt.Sprintf("evt_%02d", i)
			all = append(all, newEvent(id, id, t0.Add(time.Duration(i)*time.Millisecond)))
		}
		ingest(t, dbs[0], all...)
		if dbs[0].Dialect() == sqlstore.Postgres {
			// Hold the rows a while in each enqueue transaction, so the
			// racers overlap. (SQLite's one writer runs them in turn.)
			execAll(t, dbs[0],
				`CREATE FUNCTION vh_test_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN NULL; END $$`,
				`CREATE TRIGGER vh_test_slow AFTER INSERT ON river_job FOR EACH STATEMENT EXECUTE FUNCTION vh_test_slow()`)
		}
		queues := make([]*sqlstore.Queue, racers)
		for g := range queues {
			queues[g] = newQueue(t, dbs[g%len(dbs)])
		}

		var mu sync.Mutex
		reported := 0
		var errs []error
		var wg sync.WaitGroup
		for _, q := range queues {
			wg.Go(func() {
				for {
					n, err := q.EnqueuePendingForTest(context.Background(), 4)
					mu.Lock()
					reported += n
					if err != nil {
						errs = append(errs, err)
					}
					mu.Unlock()
					if err != nil || n == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("enqueuePending: %v", errors.Join(errs...))
		}
		// Whatever the racers left (rows locked by another when they looked)
		// comes out now.
		reported += len(enqueued(t, newQueue(t, dbs[1]), dbs[1], events))
		seen := jobsPerEvent(t, dbs[1])
		for _, ev := range all {
			if seen[ev.ID] != 1 {
				t.Errorf("%s has %d queue jobs, want one", ev.ID, seen[ev.ID])
			}
		}
		if len(seen) != events {
			t.Errorf("queue jobs for %d distinct events, want %d", len(seen), events)
		}
		if total := len(queueJobs(t, dbs[1])); reported != total {
			t.Errorf("the enqueuers reported %d, river_job holds %d", reported, total)
		}
	})
}

// TestEnqueuePendingSkipLocked: while one replica holds rows in its
// enqueue transaction, another takes the rest without waiting for it.
func TestEnqueuePendingSkipLocked(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		if !s.separateOpens {
			t.Skip("SQLite has one writer: a second enqueuer waits by design")
		}
		ctx := context.Background()
		dbs, _ := s.replicas(t, 2)
		for i := range 4 {
			id := fmt.Sprintf("evt_%d", i)
			ingest(t, dbs[0], newEvent(id, id, t0.Add(time.Duration(i)*time.Second)))
		}
		// The queue insert of evt_0 and evt_1 waits at a gate the test
		// holds: the first replica then sits in its enqueue transaction,
		// holding those rows, until the test opens the gate.
		execAll(t, dbs[0],
			`CREATE TABLE vh_test_gate (id INTEGER)`,
			`CREATE FUNCTION vh_test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.args->>'event_id' IN ('evt_0', 'evt_1') THEN PERFORM 1 FROM vh_test_gate; END IF;
				RETURN NEW;
			END $$`,
			`CREATE TRIGGER vh_test_gate BEFORE INSERT ON river_job FOR EACH ROW EXECUTE FUNCTION vh_test_gate()`)
		gateConn, err := dbs[0].Writer().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gate, err := gateConn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var gatePID int
		if err := gate.QueryRow("SELECT pg_backend_pid()").Scan(&gatePID); err != nil {
			t.Fatal(err)
		}
		if _, err := gate.Exec("LOCK TABLE vh_test_gate IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		open := sync.OnceFunc(func() {
			_ = gate.Rollback()
			_ = gateConn.Close()
		})
		defer open()

		type result struct {
			n   int
			err error
		}
		firstDone := make(chan result, 1)
		first := newQueue(t, dbs[0])
		go func() {
			n, err := first.EnqueuePendingForTest(ctx, 2)
			firstDone <- result{n, err}
		}()
		defer func() { open(); <-firstDone }()
		// Wait until the first replica is stopped at the gate.
		deadline := time.Now().Add(20 * time.Second)
		for {
			var waiting int
			if err := dbs[1].Writer().QueryRow("SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", gatePID).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting > 0 {
				break
			}
			select {
			case r := <-firstDone:
				firstDone <- r
				t.Fatalf("first replica finished without reaching the gate: %d, %v", r.n, r.err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("first replica never reached its queue insert")
			}
			time.Sleep(5 * time.Millisecond)
		}

		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		before := queueJobs(t, dbs[1])
		n, err := newQueue(t, dbs[1]).EnqueuePendingForTest(tctx, 10)
		if err != nil {
			t.Fatalf("second replica, while the first holds its rows: %v", err)
		}
		second := added(t, before, queueJobs(t, dbs[1]))
		if n != len(second) {
			t.Errorf("second replica reported %d, inserted %d", n, len(second))
		}
		if diff := cmp.Diff([]string{"evt_2", "evt_3"}, second); diff != "" {
			t.Errorf("second replica (-want +got):\n%s", diff)
		}

		before = queueJobs(t, dbs[1])
		open()
		r := <-firstDone
		firstDone <- r
		if r.err != nil {
			t.Fatalf("first replica: %v", r.err)
		}
		firstIDs := added(t, before, queueJobs(t, dbs[1]))
		if r.n != len(firstIDs) {
			t.Errorf("first replica reported %d, inserted %d", r.n, len(firstIDs))
		}
		if diff := cmp.Diff([]string{"evt_0", "evt_1"}, firstIDs); diff != "" {
			t.Errorf("first replica (-want +got):\n%s", diff)
		}
		if got := enqueued(t, newQueue(t, dbs[1]), dbs[1], 10); len(got) != 0 {
			t.Errorf("left over: %v", got)
		}
	})
}
