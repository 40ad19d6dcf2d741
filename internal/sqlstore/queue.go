package sqlstore

// The queue lives in the store's database: River's tables sit beside the
// events, so the enqueuer can mark events enqueued and insert their queue
// jobs in one transaction. Every committed event thus gets exactly one queue
// job per (re)play, and the slow queue insert stays out of the
// acknowledgement path (the ingest writer only wakes the enqueuer).

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/ackguard"
	"github.com/voicehook/voicehook/internal/tracing"
)

// Args is the queue job that processes one stored event.
type Args struct {
	EventID string `json:"event_id"`
	// TraceParent is the event's stored trace context (tracing.TraceParent),
	// carried so that the worker can time the queue wait in the event's
	// trace without reading the event first.
	TraceParent string `json:"traceparent,omitempty"`
}

// Kind names the job in River's tables.
func (Args) Kind() string { return "voicehook.process_event" }

// GenerateArgs is the queue job that generates one job's voiceover.
type GenerateArgs struct {
	JobID string `json:"job_id"`
}

// Kind names the job in River's tables.
func (GenerateArgs) Kind() string { return "voicehook.generate" }

// GenerationQueue is the River queue generations run on: its width is the
// ElevenLabs concurrency, apart from event processing's.
const GenerationQueue = "generation"

// QueueConfig tunes the queue.
type QueueConfig struct {
	Workers int
	// Generator, if set, runs generations on their own queue,
	// GenerationWorkers wide (--elevenlabs-concurrency).
	Generator         voicehook.Generator
	GenerationWorkers int
	// Checker, if set, runs QA checks on their own queue, QAWorkers wide.
	Checker   voicehook.QAChecker
	QAWorkers int

	MaxAttempts int
	// RetryBase is the first retry delay; each retry doubles it, with
	// jitter, up to RetryMax.
	RetryBase, RetryMax time.Duration
	// JobTimeout bounds one attempt. River's rescuer retries an attempt
	// still running after JobTimeout plus a margin (up to 30s): the safety
	// net behind the faster rescues below.
	JobTimeout time.Duration
	// ReplicaID names this process: River's client ID (recorded in
	// river_job.attempted_by) and its heartbeat row. Default: host, pid
	// and a random part.
	ReplicaID string
	// ReplicaTimeout: on PostgreSQL, a replica whose heartbeat is this old
	// is presumed dead, and the others retry its running attempts (default
	// 30s). On SQLite, attempts left running by a dead process are retried
	// as the next one starts.
	ReplicaTimeout time.Duration
	// HeartbeatInterval is how often a replica renews its heartbeat and
	// looks for silent ones (default ReplicaTimeout/6, within 500ms–5s).
	HeartbeatInterval time.Duration
	// PollInterval is how often workers look for jobs when not woken.
	PollInterval time.Duration
	// SweepInterval is how often committed events without a queue job are
	// looked for even when nobody signals (a safety net; normally the
	// ingest writer wakes the enqueuer after every commit).
	SweepInterval time.Duration
	// Recheck, if positive, wakes parked events (waits.go) last checked
	// this long ago, up to RecheckBatch per sweep (default 10): for records
	// where jobs appear without voicehook creating them (Airtable), so
	// that no wake-up comes. Zero: parked events wake only when a job is
	// created through voicehook or their grace runs out.
	Recheck      time.Duration
	RecheckBatch int
	// MatchParked, with the records in this store (--records sql), wakes
	// at each sweep the parked events whose job now exists.
	MatchParked bool
	// Gate, if set, bounds the event processing attempts running at once
	// below Workers while acknowledgements are slow (--ack-target); the
	// queue runs its controller.
	Gate   *ackguard.Guard
	Logger *slog.Logger
	// Tracing, if on, times each traced event's wait in the queue as a
	// span of its trace, and runs the attempt within it.
	Tracing *tracing.Tracing
}

// Queue runs the events through River: the enqueuer turns committed events
// into queue jobs, and River's workers run the processor with retries,
// backoff and rescue of jobs whose process died.
type Queue struct {
	client *river.Client[*sql.Tx]
	db     *DB
	cfg    QueueConfig
	wake   chan struct{}
	stop   context.CancelFunc
	done   chan struct{}
	// stopBeat ends the heartbeat loop (PostgreSQL); beatDone closes when
	// it has. It outlives the workers, so a slow clean stop is not taken
	// for a death.
	stopBeat context.CancelFunc
	beatDone chan struct{}
}

// NewQueue builds the River client over the store's writer; Start runs it.
func (db *DB) NewQueue(proc voicehook.EventProcessor, cfg QueueConfig) (*Queue, error) {
	cfg.Workers = max(cfg.Workers, 1)
	cfg.MaxAttempts = max(cfg.MaxAttempts, 1)
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 2 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 10 * time.Minute
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 5 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 5 * time.Second
	}
	if cfg.ReplicaID == "" {
		cfg.ReplicaID = newReplicaID()
	}
	if cfg.ReplicaTimeout <= 0 {
		cfg.ReplicaTimeout = 30 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = min(max(cfg.ReplicaTimeout/6, 500*time.Millisecond), 5*time.Second)
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{proc: proc, tracing: cfg.Tracing, gate: cfg.Gate}); err != nil {
		return nil, fmt.Errorf("registering worker: %w", err)
	}
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
	if cfg.Generator != nil {
		if err := river.AddWorkerSafely(workers, &generateWorker{gen: cfg.Generator}); err != nil {
			return nil, fmt.Errorf("registering generation worker: %w", err)
		}
		queues[GenerationQueue] = river.QueueConfig{MaxWorkers: max(cfg.GenerationWorkers, 1)}
	}
	if cfg.Checker != nil {
		if err := river.AddWorkerSafely(workers, &qaWorker{checker: cfg.Checker}); err != nil {
			return nil, fmt.Errorf("registering QA worker: %w", err)
		}
		queues[QAQueue] = river.QueueConfig{MaxWorkers: max(cfg.QAWorkers, 1)}
	}
	client, err := river.NewClient(db.cfg.River, &river.Config{
		ID:                   cfg.ReplicaID,
		Queues:               queues,
		Workers:              workers,
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          &retryPolicy{base: cfg.RetryBase, max: cfg.RetryMax},
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.JobTimeout + min(cfg.JobTimeout, 30*time.Second),
		FetchPollInterval:    cfg.PollInterval,
		// River fetches at most once per cooldown, up to the free worker
		// slots: with 8 workers, 20 ms capped processing at 400 events/s.
		// 5 ms measured 632–654/s end to end; 2 ms no better (more, smaller
		// fetch transactions on the one writer).
		FetchCooldown: 5 * time.Millisecond,
		Logger:        cfg.Logger.With("component", "river"),
		// Finished queue jobs are bookkeeping; the event row is the record.
		CompletedJobRetentionPeriod: time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("creating queue client: %w", err)
	}
	if cfg.RecheckBatch <= 0 {
		cfg.RecheckBatch = 10
	}
	q := &Queue{client: client, db: db, cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{}), beatDone: make(chan struct{})}
	db.enqueuerWake.Store(q.Wake)
	return q, nil
}

// Start runs the workers and the enqueuer. Its first sweep enqueues every
// event committed before a crash that never got its queue job.
//
// Before any worker runs, it deals with the attempts a dead process left
// running (rescue.go): on SQLite it retries them all at once; on
// PostgreSQL it writes this replica's heartbeat (so no attempt of it is
// ever without one) and sweeps for silent replicas, then keeps doing both
// every HeartbeatInterval.
func (q *Queue) Start(ctx context.Context) error {
	postgres := q.db.cfg.Dialect == Postgres
	// ctx is the queue's lifetime and may already be ending (a stop asked
	// for at once); this short bookkeeping is done regardless, within its
	// own bound.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if postgres {
		if err := q.heartbeat(pctx); err != nil {
			return fmt.Errorf("starting queue: %w", err)
		}
		if _, err := q.sweepReplicas(pctx); err != nil {
			return fmt.Errorf("starting queue: %w", err)
		}
	} else if _, err := q.rescueAtStart(pctx); err != nil {
		return fmt.Errorf("starting queue: %w", err)
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("starting queue: %w", err)
	}
	ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.stop = cancel
	go q.enqueuer(ectx)
	if q.cfg.Gate != nil {
		go q.cfg.Gate.Run(ectx)
	}
	bctx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	q.stopBeat = stopBeat
	if postgres {
		go q.heartbeats(bctx)
	} else {
		close(q.beatDone)
	}
	q.Wake()
	return nil
}

// Stop stops taking new work and waits for running attempts to finish, up
// to ctx; attempts still running then are cancelled and will run again.
// On PostgreSQL the replica's heartbeat then goes silent at once, so the
// others retry at their next sweep anything it could not finish.
func (q *Queue) Stop(ctx context.Context) error {
	if q.stop != nil {
		q.stop()
		<-q.done
	}
	err := q.client.Stop(ctx)
	if err != nil {
		err = q.client.StopAndCancel(context.Background())
	}
	if q.stopBeat != nil {
		q.stopBeat()
		<-q.beatDone
	}
	if q.stopBeat != nil && q.db.cfg.Dialect == Postgres {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := q.retire(rctx); rerr != nil {
			q.cfg.Logger.Warn("retiring heartbeat; the others retry this replica's leftovers after --replica-timeout", "err", rerr)
		}
	}
	return err
}

// Wake asks the enqueuer to look for committed events now.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

const enqueueBatch = 500

func (q *Queue) enqueuer(ctx context.Context) {
	defer close(q.done)
	tick := time.NewTicker(q.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-tick.C:
			q.sweepWaits(ctx)
		}
		for {
			n, err := q.enqueuePending(ctx, enqueueBatch)
			if err != nil {
				if ctx.Err() == nil {
					q.cfg.Logger.Warn("enqueueing events; will retry", "err", err)
				}
				break
			}
			if n < enqueueBatch {
				break
			}
		}
	}
}

// sweepWaits wakes the parked events whose grace ran out (their next
// attempt fails them) and, with Recheck, the ones to look for their job
// again; the enqueue that follows gives them their queue jobs.
func (q *Queue) sweepWaits(ctx context.Context) {
	if n, err := q.db.WakeExpired(ctx); err != nil {
		if ctx.Err() == nil {
			q.cfg.Logger.Warn("waking expired waits; will retry", "err", err)
		}
	} else if n > 0 {
		q.cfg.Logger.Info("woke parked events whose --job-match-grace ran out", "events", n)
	}
	if q.cfg.MatchParked {
		if _, err := q.db.WakeMatched(ctx); err != nil && ctx.Err() == nil {
			q.cfg.Logger.Warn("waking parked events whose job exists; will retry", "err", err)
		}
	}
	if q.cfg.Recheck <= 0 {
		return
	}
	if _, err := q.db.WakeUnchecked(ctx, q.db.clock.Now().Add(-q.cfg.Recheck), q.cfg.RecheckBatch); err != nil && ctx.Err() == nil {
		q.cfg.Logger.Warn("rechecking parked events; will retry", "err", err)
	}
}

// enqueuePending inserts a queue job for up to limit committed events that
// have none yet, in one transaction that also marks them enqueued: either
// both happen or neither. It returns how many it enqueued.
func (q *Queue) enqueuePending(ctx context.Context, limit int) (int, error) {
	db := q.db
	var ids []string
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ids = ids[:0] // a retried transaction starts over
		var params []river.InsertManyParams
		query := "SELECT id, traceparent FROM voicehook_events WHERE enqueued = 0 ORDER BY received_at LIMIT ?"
		if db.cfg.Dialect == Postgres {
			// Replicas enqueue concurrently; each takes rows the others
			// have not locked.
			query += " FOR UPDATE SKIP LOCKED"
		}
		rows, err := tx.QueryContext(ctx, db.q(query), limit)
		if err != nil {
			return fmt.Errorf("selecting events to enqueue: %w", err)
		}
		for rows.Next() {
			var a Args
			if err := rows.Scan(&a.EventID, &a.TraceParent); err != nil {
				rows.Close()
				return fmt.Errorf("selecting events to enqueue: %w", err)
			}
			ids = append(ids, a.EventID)
			params = append(params, river.InsertManyParams{Args: a})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("selecting events to enqueue: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := q.client.InsertManyFastTx(ctx, tx, params); err != nil {
			return fmt.Errorf("inserting queue jobs: %w", err)
		}
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		_, err = tx.ExecContext(ctx, db.q("UPDATE voicehook_events SET enqueued = 1 WHERE id IN ("+placeholders(len(ids))+")"), args...)
		if err != nil {
			return fmt.Errorf("marking events enqueued: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(ids), nil
}

// worker adapts the processor to River.
type worker struct {
	river.WorkerDefaults[Args]
	proc    voicehook.EventProcessor
	tracing *tracing.Tracing
	gate    *ackguard.Guard
}

func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	if w.gate != nil {
		// Acknowledgements first: while they are slow, fewer attempts
		// run at once (the wait is part of the queue wait below).
		if err := w.gate.Acquire(ctx); err != nil {
			return fmt.Errorf("waiting for a processing slot: %w", err)
		}
		defer w.gate.Release()
	}
	ctx = w.queueWait(ctx, job)
	return riverResult(w.proc.Process(ctx, voicehook.Run{EventID: job.Args.EventID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts}))
}

// queueWait records, in the event's trace, the time its queue job waited
// for a worker: from when it was due (enqueued, or its retry's backoff
// over) to this attempt's start. The attempt runs within that span, so the
// trace reads commit → queue wait → attempt. Nothing happens without
// tracing or a stored trace context.
func (w *worker) queueWait(ctx context.Context, job *river.Job[Args]) context.Context {
	if !w.tracing.On() || job.Args.TraceParent == "" {
		return ctx
	}
	end := time.Now()
	if job.AttemptedAt != nil {
		end = *job.AttemptedAt
	}
	start := job.ScheduledAt
	if start.After(end) {
		start = end // clocks of two replicas disagree
	}
	ctx, span := w.tracing.StartFrom(ctx, job.Args.TraceParent, "queue.wait",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(start),
		trace.WithAttributes(attribute.String("voicehook.event_id", job.Args.EventID), attribute.Int("voicehook.attempt", job.Attempt)))
	span.End(trace.WithTimestamp(end))
	return ctx
}

// generateWorker adapts the generator to River.
type generateWorker struct {
	river.WorkerDefaults[GenerateArgs]
	gen voicehook.Generator
}

func (w *generateWorker) Work(ctx context.Context, job *river.Job[GenerateArgs]) error {
	return riverResult(w.gen.Generate(ctx, voicehook.GenerationRun{JobID: job.Args.JobID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts}))
}

// qaWorker adapts the QA checker to River.
type qaWorker struct {
	river.WorkerDefaults[QAArgs]
	checker voicehook.QAChecker
}

func (w *qaWorker) Work(ctx context.Context, job *river.Job[QAArgs]) error {
	return riverResult(w.checker.Check(ctx, voicehook.QARun{JobID: job.Args.JobID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts}))
}

// riverResult turns a RunResult into what River expects of a worker.
func riverResult(res voicehook.RunResult) error {
	switch {
	case res.Wait > 0:
		return river.JobSnooze(res.Wait)
	case res.Retry != nil:
		return res.Retry
	}
	return nil
}

// retryPolicy is exponential backoff with full jitter between half and the
// whole delay: base, 2×base, 4×base … capped at max.
type retryPolicy struct{ base, max time.Duration }

func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.delay(len(job.Errors)))
}

func (p *retryPolicy) delay(failures int) time.Duration {
	d := p.base
	for i := 1; i < failures && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	return d/2 + rand.N(d/2+1)
}
