package ackguard

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// acquireAsync starts an Acquire and hands back its result.
func acquireAsync(g *Guard, ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() { done <- g.Acquire(ctx) }()
	return done
}

// waitQueued waits until n acquirers are queued: each is then blocked, not
// merely slow to start.
func waitQueued(g *Guard, n int) {
	for g.waiting() != n {
		runtime.Gosched()
	}
}

// notReturned fails the test if an Acquire that must still be blocked has
// returned.
func notReturned(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s: Acquire returned (%v) while it should be waiting", what, err)
	default:
	}
}

// admitted checks, right after a Release or Adjust, that it granted slots
// there and then (admission is synchronous), leaving n waiting.
func admitted(t *testing.T, g *Guard, n int) {
	t.Helper()
	if got := g.waiting(); got != n {
		t.Fatalf("waiting() = %d right after the slot freed, want %d", got, n)
	}
}

// cut drives the width down to w with bad ticks (Window must be 1).
func cut(t *testing.T, g *Guard, w int) {
	t.Helper()
	for g.Width() > w {
		observe(g, tick{slow: 100})
		g.Adjust()
	}
	if g.Width() != w {
		t.Fatalf("cut to width %d, got %d", w, g.Width())
	}
}

// idleSlotWithWaiters reports a broken invariant: an acquirer waits while
// a slot is free.
func idleSlotWithWaiters(g *Guard) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running < g.width && g.waiters.len() > 0
}

func acquireN(t *testing.T, g *Guard, n int) {
	t.Helper()
	for range n {
		if err := g.Acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAcquireBlocksWhenFullUntilRelease(t *testing.T) {
	t.Parallel()
	g := New(Config{Max: 2, Target: target})
	acquireN(t, g, 2)
	done := acquireAsync(g, context.Background())
	waitQueued(g, 1)
	notReturned(t, done, "width 2, 2 running")
	g.Release()
	admitted(t, g, 0)
	if err := <-done; err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	if got := g.Running(); got != 2 {
		t.Fatalf("Running() = %d, want 2", got)
	}
}

func TestShrinkKeepsHoldersAndBlocksNewOnes(t *testing.T) {
	t.Parallel()
	g := New(Config{Max: 8, Target: target, Window: 1})
	acquireN(t, g, 8)
	cut(t, g, 4)
	if got := g.Running(); got != 8 {
		t.Fatalf("Running() after the cut = %d, want the 8 holders kept", got)
	}
	done := acquireAsync(g, context.Background())
	waitQueued(g, 1)
	for range 4 {
		g.Release()
	}
	// 4 running at width 4: still full.
	notReturned(t, done, "width 4, 4 running")
	if got := g.waiting(); got != 1 {
		t.Fatalf("waiting() = %d, want 1", got)
	}
	g.Release()
	admitted(t, g, 0)
	if err := <-done; err != nil {
		t.Fatalf("Acquire once running < width: %v", err)
	}
	if got := g.Running(); got != 4 {
		t.Fatalf("Running() = %d, want 4", got)
	}
}

func TestGrowAdmitsWaiters(t *testing.T) {
	t.Parallel()
	g := New(Config{Max: 4, Target: target, Window: 1})
	cut(t, g, 1)
	acquireN(t, g, 1)
	first := acquireAsync(g, context.Background())
	waitQueued(g, 1)
	second := acquireAsync(g, context.Background())
	waitQueued(g, 2)

	g.Adjust() // no acks: width 2 admits the first waiter, in order
	admitted(t, g, 1)
	if err := <-first; err != nil {
		t.Fatalf("first waiter: %v", err)
	}
	notReturned(t, second, "width 2, 2 running")
	g.Adjust() // width 3
	admitted(t, g, 0)
	if err := <-second; err != nil {
		t.Fatalf("second waiter: %v", err)
	}
	if got := g.Running(); got != 3 {
		t.Fatalf("Running() = %d, want 3", got)
	}
}

func TestAcquireCancelLeaksNoSlot(t *testing.T) {
	t.Parallel()
	g := New(Config{Max: 1, Target: target})
	acquireN(t, g, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := acquireAsync(g, ctx)
	behind := acquireAsync(g, context.Background())
	waitQueued(g, 2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire returned %v, want context.Canceled", err)
	}
	waitQueued(g, 1)
	if got := g.Running(); got != 1 {
		t.Fatalf("Running() after a cancelled wait = %d, want 1", got)
	}
	g.Release()
	if err := <-behind; err != nil {
		t.Fatalf("waiter queued behind the cancelled one: %v", err)
	}
	g.Release()
	if got := g.Running(); got != 0 {
		t.Fatalf("Running() after all released = %d, want 0", got)
	}

	// An Acquire whose ctx has already ended takes no slot, even a free one.
	if err := g.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with an ended ctx returned %v, want context.Canceled", err)
	}
	if got := g.Running(); got != 0 {
		t.Fatalf("Running() after Acquire with an ended ctx = %d, want 0", got)
	}
}

// TestAcquireGrantedAsCancelledGivesSlotBack: a waiter granted a slot just
// as its ctx ends either returns nil holding the slot or returns ctx.Err()
// having given the slot back; the slot is never lost. The test holds the
// guard's lock across the cancel and the grant, so a waiter already parked
// sees the cancel first and must find the grant when it takes the lock.
func TestAcquireGrantedAsCancelledGivesSlotBack(t *testing.T) {
	t.Parallel()
	gaveBack := 0
	for range 50 {
		g := New(Config{Max: 1, Target: target})
		acquireN(t, g, 1)
		ctx, cancel := context.WithCancel(context.Background())
		done := acquireAsync(g, ctx)
		waitQueued(g, 1)
		for range 100 {
			runtime.Gosched() // let the waiter park in its select
		}
		g.mu.Lock()
		cancel()
		g.running-- // the holder's Release, done by hand under the same lock
		g.admitLocked()
		g.mu.Unlock()
		err := <-done
		switch {
		case err == nil:
			if got := g.Running(); got != 1 {
				t.Fatalf("granted waiter returned nil; Running() = %d, want 1", got)
			}
			g.Release()
		case errors.Is(err, context.Canceled):
			gaveBack++
		default:
			t.Fatalf("Acquire returned %v", err)
		}
		if got, q := g.Running(), g.waiting(); got != 0 || q != 0 {
			t.Fatalf("after the race: Running() = %d, waiting() = %d, want 0 and 0", got, q)
		}
	}
	if gaveBack == 0 {
		t.Fatal("no waiter saw its cancel before its grant in 50 tries: the give-back path went untested")
	}
}

func TestReleaseWithoutAcquirePanics(t *testing.T) {
	t.Parallel()
	g := New(Config{Max: 1, Target: target})
	defer func() {
		if recover() == nil {
			t.Fatal("Release without Acquire did not panic")
		}
	}()
	g.Release()
}

// TestConcurrentAcquireReleaseAdjust: acquirers (some cancelled while
// waiting) race a controller that swings the width between Min and Max.
// No more than Max attempts ever hold slots, and none is lost.
func TestConcurrentAcquireReleaseAdjust(t *testing.T) {
	t.Parallel()
	const (
		maxWidth = 6
		workers  = 24
		rounds   = 300
	)
	g := New(Config{Max: maxWidth, Target: target, Window: 1, MinSamples: 1})
	var inside, peak atomic.Int64
	var violations atomic.Int64
	stop := make(chan struct{})
	controller := make(chan struct{})
	go func() {
		defer close(controller)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%8 < 3 {
				g.Observe(target * 2) // bad: cut
			}
			g.Adjust()
			runtime.Gosched()
		}
	}()

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				ctx, cancel := context.WithCancel(context.Background())
				if rng.IntN(4) == 0 {
					go cancel() // races the wait, and the grant
				}
				if err := g.Acquire(ctx); err != nil {
					cancel()
					if !errors.Is(err, context.Canceled) {
						violations.Add(1)
					}
					continue
				}
				// inside <= Running <= Max at every instant, as a holder
				// enters after its Acquire and leaves before its Release.
				n := inside.Add(1)
				if n > maxWidth || g.Running() > maxWidth || idleSlotWithWaiters(g) {
					violations.Add(1)
				}
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				runtime.Gosched()
				inside.Add(-1)
				g.Release()
				cancel()
			}
		})
	}
	wg.Wait()
	close(stop)
	<-controller
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d times a holder saw more than Max=%d holders or running, a waiter beside a free slot, or an unexpected error", v, maxWidth)
	}
	if got, q := g.Running(), g.waiting(); got != 0 || q != 0 {
		t.Fatalf("after all released: Running() = %d, waiting() = %d, want 0 and 0", got, q)
	}
	if p := peak.Load(); p < 2 {
		t.Logf("peak concurrency only %d: the race exercised little", p)
	}
}
