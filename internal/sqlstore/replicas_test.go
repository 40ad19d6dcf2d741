package sqlstore_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

// These tests play dead replicas by hand: a queue that is never started
// takes a queue job under a replica's name, as River's fetch does (state
// running, the name appended to attempted_by), and the heartbeats and sweeps
// run one at a time on the store's fake clock.

const replicaTimeout = 10 * time.Second

// replicaQueue builds a queue named id over db without starting it.
func replicaQueue(t *testing.T, db *sqlstore.DB, id string, maxAttempts int) *sqlstore.Queue {
	t.Helper()
	q, err := db.NewQueue(idleProcessor{}, sqlstore.QueueConfig{ReplicaID: id, ReplicaTimeout: replicaTimeout,
		MaxAttempts: maxAttempts, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("NewQueue(%s): %v", id, err)
	}
	if got := q.ReplicaID(); got != id {
		t.Fatalf("ReplicaID = %q, want %q", got, id)
	}
	return q
}

func beat(t *testing.T, qs ...*sqlstore.Queue) {
	t.Helper()
	for _, q := range qs {
		if err := q.HeartbeatForTest(context.Background()); err != nil {
			t.Fatalf("heartbeat of %s: %v", q.ReplicaID(), err)
		}
	}
}

func sweep(t *testing.T, q *sqlstore.Queue) sqlstore.RescueCounts {
	t.Helper()
	res, err := q.SweepReplicasForTest(context.Background())
	if err != nil {
		t.Fatalf("sweep by %s: %v", q.ReplicaID(), err)
	}
	return res
}

// take runs one available queue job's attempt as replica would: it is then
// running, attempted by replica. It returns the queue job's id.
func take(t *testing.T, db *sqlstore.DB, replica string) int64 {
	t.Helper()
	res, err := db.RiverDriver().GetExecutor().JobGetAvailable(context.Background(), &riverdriver.JobGetAvailableParams{
		ClientID: replica, MaxAttemptedBy: 100, MaxToLock: 1, Queue: "default"})
	if err != nil {
		t.Fatalf("taking a queue job as %s: %v", replica, err)
	}
	if len(res.Jobs) != 1 {
		t.Fatalf("taking a queue job as %s: got %d jobs, want 1", replica, len(res.Jobs))
	}
	return res.Jobs[0].ID
}

// riverJob is the part of a river_job row these tests look at.
type riverJob struct {
	State                string
	Attempt, MaxAttempts int
}

func riverJobRow(t *testing.T, db *sqlstore.DB, id int64) riverJob {
	t.Helper()
	q := "SELECT state, attempt, max_attempts FROM river_job WHERE id = ?"
	if db.Dialect() == sqlstore.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	var j riverJob
	if err := db.Writer().QueryRow(q, id).Scan(&j.State, &j.Attempt, &j.MaxAttempts); err != nil {
		t.Fatalf("reading queue job %d: %v", id, err)
	}
	return j
}

func replicaRows(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	var n int
	if err := db.Writer().QueryRow("SELECT COUNT(*) FROM voicehook_replicas").Scan(&n); err != nil {
		t.Fatalf("counting heartbeats: %v", err)
	}
	return n
}

// enqueueEvents stores n events and gives each its queue job.
func enqueueEvents(t *testing.T, db *sqlstore.DB, q *sqlstore.Queue, prefix string, n int) {
	t.Helper()
	for i := range n {
		id := prefix + string(rune('a'+i))
		ingest(t, db, newEvent(id, "key-"+id, t0))
	}
	if got, err := q.EnqueuePendingForTest(context.Background(), 100); err != nil || got != n {
		t.Fatalf("enqueued %d (%v), want %d", got, err, n)
	}
}

// A silent replica's running attempt is made runnable by a live one; the
// attempt of a replica whose heartbeat is fresh is never touched, however
// long it has been running.
func TestSilentReplicaAttemptsRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		dbs, clock := s.replicas(t, 2)
		a, b := replicaQueue(t, dbs[0], "replica-a", 10), replicaQueue(t, dbs[1], "replica-b", 10)
		beat(t, a, b)
		enqueueEvents(t, dbs[0], a, "evt_", 2)
		ja, jb := take(t, dbs[0], "replica-a"), take(t, dbs[1], "replica-b")

		// Both alive: nothing to do, even past the timeout since the
		// attempts started.
		clock.Advance(replicaTimeout - time.Second)
		beat(t, a, b)
		clock.Advance(replicaTimeout - time.Second)
		beat(t, a, b)
		if res := sweep(t, b); res != (sqlstore.RescueCounts{}) {
			t.Fatalf("sweep with both replicas alive = %+v, want nothing", res)
		}
		for _, id := range []int64{ja, jb} {
			if j := riverJobRow(t, dbs[0], id); j.State != "running" {
				t.Fatalf("queue job %d of a live replica = %+v, want running", id, j)
			}
		}

		// a falls silent; b keeps beating.
		clock.Advance(replicaTimeout / 2)
		beat(t, b)
		if res := sweep(t, b); res != (sqlstore.RescueCounts{}) {
			t.Fatalf("sweep before a's timeout = %+v, want nothing", res)
		}
		clock.Advance(replicaTimeout/2 + time.Second)
		beat(t, b)
		if res := sweep(t, b); res != (sqlstore.RescueCounts{Retried: 1}) {
			t.Fatalf("sweep after a's timeout = %+v, want 1 retried", res)
		}
		if j := riverJobRow(t, dbs[0], ja); j.State != "available" || j.Attempt != 1 || j.MaxAttempts != 10 {
			t.Fatalf("queue job of the silent replica = %+v, want available after attempt 1 of 10", j)
		}
		if j := riverJobRow(t, dbs[0], jb); j.State != "running" {
			t.Fatalf("queue job of the live replica = %+v, want running", j)
		}
		if n := replicaRows(t, dbs[0]); n != 1 {
			t.Fatalf("%d heartbeat rows after the sweep, want 1 (the silent one removed)", n)
		}
		// Sweeping again, from either side, changes nothing.
		if res := sweep(t, b); res != (sqlstore.RescueCounts{}) {
			t.Fatalf("second sweep = %+v, want nothing", res)
		}

		// The rescued job is taken again by the live replica, and stays
		// its own: a long attempt of a live replica is never rescued.
		if again := take(t, dbs[1], "replica-b"); again != ja {
			t.Fatalf("took queue job %d, want the rescued %d", again, ja)
		}
		for range 10 {
			clock.Advance(time.Hour)
			beat(t, b)
			if res := sweep(t, a); res != (sqlstore.RescueCounts{}) {
				t.Fatalf("sweep while b beats = %+v, want nothing", res)
			}
		}
		for _, id := range []int64{ja, jb} {
			if j := riverJobRow(t, dbs[0], id); j.State != "running" {
				t.Fatalf("queue job %d of the live replica after 10h = %+v, want running", id, j)
			}
		}
	})
}

// A crash does not spend the last attempt: the job gets one more, once. If
// that one is cut by a crash too, the event ends dead with the reason
// instead of being discarded silently.
func TestLastAttemptCutByCrash(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, clock := s.setup(t)
		live := replicaQueue(t, db, "live", 1)
		enqueueEvents(t, db, live, "evt_last_", 1)
		const id = "evt_last_a"

		dies := func(name string) int64 {
			t.Helper()
			beat(t, live, replicaQueue(t, db, name, 1))
			job := take(t, db, name)
			clock.Advance(replicaTimeout + time.Second)
			beat(t, live)
			return job
		}
		job := dies("doomed-1")
		if res := sweep(t, live); res != (sqlstore.RescueCounts{Retried: 1, Extended: 1}) {
			t.Fatalf("sweep after the last attempt was cut = %+v, want 1 retried with one more attempt", res)
		}
		if j := riverJobRow(t, db, job); j.State != "available" || j.Attempt != 1 || j.MaxAttempts != 2 {
			t.Fatalf("queue job = %+v, want available with attempt 1 of 2", j)
		}
		if ev := event(t, db, id); ev.Status != voicehook.EventReceived {
			t.Fatalf("event = %s, want still received", ev.Status)
		}

		if again := dies("doomed-2"); again != job {
			t.Fatalf("took queue job %d, want %d", again, job)
		}
		if res := sweep(t, live); res != (sqlstore.RescueCounts{Ended: 1}) {
			t.Fatalf("sweep after the granted attempt was cut too = %+v, want 1 ended", res)
		}
		if j := riverJobRow(t, db, job); j.State != "discarded" {
			t.Fatalf("queue job = %+v, want discarded", j)
		}
		ev := event(t, db, id)
		if ev.Status != voicehook.EventDead || !strings.Contains(ev.ErrorDetails, "presumed dead") {
			t.Fatalf("event = %s %q, want dead saying why", ev.Status, ev.ErrorDetails)
		}
		as := attempts(t, db, id)
		if len(as) != 1 || as[0].Outcome != voicehook.AttemptDead || as[0].Error != ev.ErrorDetails {
			t.Fatalf("attempts = %+v, want one dead attempt with the reason", as)
		}
	})
}

// recordingProcessor reports every run and succeeds.
type recordingProcessor chan voicehook.Run

func (p recordingProcessor) Process(_ context.Context, run voicehook.Run) voicehook.RunResult {
	p <- run
	return voicehook.RunResult{}
}

// On SQLite, the attempt a killed process left running runs again as soon
// as the next process starts its queue.
func TestStartRetriesAttemptsLeftRunning(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		if s.separateOpens {
			t.Skip("PostgreSQL replicas cannot know that another is dead at start: a heartbeat tells them (TestSilentReplicaAttemptsRetried)")
		}
		db, _ := s.setup(t)
		enqueueEvents(t, db, newQueue(t, db), "evt_left_", 1)
		job := take(t, db, "killed-process")

		runs := make(recordingProcessor, 1)
		q, err := db.NewQueue(runs, sqlstore.QueueConfig{PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := q.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(func() { _ = q.Stop(ctx) })
		select {
		case run := <-runs:
			if run.EventID != "evt_left_a" || run.Attempt != 2 {
				t.Fatalf("run = %+v, want evt_left_a's attempt 2", run)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the attempt left running did not run again within 10s of Start (queue job %d = %+v)", job, riverJobRow(t, db, job))
		}
	})
}
