package groupcommit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/voicehook/voicehook/voicehooktest"
)

// TestWriterCommitDeadline: a commit that blocks until its ctx ends (a
// database that stopped answering) releases its callers at Options.Timeout
// with the deadline's error, although their own contexts never end; the
// writer then goes on committing.
func TestWriterCommitDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	giveUp := make(chan struct{}) // lets a failing test end
	w := New(func(ctx context.Context, batch []int) []error {
		out := make([]error, len(batch))
		for _, v := range batch {
			if v < 0 {
				select {
				case <-ctx.Done():
				case <-giveUp:
				}
				for i := range out {
					out[i] = ctx.Err()
				}
				break
			}
		}
		return out
	}, Options[int, error]{Timeout: timeout, Refused: func(err error) error { return err }})
	defer w.Close()
	defer close(giveUp)

	start := time.Now()
	got := make(chan error, 1)
	go func() { got <- w.Submit(context.Background(), -1) }()
	select {
	case err := <-got:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stuck commit released its caller with %v, want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took < timeout {
			t.Fatalf("released after %s, before the %s deadline", took, timeout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a commit blocked until its ctx ends still held its caller 10s on: the commit has no deadline")
	}
	if err := w.Submit(context.Background(), 1); err != nil {
		t.Fatalf("commit after the stuck one: %v", err)
	}
}

// TestWriterRunning: Running is how long the commit under way has run, on
// the writer's clock, and 0 between commits.
func TestWriterRunning(t *testing.T) {
	t.Parallel()
	clock := voicehooktest.NewClock()
	entered, release := make(chan struct{}), make(chan struct{})
	w := New(func(ctx context.Context, batch []int) []error {
		entered <- struct{}{}
		<-release
		return make([]error, len(batch))
	}, Options[int, error]{Now: clock.Now, Refused: func(err error) error { return err }})
	defer w.Close()

	if d := w.Running(); d != 0 {
		t.Fatalf("Running of an idle writer = %s, want 0", d)
	}
	done := make(chan error, 1)
	go func() { done <- w.Submit(context.Background(), 1) }()
	<-entered
	clock.Advance(7 * time.Second)
	if d := w.Running(); d != 7*time.Second {
		t.Fatalf("Running 7s into a commit = %s", d)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := w.Running(); d != 0 {
		t.Fatalf("Running after the commit = %s, want 0", d)
	}
}
