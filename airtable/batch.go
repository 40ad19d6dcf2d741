package airtable

import (
	"context"
	"fmt"
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
// event; Airtable allows 5 per second per base, and the Free and Team
// plans cap the calls of a month).
//
// Work waits in queues, one per kind of request: creates, updates or
// upserts of a table, and reads of a table with the same filter and
// fields. A queue is ready once no item has joined it for BatchWindow
// (the workers one reply released arrive together, a few milliseconds
// apart), once it is full (10 records, Airtable's write limit, or 50 read
// conditions), or once its oldest item waited BatchMaxWait (by default
// the time of 8 requests at the gate's rate). A queue smaller than a
// batch that came back lately waits for the rest of that group (held).
// A single dispatcher waits until the queue with the most items (an
// overdue one first) among those not held is ready, takes the base's
// next request slot from the gate, and sends the fullest queue then, with
// whatever joined it meanwhile, as one request. Under load the gate is
// the bottleneck, so the slot is due later anyway and the waits fill
// batches for free, and concurrent events move through their steps in
// step; when idle an item waits BatchWindow for company.
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
	opUpsert
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
	// A write creates, updates or upserts rec; an upsert merges on the
	// fields mergeOn.
	rec     Record
	mergeOn []string

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
	case opUpsert:
		return "upsert\x00" + o.table + "\x00" + strings.Join(o.mergeOn, "\x00")
	}
	return "update\x00" + o.table
}

// unique is what may appear only once in a write request: the record of
// an update, the merge values of an upsert ("" for a create).
func (o *op) unique() string {
	switch o.kind {
	case opUpdate:
		return o.rec.ID
	case opUpsert:
		vals := make([]string, len(o.mergeOn))
		for i, f := range o.mergeOn {
			vals[i] = fmt.Sprint(o.rec.Fields[f])
		}
		return strings.Join(vals, "\x00")
	}
	return ""
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
	maxWait time.Duration
	timeout time.Duration

	ctx   context.Context // cancelled by abort
	abort context.CancelFunc

	mu      sync.Mutex
	queues  map[string][]*op
	closing bool
	wake    chan struct{}
	done    chan struct{}
	running sync.WaitGroup
	// flights are the batches in flight, and those back within the
	// longest wait (see held).
	flights []*flight
}

// flight is one batch sent: its size, when it went and when it came back.
type flight struct {
	size       int
	sent, back time.Time
}

func newBatcher(c *Client, window, maxWait, timeout time.Duration) *batcher {
	ctx, cancel := context.WithCancel(context.Background())
	b := &batcher{c: c, window: window, maxWait: maxWait, timeout: timeout, ctx: ctx, abort: cancel,
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

// upsert writes fields to the record whose mergeOn fields hold their
// values, creating it if there is none.
func (b *batcher) upsert(ctx context.Context, table string, mergeOn []string, fields map[string]any) (Record, error) {
	recs, err := b.do(ctx, &op{kind: opUpsert, table: table, mergeOn: mergeOn, rec: Record{Fields: fields}})
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
		_, sendable, next, any := b.pickLocked(time.Now())
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
		if !sendable && !b.sleepUntil(next) {
			if b.ctx.Err() != nil {
				b.failAll(ErrClosed)
				return
			}
			continue // woken: look again
		}
		if !sendable {
			continue // the time came: look again
		}
		// The slot is taken only now, with a batch ready to go, and the
		// request goes right after it: waiting while holding a slot would
		// let the next slot follow at once, two requests together.
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
		b.mu.Lock()
		best, _, _, any := b.pickLocked(time.Now())
		var batch []*op
		if any {
			// What joined during the gate's wait goes too; nothing
			// waits longer once the slot is taken.
			batch = b.takeLocked(best.key)
		}
		f := &flight{size: len(batch), sent: time.Now()}
		if len(batch) > 0 {
			b.flights = append(b.flights, f)
		}
		b.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		b.running.Add(1)
		go func() {
			defer b.running.Done()
			b.exec(batch, true)
			b.mu.Lock()
			f.back = time.Now()
			b.mu.Unlock()
			select { // a held batch may go now
			case b.wake <- struct{}{}:
			default:
			}
		}()
	}
}

// pickLocked chooses the next batch: among the queues not held, the one
// whose request does the most work (an overdue one first). sendable says
// it is ready to go; if not, next is when to look again. any says
// whether anything waits at all; best is then set even if every queue is
// held.
func (b *batcher) pickLocked(now time.Time) (best queueState, sendable bool, next time.Time, any bool) {
	b.pruneLocked(now)
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	found := false
	var fallback queueState
	for k := range b.queues {
		st, ok := b.stateLocked(k, now)
		if !ok {
			continue
		}
		if !any || better(st, fallback) {
			fallback = st
		}
		any = true
		if hold, until := b.held(st, now); hold {
			later(until)
			continue
		}
		if !found || better(st, best) {
			best, found = st, true
		}
	}
	if !found {
		return fallback, false, next, any
	}
	if best.readyAt.After(now) {
		// The fullest is still filling: wait for it rather than send a
		// smaller one.
		later(best.readyAt)
		return best, false, next, true
	}
	return best, true, next, true
}

// held reports whether st's batch should wait for company, and until
// when at most. The callers a request served come back to the base
// together, but not all at once: River hands a freed worker its next
// event at once and the others theirs up to a poll later, so the first
// would go ahead alone and its group would take two requests a step from
// then on. So a batch smaller than one that came back within the
// longest wait, and that began after that one went, waits for the rest
// of its group until it is as large, or until that wait is over. An
// overdue batch is never held.
func (b *batcher) held(st queueState, now time.Time) (bool, time.Time) {
	if st.overdue || b.closing {
		return false, time.Time{}
	}
	horizon := b.maxWaitNow()
	hold, until := false, st.oldest.Add(horizon)
	for _, f := range b.flights {
		if f.back.IsZero() || f.size <= st.size || !f.sent.Before(st.oldest) || now.Sub(f.back) >= horizon {
			continue
		}
		hold = true
		if t := f.back.Add(horizon); t.Before(until) {
			until = t
		}
	}
	return hold, until
}

// pruneLocked forgets flights back longer than the longest wait ago.
func (b *batcher) pruneLocked(now time.Time) {
	horizon := b.maxWaitNow()
	b.flights = slices.DeleteFunc(b.flights, func(f *flight) bool {
		return !f.back.IsZero() && now.Sub(f.back) >= horizon
	})
}

// sleepUntil waits until t; false if woken or aborted first.
func (b *batcher) sleepUntil(t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-b.wake:
		return false
	case <-b.ctx.Done():
		return false
	}
}

// queueState is what scheduling needs to know of one queue.
type queueState struct {
	key     string
	oldest  time.Time
	last    time.Time // the last item's arrival
	size    int       // items, the work one request would do
	readyAt time.Time
	overdue bool
}

// stateLocked drops q's cancelled ops and describes what remains.
func (b *batcher) stateLocked(key string, now time.Time) (queueState, bool) {
	q := slices.DeleteFunc(b.queues[key], func(o *op) bool { return o.cancelled.Load() })
	if len(q) == 0 {
		delete(b.queues, key)
		return queueState{}, false
	}
	b.queues[key] = q
	st := queueState{key: key, oldest: q[0].at, size: len(q)}
	last, conds := q[0].at, 0
	for _, o := range q {
		if o.at.After(last) {
			last = o.at
		}
		conds += len(o.conds)
	}
	full := (q[0].kind != opRead && len(q) >= maxWrite) || (q[0].kind == opRead && conds >= maxReadConds)
	st.last = last
	maxWait := b.maxWaitNow()
	st.readyAt = last.Add(b.window)
	if limit := st.oldest.Add(maxWait); limit.Before(st.readyAt) {
		st.readyAt = limit
	}
	if full || b.closing {
		st.readyAt = now
	}
	st.overdue = !now.Before(st.oldest.Add(maxWait))
	return st, true
}

// maxWaitSlots is BatchMaxWait's default in requests at the gate's rate.
const maxWaitSlots = 8

// maxWaitNow is how long an item may wait for its batch to fill.
func (b *batcher) maxWaitNow() time.Duration {
	if b.maxWait > 0 {
		return b.maxWait
	}
	perSecond := float64(b.c.gate.lim.Limit())
	if perSecond <= 0 {
		return b.window
	}
	return max(time.Duration(maxWaitSlots/perSecond*float64(time.Second)), b.window)
}

// better orders queues: overdue ones first, oldest first; then the one
// whose request does the most work; then the one joined last.
func better(a, b queueState) bool {
	if a.overdue != b.overdue {
		return a.overdue
	}
	if a.overdue {
		return a.oldest.Before(b.oldest)
	}
	if a.size != b.size {
		return a.size > b.size
	}
	return a.last.After(b.last)
}

// takeLocked removes one request's worth of key's queue: up to 10 writes
// (each record or merge value once) or 50 read conditions.
func (b *batcher) takeLocked(key string) []*op {
	q := b.queues[key]
	var batch, rest []*op
	conds, seen := 0, map[string]bool{}
	for _, o := range q {
		fits := true
		switch o.kind {
		case opRead:
			fits = len(batch) == 0 || conds+len(o.conds) <= maxReadConds
		case opCreate:
			fits = len(batch) < maxWrite
		case opUpdate, opUpsert:
			fits = len(batch) < maxWrite && !seen[o.unique()]
		}
		if !fits {
			rest = append(rest, o)
			continue
		}
		batch = append(batch, o)
		conds += len(o.conds)
		seen[o.unique()] = true
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
	if batch[0].kind != opCreate {
		method = http.MethodPatch
	}
	recs := make([]Record, len(batch))
	for i, o := range batch {
		recs[i] = o.rec
	}
	out, err := b.c.write(ctx, method, batch[0].table, recs, batch[0].mergeOn, held)
	if err != nil {
		return err
	}
	for i, o := range batch {
		o.finish([]Record{out[i]}, nil)
	}
	return nil
}
