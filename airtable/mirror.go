package airtable

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/voicehook/voicehook"
)

// The mirror keeps one Webhook Events record per voicehook event, with the
// seed's fields. It is idempotent: the record id of each event mirrored by
// this process is remembered from the write's reply, and an event not
// remembered (its first write, or after a restart, on another replica, or
// after a write whose reply was lost) is written with Airtable's upsert,
// merged on {Event ID}: the record is updated if it exists and created
// if not, without a lookup. So re-mirroring updates the one record and
// never makes a second.
//
// A mirror write that fails for a transient reason (Airtable down or
// rate-limited) is kept and written again every MirrorRetry until it
// succeeds, so the mirror catches up after an outage without the event
// being processed again. The backlog lives in memory: the events
// themselves are durable in the local store.

// maxPending bounds the catch-up backlog; maxKnown the remembered ids.
const (
	maxPending = 10000
	maxKnown   = 100000
)

type mirror struct {
	r     *Records
	locks keyedMutex

	mu      sync.Mutex
	known   map[string]mirrored
	pending map[string]voicehook.Event

	stop chan struct{}
	done chan struct{}
}

type mirrored struct {
	recordID string
	// written is the last values written (see mutableEventFields), so
	// that mirroring an unchanged event again sends nothing.
	written string
}

func newMirror(r *Records) *mirror {
	m := &mirror{r: r, known: map[string]mirrored{}, pending: map[string]voicehook.Event{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go m.loop()
	return m
}

// MirrorEvent creates or updates the event's Webhook Events record. A
// transient failure is returned and also kept for the catch-up loop.
func (r *Records) MirrorEvent(ctx context.Context, ev voicehook.Event) error {
	err := r.mirror.write(ctx, ev)
	switch {
	case err == nil:
		r.mirror.settle(ev)
	case voicehook.IsPermanent(err):
		r.mirror.settle(ev)
	default:
		r.mirror.keep(ev)
	}
	if err != nil {
		return fmt.Errorf("mirroring event %s: %w", ev.ID, err)
	}
	return nil
}

// PendingMirrors is how many events wait to be mirrored again.
func (r *Records) PendingMirrors() int {
	r.mirror.mu.Lock()
	defer r.mirror.mu.Unlock()
	return len(r.mirror.pending)
}

// mutableEventFields are what processing changes on an event.
func (r *Records) mutableEventFields(ev voicehook.Event) map[string]any {
	f := r.cfg.Fields
	job := []string{}
	if isRecordID(ev.RelatedJob) {
		job = []string{ev.RelatedJob}
	}
	return map[string]any{
		f.EventProcessed:    ev.Processed,
		f.EventSuccess:      ev.Success != nil && *ev.Success,
		f.EventRelatedJob:   job,
		f.EventErrorDetails: textCell(ev.ErrorDetails),
	}
}

// eventFields are all of an event's fields, for its first write.
func (r *Records) eventFields(ev voicehook.Event) map[string]any {
	f := r.cfg.Fields
	m := r.mutableEventFields(ev)
	m[f.EventID] = ev.ID
	m[f.EventService] = ev.Service
	m[f.EventEndpoint] = ev.Endpoint
	m[f.EventRawPayload] = payloadCell(ev)
	m[f.EventTimestamp] = ev.ReceivedAt.UTC().Format(time.RFC3339)
	return m
}

func fingerprint(fields map[string]any) string {
	raw, _ := json.Marshal(fields) // map keys are sorted
	return string(raw)
}

func (m *mirror) write(ctx context.Context, ev voicehook.Event) error {
	unlock, err := m.locks.lock(ctx, ev.ID)
	if err != nil {
		return err
	}
	defer unlock()
	r, f, table := m.r, m.r.cfg.Fields, m.r.cfg.Tables.Events
	mutable := r.mutableEventFields(ev)
	fp := fingerprint(mutable)

	if k, ok := m.lookup(ev.ID); ok {
		if k.written == fp {
			return nil
		}
		_, err := r.b.update(ctx, table, k.recordID, mutable)
		if err == nil || !isNotFound(err) {
			if err == nil {
				m.remember(ev.ID, k.recordID, fp)
			}
			return err
		}
		// Someone deleted the record in Airtable: make it again.
		m.forget(ev.ID)
	}
	// Not written by this process (or deleted since): an upsert on the
	// event id updates the record an earlier process, another replica or
	// a write whose reply was lost made, or creates it; one request, and
	// no lookup first.
	rec, err := r.b.upsert(ctx, table, []string{f.EventID}, r.eventFields(ev))
	if err != nil {
		return err
	}
	m.remember(ev.ID, rec.ID, fp)
	return nil
}

func (m *mirror) lookup(eventID string) (mirrored, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.known[eventID]
	return k, ok
}

func (m *mirror) remember(eventID, recordID, written string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.known) >= maxKnown {
		// Forgetting only costs a lookup request the next time.
		m.known = map[string]mirrored{}
	}
	m.known[eventID] = mirrored{recordID, written}
}

func (m *mirror) forget(eventID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.known, eventID)
}

// keep queues ev for the catch-up loop, unless a newer state of it waits.
func (m *mirror) keep(ev voicehook.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.pending[ev.ID]; ok {
		if p.UpdatedAt.After(ev.UpdatedAt) {
			return
		}
	} else if len(m.pending) >= maxPending {
		m.r.cfg.Logger.Error("airtable mirror backlog full; event not mirrored (it stays in voicehook's store)", "event_id", ev.ID, "backlog", len(m.pending))
		return
	}
	m.pending[ev.ID] = ev
}

// settle drops ev from the backlog once it (or a newer state) is written
// or can never be.
func (m *mirror) settle(ev voicehook.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.pending[ev.ID]; ok && !p.UpdatedAt.After(ev.UpdatedAt) {
		delete(m.pending, ev.ID)
	}
}

func (m *mirror) loop() {
	defer close(m.done)
	t := time.NewTicker(m.r.cfg.MirrorRetry)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 2*m.r.cfg.RequestTimeout)
			m.catchUp(ctx)
			cancel()
		}
	}
}

// catchUp writes the backlog again, all at once so the writes share
// requests. Nothing is tried while the base is silent.
func (m *mirror) catchUp(ctx context.Context) {
	if m.r.c.gate.check() != nil {
		return
	}
	m.mu.Lock()
	batch := make([]voicehook.Event, 0, min(len(m.pending), 100))
	for _, ev := range m.pending {
		if len(batch) == cap(batch) {
			break
		}
		batch = append(batch, ev)
	}
	m.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	caught := 0
	for _, ev := range batch {
		wg.Go(func() {
			if m.r.MirrorEvent(ctx, ev) == nil {
				mu.Lock()
				caught++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	m.r.cfg.Logger.Info("airtable mirror catching up", "written", caught, "tried", len(batch), "waiting", m.r.PendingMirrors())
}

// close stops the loop after one last try within ctx.
func (m *mirror) close(ctx context.Context) {
	close(m.stop)
	<-m.done
	m.catchUp(ctx)
	if n := m.r.PendingMirrors(); n > 0 {
		m.r.cfg.Logger.Error("airtable mirror not caught up at shutdown; these events are in voicehook's store but not in Airtable (replay them to mirror)", "events", n)
	}
}

// keyedMutex serialises work per key (one event's mirror writes), so two
// writes of one event never both create its record.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{}
	refs int
}

func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l, ok := k.m[key]
	if !ok {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
