package groupcommit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

// TestWriterFailedBatchFailsOnlyItsItems: a commit that fails reports the
// failure to exactly the items it held; the batch before it and the batch
// after it are unaffected, and the writer goes on committing.
func TestWriterFailedBatchFailsOnlyItsItems(t *testing.T) {
	t.Parallel()
	errBatch := errors.New("batch failed")
	var mu sync.Mutex
	var batches [][]int
	hold := make(chan struct{})
	// A batch fails as a whole when it holds a negative item, as one
	// transaction does when one of its statements fails.
	w := New(func(ctx context.Context, batch []int) []error {
		mu.Lock()
		batches = append(batches, append([]int(nil), batch...))
		first := len(batches) == 1
		mu.Unlock()
		if first {
			<-hold
		}
		out := make([]error, len(batch))
		for _, v := range batch {
			if v < 0 {
				for i := range out {
					out[i] = errBatch
				}
				break
			}
		}
		return out
	}, Options[int, error]{MaxBatch: 64, Refused: func(err error) error { return err }})
	defer w.Close()

	submit := func(items []int) []error {
		errs := make([]error, len(items))
		var wg sync.WaitGroup
		for i, v := range items {
			wg.Go(func() { errs[i] = w.Submit(context.Background(), v) })
		}
		wg.Wait()
		return errs
	}

	// Batch 1 (item 1) is held while items 2, 3 and -4 queue behind it,
	// so they form batch 2, which fails.
	firstErr := make(chan error, 1)
	go func() { firstErr <- w.Submit(context.Background(), 1) }()
	for !started(&mu, &batches) {
		runtime.Gosched()
	}
	secondErrs := make(chan []error, 1)
	go func() { secondErrs <- submit([]int{2, 3, -4}) }()
	for len(w.queue) < 3 {
		runtime.Gosched()
	}
	close(hold)
	if err := <-firstErr; err != nil {
		t.Fatalf("item of the batch before the failing one: %v", err)
	}
	for i, err := range <-secondErrs {
		if !errors.Is(err, errBatch) {
			t.Errorf("item %d of the failing batch: got %v, want its batch's error", i, err)
		}
	}
	// The next batch commits normally.
	for i, err := range submit([]int{5, 6, 7}) {
		if err != nil {
			t.Errorf("item %d of the batch after the failing one: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(batches) < 3 || len(batches[1]) != 3 {
		t.Fatalf("batches %v: want [1], then the 3 queued items together, then the rest", batches)
	}
	for _, b := range batches[2:] {
		for _, v := range b {
			if v < 0 {
				t.Fatalf("batches %v: a failed item was committed again", batches)
			}
		}
	}
}
