package sqlstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until n high and m low waiters are queued.
func waitQueued(t *testing.T, tr *writeTurns, high, low int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tr.mu.Lock()
		h, l := len(tr.high), len(tr.low)
		tr.mu.Unlock()
		if h == high && l == low {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queued high %d low %d, want %d and %d", h, l, high, low)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriteTurnsAlternate: when both classes wait, turns alternate; within a
// class they go in arrival order; an idle gate is taken at once.
func TestWriteTurnsAlternate(t *testing.T) {
	t.Parallel()
	tr := &writeTurns{}
	ctx := context.Background()
	if err := tr.acquire(ctx, false); err != nil { // held by a low holder
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	take := func(name string, high bool) {
		wg.Go(func() {
			if err := tr.acquire(ctx, high); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			tr.release()
		})
	}
	take("L1", false)
	waitQueued(t, tr, 0, 1)
	take("L2", false)
	waitQueued(t, tr, 0, 2)
	take("L3", false)
	waitQueued(t, tr, 0, 3)
	take("H1", true)
	waitQueued(t, tr, 1, 3)
	take("H2", true)
	waitQueued(t, tr, 2, 3)
	tr.release()
	wg.Wait()
	// The holder was low, so high goes first, then they alternate; the
	// rest of the low queue runs in order.
	want := []string{"H1", "L1", "H2", "L2", "L3"}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	if tr.busy {
		t.Fatal("gate still busy after every holder released")
	}
}

// TestWriteTurnsCancel: a waiter whose context ends leaves the queue, and the
// turns go on.
func TestWriteTurnsCancel(t *testing.T) {
	t.Parallel()
	tr := &writeTurns{}
	if err := tr.acquire(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tr.acquire(ctx, false) }()
	waitQueued(t, tr, 0, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	waitQueued(t, tr, 0, 0)
	done := make(chan struct{})
	go func() {
		if err := tr.acquire(context.Background(), false); err != nil {
			t.Error(err)
		}
		tr.release()
		close(done)
	}()
	waitQueued(t, tr, 0, 1)
	tr.release()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the next waiter never got its turn")
	}
}

// TestWriteTurnsNil: PostgreSQL has no gate; every call is a no-op.
func TestWriteTurnsNil(t *testing.T) {
	t.Parallel()
	var tr *writeTurns
	if err := tr.acquire(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	tr.release()
}

// TestWriteTurnsStress: many holders of both classes under -race; at most
// one holds a turn at a time.
func TestWriteTurnsStress(t *testing.T) {
	t.Parallel()
	tr := &writeTurns{}
	var holders, maxHolders int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			for j := range 50 {
				ctx := context.Background()
				var cancel context.CancelFunc = func() {}
				if j%7 == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Microsecond)
				}
				if err := tr.acquire(ctx, i%4 == 0); err != nil {
					cancel()
					continue
				}
				mu.Lock()
				holders++
				maxHolders = max(maxHolders, holders)
				mu.Unlock()
				mu.Lock()
				holders--
				mu.Unlock()
				tr.release()
				cancel()
			}
		})
	}
	wg.Wait()
	if maxHolders != 1 {
		t.Fatalf("%d holders at once", maxHolders)
	}
	if tr.busy || len(tr.high) != 0 || len(tr.low) != 0 {
		t.Fatalf("gate left busy=%v high=%d low=%d", tr.busy, len(tr.high), len(tr.low))
	}
}
