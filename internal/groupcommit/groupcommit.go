// Package groupcommit gathers concurrent requests into shared commits.
//
// Design: callers hand an item and a reply channel to one writer goroutine.
// The writer blocks for the first item, then takes only what is already
// queued (up to MaxBatch) — no timer: while one commit runs, the next batch
// queues up behind it, so batches grow exactly as fast as load does and an
// idle server commits a lone request at once. Each caller is released only
// after the commit that held its item, and sees that commit's result for its
// own item. Measured on SQLite this is the fastest durable shape (see
// BENCHMARKS.md at the repository's root).
//
// A commit is bounded by Options.Timeout, not by any caller: a database that
// stops answering fails the batch at the deadline instead of holding the
// writer (and every caller queued behind it) for as long as the connection
// takes to die. Running reports how long the commit under way has taken, so
// a health check can tell a stuck writer from a busy one.
//
// Tracing (Options.Traced, tracing.go) gives each traced item a commit span
// of its own rather than one span per batch linked to every item: one
// trace per delivery is what an operator follows, and most trace viewers
// show a link only on the span that holds it, so a batch span would sit in
// a trace of its own, out of every delivery's sight.
package groupcommit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// ErrClosed is returned for items submitted after Close.
var ErrClosed = errors.New("group commit writer closed")

// Commit commits a batch and returns one result per item, in order.
type Commit[T, R any] func(ctx context.Context, batch []T) []R

type request[T, R any] struct {
	item  T
	reply chan R
	// parent is the submitter's span, when the writer is traced.
	parent trace.Span
}

// Writer runs Commit for batches of submitted items on one goroutine.
type Writer[T, R any] struct {
	commit   Commit[T, R]
	refused  func(err error) R
	after    func(batch []T, results []R)
	maxBatch int
	queue    chan request[T, R]
	done     chan struct{}
	once     sync.Once
	mu       sync.RWMutex
	closed   bool
	batches  atomic.Uint64
	items    atomic.Uint64
	busy     atomic.Int64 // nanoseconds inside commit
	timeout  time.Duration
	now      func() time.Time
	// started is when the commit under way began (UnixNano), 0 between
	// commits.
	started atomic.Int64
	traced  func(item T, commit trace.SpanContext) T
	failed  func(R) error
}

// Stats counts the commits run and the items they held, so far: items /
// batches is the average batch. Busy is the time spent committing: over a
// window, busy/elapsed near 1 means the writer is the bottleneck.
type Stats struct {
	Batches, Items uint64
	Busy           time.Duration
}

// Stats reports the writer's counts so far.
func (w *Writer[T, R]) Stats() Stats {
	return Stats{Batches: w.batches.Load(), Items: w.items.Load(), Busy: time.Duration(w.busy.Load())}
}

// Options tune a Writer.
type Options[T, R any] struct {
	// MaxBatch caps a batch (default 256).
	MaxBatch int
	// Queue is the number of items that may wait (default 4*MaxBatch).
	Queue int
	// Refused makes the result given to an item the writer did not take:
	// submitted after Close (ErrClosed), or whose ctx ended first.
	Refused func(err error) R
	// After runs on the writer goroutine after each commit, before the
	// next batch is taken (e.g. to wake the enqueuer).
	After func(batch []T, results []R)
	// Timeout is the deadline of each commit's ctx (0: none). Commit must
	// give up when its ctx ends and report the error in every result.
	Timeout time.Duration
	// Now is the clock Running reads (default time.Now).
	Now func() time.Time
	// Traced, if set, traces the commits: each item submitted with a span
	// in its ctx gets a "commit" span, a child of that span lasting as long
	// as the commit that holds the item, and is committed as Traced returns
	// it given that span's context (so that the store can keep it as the
	// item's trace parent). Unset, the writer never looks for spans.
	Traced func(item T, commit trace.SpanContext) T
	// Failed, if set, says whether a result reports a failure, which marks
	// the item's commit span failed.
	Failed func(R) error
}

// New starts a writer.
func New[T, R any](commit Commit[T, R], opts Options[T, R]) *Writer[T, R] {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Queue <= 0 {
		opts.Queue = 4 * opts.MaxBatch
	}
	w := &Writer[T, R]{
		commit:   commit,
		refused:  opts.Refused,
		after:    opts.After,
		maxBatch: opts.MaxBatch,
		queue:    make(chan request[T, R], opts.Queue),
		done:     make(chan struct{}),
		timeout:  opts.Timeout,
		now:      opts.Now,
		traced:   opts.Traced,
		failed:   opts.Failed,
	}
	if w.now == nil {
		w.now = time.Now
	}
	go w.run()
	return w
}

// Running reports how long the commit under way has been running, or 0 when
// the writer is waiting for work.
func (w *Writer[T, R]) Running() time.Duration {
	started := w.started.Load()
	if started == 0 {
		return 0
	}
	return max(w.now().Sub(time.Unix(0, started)), 0)
}

// Submit hands item to the writer and waits for the commit that holds it.
// If ctx ends first, Submit returns ctx's error through Refused; the item may
// still be committed (as a delivery whose sender gave up may be).
func (w *Writer[T, R]) Submit(ctx context.Context, item T) R {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return w.refused(ErrClosed)
	}
	req := request[T, R]{item: item, reply: make(chan R, 1)}
	if w.traced != nil {
		req.parent = trace.SpanFromContext(ctx)
	}
	select {
	case w.queue <- req:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return w.refused(ctx.Err())
	}
	select {
	case r := <-req.reply:
		return r
	case <-ctx.Done():
		return w.refused(ctx.Err())
	}
}

// Close stops accepting items, commits everything already submitted and
// waits for the writer to finish.
func (w *Writer[T, R]) Close() {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		close(w.queue)
		w.mu.Unlock()
	})
	<-w.done
}

func (w *Writer[T, R]) run() {
	defer close(w.done)
	batch := make([]request[T, R], 0, w.maxBatch)
	items := make([]T, 0, w.maxBatch)
	for {
		first, ok := <-w.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
	gather:
		for len(batch) < w.maxBatch {
			select {
			case req, ok := <-w.queue:
				if !ok {
					break gather
				}
				batch = append(batch, req)
			default:
				break gather
			}
		}
		items = items[:0]
		for _, req := range batch {
			items = append(items, req.item)
		}
		start := time.Now()
		var spans []trace.Span
		if w.traced != nil {
			spans = w.startSpans(batch, items, start)
		}
		w.started.Store(w.now().UnixNano())
		results := w.commitBatch(items)
		w.started.Store(0)
		if spans != nil {
			w.endSpans(spans, results)
		}
		w.busy.Add(int64(time.Since(start)))
		w.batches.Add(1)
		w.items.Add(uint64(len(items)))
		for i, req := range batch {
			req.reply <- results[i]
		}
		if w.after != nil {
			w.after(items, results)
		}
	}
}

// commitBatch runs one commit under the writer's deadline. The commit is not
// tied to any one caller's context: a sender giving up must not abort the
// others' commit, and an item whose sender gave up is still committed.
func (w *Writer[T, R]) commitBatch(items []T) []R {
	ctx := context.Background()
	if w.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.timeout)
		defer cancel()
	}
	return w.commit(ctx, items)
}
