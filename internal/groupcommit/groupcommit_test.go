package groupcommit

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestWriterBatchesAndReplies(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var batches [][]int
	release := make(chan struct{})
	w := New(func(ctx context.Context, batch []int) []int {
		mu.Lock()
		batches = append(batches, append([]int(nil), batch...))
		first := len(batches) == 1
		mu.Unlock()
		if first {
			<-release // hold the first commit so the rest queue behind it
		}
		out := make([]int, len(batch))
		for i, v := range batch {
			out[i] = v * 10
		}
		return out
	}, Options[int, int]{MaxBatch: 64, Refused: func(error) int { return -1 }})
	defer w.Close()

	var wg sync.WaitGroup
	results := make([]int, 50)
	wg.Add(1)
	go func() { defer wg.Done(); results[0] = w.Submit(context.Background(), 0) }()
	for len(w.queue) > 0 || !started(&mu, &batches) {
	}
	for i := 1; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = w.Submit(context.Background(), i) }()
	}
	for len(w.queue) < 49 {
	}
	close(release)
	wg.Wait()
	for i, r := range results {
		if r != i*10 {
			t.Fatalf("result %d = %d, want %d", i, r, i*10)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(batches) != 2 || len(batches[1]) != 49 {
		t.Fatalf("want 2 batches (1, then the 49 queued behind it), got sizes %v", sizes(batches))
	}
}

func started(mu *sync.Mutex, b *[][]int) bool {
	mu.Lock()
	defer mu.Unlock()
	return len(*b) > 0
}

func sizes(b [][]int) []int {
	var s []int
	for _, x := range b {
		s = append(s, len(x))
	}
	return s
}

func TestWriterCapsBatch(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	maxSeen := 0
	w := New(func(ctx context.Context, batch []int) []int {
		mu.Lock()
		maxSeen = max(maxSeen, len(batch))
		mu.Unlock()
		return make([]int, len(batch))
	}, Options[int, int]{MaxBatch: 8, Refused: func(error) int { return -1 }})
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Add(1)
		go func() { defer wg.Done(); w.Submit(context.Background(), i) }()
	}
	wg.Wait()
	w.Close()
	if maxSeen > 8 || maxSeen == 0 {
		t.Fatalf("largest batch %d, want 1..8", maxSeen)
	}
}

func TestWriterClosed(t *testing.T) {
	t.Parallel()
	w := New(func(ctx context.Context, batch []int) []error { return make([]error, len(batch)) },
		Options[int, error]{Refused: func(err error) error { return err }})
	if err := w.Submit(context.Background(), 1); err != nil {
		t.Fatalf("submit before close: %v", err)
	}
	w.Close()
	if err := w.Submit(context.Background(), 2); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after close = %v, want ErrClosed", err)
	}
}

func TestWriterContextCancelled(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	w := New(func(ctx context.Context, batch []int) []error {
		<-block
		return make([]error, len(batch))
	}, Options[int, error]{Refused: func(err error) error { return err }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Submit(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	close(block)
	w.Close()
}
