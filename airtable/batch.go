package airtable

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voicehook/voicehook"
)

// The batcher coalesces the reads and writes of concurrent workers into
// shared requests, so that under load voicehook spends a fraction of a
// request per step instead of one (the seed spends 5 to 6 requests per
// event; Airtable allows 5 per second per base).
//
// Work waits in queues, one per kind of request: creates of a table,
// updates of a table, and reads of a table with the same filter and
// fields. A single dispatcher takes the base's next request slot from the
// gate, then sends the queue whose oldest item waited longest, up to 10
// records (Airtable's write limit) or 50 read conditions, as one request.
// While the gate spaces requests, queues fill, so batches grow with load;
// when idle an item waits at most BatchWindow for company.
//
// Callers wait for their own item's result, so an error still reaches
// the caller (and the processor's retry). Airtable applies a write all or
// nothing, so when a batch is refused as permanent (one record's bad
// value), each item is tried alone to confine the error to its owner.

const maxReadConds = 50

type opKind int

const (
	opRead opKind = iota
	opCreate
	opUpdate
)

type op struct {
	kind  opKind
	table string
	// A read lists records of table matching OR(conds) (AND filter), with
	// fields; match picks this op's records out of the batch's.
	filter string
	fields []string
	conds  []string
	match  func(Record) bool
	// A write creates or updates rec.
	rec Record

	at        time.Time
	result    chan opResult
	cancelled atomic.Bool
}

type opResult struct {
	recs []Record
	err  error
}

func (o *op) key() string {
	switch o.kind {
	case opRead:
		return "read\x00" + o.table + "\x00" + o.filter + "\x00" + strings.Join(o.fields, "\x00")
	case opCreate:
		return "create\x00" + o.table
	}
	return "update\x00" + o.table
}

func (o *op) finish(recs []Record, err error) {
	select {
	case o.result <- opResult{recs, err}:
	default:
	}
}

type batcher struct {
	c       *Client
	window  time.Duration
	timeout time.Duration

	ctx   context.Context // cancelled by abort
	abort context.CancelFunc

	mu      sync.Mutex
	queues  map[string][]*op
	closing bool
	wake    chan struct{}
	done    chan struct{}
	running sync.WaitGroup
}

func newBatcher(c *Client, window, timeout time.Duration) *batcher {
	ctx, cancel := context.WithCancel(context.Background())
	b := &batcher{c: c, window: window, timeout: timeout, ctx: ctx, abort: cancel,
		queues: map[string][]*op{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go b.loop()
	return b
}

// read returns the records of table that match any of conds (and filter).
func (b *batcher) read(ctx context.Context, table, filter string, fields, conds []string, match func(Record) bool) ([]Record, error) {
	return b.do(ctx, &op{kind: opRead, table: table, filter: filter, fields: fields, conds: conds, match: match})
}

func (b *batcher) create(ctx context.Context, table string, fields map[string]any) (Record, error) {
	recs, err := b.do(ctx, &op{kind: opCreate, table: table, rec: Record{Fields: fields}})
	if err != nil {
		return Record{}, err
	}
	return recs[0], nil
}

func (b *batcher) update(ctx context.Context, table, id string, fields map[string]any) (Record, error) {
	recs, err := b.do(ctx, &op{kind: opUpdate, table: table, rec: Record{ID: id, Fields: fields}})
	if err != nil {
		return Record{}, err
	}
	return recs[0], nil
}

// do queues o and waits for its result.
func (b *batcher) do(ctx context.Context, o *op) ([]Record, error) {
	if err := b.c.gate.check(); err != nil {
		return nil, err
	}
	o.at = time.Now()
	o.result = make(chan opResult, 1)
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	b.queues[o.key()] = append(b.queues[o.key()], o)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	select {
	case r := <-o.result:
		return r.recs, r.err
	case <-ctx.Done():
		o.cancelled.Store(true)
		return nil, ctx.Err()
	}
}

// close sends what is queued and stops; after ctx, what still waits fails
// with ErrClosed and requests in flight are cancelled.
func (b *batcher) close(ctx context.Context) error {
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	finished := make(chan struct{})
	go func() {
		<-b.done
		b.running.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		b.abort()
		return nil
	case <-ctx.Done():
		b.abort()
		<-finished
		return ctx.Err()
	}
}

func (b *batcher) loop() {
	defer close(b.done)
	for {
		b.mu.Lock()
		oldest, full, any := b.scanLocked()
		closing := b.closing
		b.mu.Unlock()
		if !any {
			if closing {
				return
			}
			select {
			case <-b.wake:
			case <-b.ctx.Done():
				return
			}
			continue
		}
		if wait := time.Until(oldest.Add(b.window)); wait > 0 && !full && !closing {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-b.wake:
				t.Stop()
			case <-b.ctx.Done():
				t.Stop()
				b.failAll(ErrClosed)
				return
			}
			continue
		}
		if err := b.c.gate.wait(b.ctx); err != nil {
			if b.ctx.Err() != nil {
				b.failAll(ErrClosed)
				return
			}
			// The base is silent after a 429: nothing waits through
			// it; callers retry later.
			b.failAll(err)
			continue
		}
		batch := b.take()
		if len(batch) == 0 {
			continue
		}
		b.running.Add(1)
		go func() {
			defer b.running.Done()
			b.exec(batch, true)
		}()
	}
}

// scanLocked drops cancelled ops and reports the oldest op's time and
// whether a queue is full enough to send at once.
func (b *batcher) scanLocked() (oldest time.Time, full, any bool) {
	for k, q := range b.queues {
		q = slices.DeleteFunc(q, func(o *op) bool { return o.cancelled.Load() })
		if len(q) == 0 {
			delete(b.queues, k)
			continue
		}
		b.queues[k] = q
		if !any || q[0].at.Before(oldest) {
			oldest = q[0].at
		}
		any = true
		if q[0].kind != opRead && len(q) >= maxWrite {
			full = true
		}
		if q[0].kind == opRead {
			conds := 0
			for _, o := range q {
				conds += len(o.conds)
			}
			full = full || conds >= maxReadConds
		}
	}
	return oldest, full, any
}

// take removes the next batch: from the queue whose oldest op waited
// longest, up to 10 writes (distinct records for updates) or 50 read
// conditions.
func (b *batcher) take() []*op {
	b.mu.Lock()
	defer b.mu.Unlock()
	var key string
	var oldest time.Time
	for k, q := range b.queues {
		q = slices.DeleteFunc(q, func(o *op) bool { return o.cancelled.Load() })
		b.queues[k] = q
		if len(q) > 0 && (key == "" || q[0].at.Before(oldest)) {
			key, oldest = k, q[0].at
		}
	}
	if key == "" {
		return nil
	}
	q := b.queues[key]
	var batch, rest []*op
	conds, ids := 0, map[string]bool{}
	for _, o := range q {
		fits := true
		switch o.kind {
		case opRead:
			fits = len(batch) == 0 || conds+len(o.conds) <= maxReadConds
		case opCreate:
			fits = len(batch) < maxWrite
		case opUpdate:
			// One record at most once per request.
			fits = len(batch) < maxWrite && !ids[o.rec.ID]
		}
		if !fits {
			rest = append(rest, o)
			continue
		}
		batch = append(batch, o)
		conds += len(o.conds)
		ids[o.rec.ID] = true
	}
	if len(rest) == 0 {
		delete(b.queues, key)
	} else {
		b.queues[key] = rest
	}
	return batch
}

func (b *batcher) failAll(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, q := range b.queues {
		for _, o := range q {
			o.finish(nil, err)
		}
		delete(b.queues, k)
	}
}

// exec sends one batch; held says the gate slot is already taken.
func (b *batcher) exec(batch []*op, held bool) {
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	var err error
	if batch[0].kind == opRead {
		err = b.execRead(ctx, batch, held)
	} else {
		err = b.execWrite(ctx, batch, held)
	}
	if err == nil {
		return
	}
	if voicehook.IsPermanent(err) && len(batch) > 1 {
		for _, o := range batch {
			b.exec([]*op{o}, false)
		}
		return
	}
	for _, o := range batch {
		o.finish(nil, err)
	}
}

func (b *batcher) execRead(ctx context.Context, batch []*op, held bool) error {
	var conds []string
	for _, o := range batch {
		for _, c := range o.conds {
			if !slices.Contains(conds, c) {
				conds = append(conds, c)
			}
		}
	}
	formula := or(conds...)
	if f := batch[0].filter; f != "" {
		formula = and(formula, f)
	}
	recs, err := b.c.list(ctx, batch[0].table, ListQuery{Formula: formula, Fields: batch[0].fields}, held)
	if err != nil {
		return err
	}
	for _, o := range batch {
		var mine []Record
		for _, r := range recs {
			if o.match(r) {
				mine = append(mine, r)
			}
		}
		o.finish(mine, nil)
	}
	return nil
}

func (b *batcher) execWrite(ctx context.Context, batch []*op, held bool) error {
	method := http.MethodPost
	if batch[0].kind == opUpdate {
		method = http.MethodPatch
	}
	recs := make([]Record, len(batch))
	for i, o := range batch {
		recs[i] = o.rec
	}
	out, err := b.c.write(ctx, method, batch[0].table, recs, held)
	if err != nil {
		return err
	}
	for i, o := range batch {
		o.finish([]Record{out[i]}, nil)
	}
	return nil
}
