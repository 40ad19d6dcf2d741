package sqlstore

import (
	"context"
	"sync"
)

// writeTurns orders voicehook's own use of SQLite's single write connection.
//
// Why: database/sql hands a freed connection to a random waiter. With many
// processing workers waiting for the one connection, the ingest writer —
// whose commit every waiting sender's acknowledgement needs — could wait
// behind many of them. Here the ingest writer (high) and everything else
// (low) take turns: when both wait they alternate, so an acknowledgement
// waits for at most one other voicehook transaction (and River's own, which
// do not pass through here), and processing keeps moving during a sustained
// burst. Within a class, turns go in arrival order.
//
// A holder must not take a second turn before releasing the first.
// PostgreSQL has a pool and no such bottleneck: its DB has no writeTurns
// (nil), and every method is then a no-op.
type writeTurns struct {
	mu        sync.Mutex
	busy      bool
	lastHigh  bool
	high, low []chan struct{}
}

// acquire waits for a turn. On error (ctx ended) the caller has no turn.
func (t *writeTurns) acquire(ctx context.Context, high bool) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	if !t.busy {
		t.busy, t.lastHigh = true, high
		t.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	if high {
		t.high = append(t.high, ch)
	} else {
		t.low = append(t.low, ch)
	}
	t.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	select {
	case <-ch:
		// The turn came as ctx ended: pass it on.
		t.mu.Unlock()
		t.release()
	default:
		if high {
			t.high = remove(t.high, ch)
		} else {
			t.low = remove(t.low, ch)
		}
		t.mu.Unlock()
	}
	return ctx.Err()
}

// release ends the current turn and gives the next: to the other class when
// both wait, else to whichever waits.
func (t *writeTurns) release() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var next chan struct{}
	switch {
	case len(t.high) > 0 && (len(t.low) == 0 || !t.lastHigh):
		next, t.high = t.high[0], t.high[1:]
		t.lastHigh = true
	case len(t.low) > 0:
		next, t.low = t.low[0], t.low[1:]
		t.lastHigh = false
	default:
		t.busy = false
		return
	}
	close(next)
}

func remove(q []chan struct{}, ch chan struct{}) []chan struct{} {
	for i, c := range q {
		if c == ch {
			return append(q[:i], q[i+1:]...)
		}
	}
	return q
}
