package ackguard

import (
	"container/list"
	"context"
)

// waitQueue holds blocked acquirers in arrival order; each is a channel
// closed when the acquirer is granted a slot. A list, since a cancelled
// acquirer leaves from the middle.
type waitQueue struct{ l list.List }

func (q *waitQueue) push(ready chan struct{}) *list.Element { return q.l.PushBack(ready) }
func (q *waitQueue) remove(e *list.Element)                 { q.l.Remove(e) }
func (q *waitQueue) len() int                               { return q.l.Len() }

func (q *waitQueue) pop() chan struct{} {
	return q.l.Remove(q.l.Front()).(chan struct{})
}

// Acquire takes a slot, waiting while Running >= Width. Waiters are served
// in arrival order and a newcomer never overtakes them, so none starves.
// When ctx ends first it returns ctx.Err() and holds no slot.
func (g *Guard) Acquire(ctx context.Context) error {
	done := ctx.Done()
	g.mu.Lock()
	select {
	case <-done:
		// An ended ctx takes nothing, even when a slot is free: the caller
		// has given up.
		g.mu.Unlock()
		return ctx.Err()
	default:
	}
	// The queue test is defensive: admitLocked runs wherever running or
	// width changes, so no one waits while a slot is free.
	if g.running < g.width && g.waiters.len() == 0 {
		g.running++
		g.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	e := g.waiters.push(ready)
	g.mu.Unlock()

	select {
	case <-ready:
		return nil
	case <-done:
		g.mu.Lock()
		select {
		case <-ready:
			// Granted as ctx ended: give the slot back rather than hand
			// the caller a slot it no longer expects.
			g.running--
			g.admitLocked()
		default:
			// Nobody behind is owed our place: admitLocked runs on every
			// Release and growth, so a queue never waits beside a free slot.
			g.waiters.remove(e)
		}
		g.mu.Unlock()
		return ctx.Err()
	}
}

// Release gives back a slot taken by Acquire.
func (g *Guard) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running <= 0 {
		panic("ackguard: Release without Acquire")
	}
	g.running--
	g.admitLocked()
}

// admitLocked grants slots to waiters, first come first served, while
// running < width. g.mu must be held.
func (g *Guard) admitLocked() {
	for g.running < g.width && g.waiters.len() > 0 {
		g.running++
		close(g.waiters.pop())
	}
}

// waiting is how many acquirers are blocked, for tests.
func (g *Guard) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiters.len()
}
