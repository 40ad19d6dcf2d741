package groupcommit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook/internal/tracing"
	"github.com/voicehook/voicehook/internal/tracing/tracingtest"
)

// item is what a traced writer commits: a value and the trace context it
// was committed under.
type item struct {
	N           int
	TraceParent string
}

// Each item submitted within a trace gets a commit span of its own, a child
// of the submitter's span, timed as the shared commit; the item is committed
// carrying that span's context. Items outside any trace are left alone.
func TestCommitSpanPerTracedItem(t *testing.T) {
	t.Parallel()
	col := tracingtest.New(t)
	tr, err := tracing.Setup(context.Background(), tracing.Config{Endpoint: col.URL, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var committed [][]item
	release := make(chan struct{})
	w := New(func(ctx context.Context, batch []item) []error {
		mu.Lock()
		committed = append(committed, append([]item(nil), batch...))
		first := len(committed) == 1
		mu.Unlock()
		if first {
			<-release // the rest queue behind the first commit
		}
		out := make([]error, len(batch))
		for i, it := range batch {
			if it.N == 3 {
				out[i] = errors.New("disk full")
			}
		}
		return out
	}, Options[item, error]{
		Refused: func(err error) error { return err },
		Traced: func(it item, commit trace.SpanContext) item {
			it.TraceParent = tracing.TraceParent(commit)
			return it
		},
		Failed: func(err error) error { return err },
	})
	defer w.Close()

	roots := make([]trace.Span, 4)
	submit := func(n int, wg *sync.WaitGroup) {
		defer wg.Done()
		ctx := context.Background()
		if n != 2 { // item 2 comes from outside any trace
			ctx, roots[n] = tr.StartRoot(ctx, "delivery")
		}
		_ = w.Submit(ctx, item{N: n})
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go submit(0, &wg)
	for !committedAny(&mu, &committed) {
		time.Sleep(time.Millisecond)
	}
	for n := 1; n < 4; n++ {
		wg.Add(1)
		go submit(n, &wg)
	}
	for len(w.queue) < 3 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for _, r := range roots {
		if r != nil {
			r.End()
		}
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	spans := col.Spans()
	commits := map[string]tracingtest.Span{} // by parent span id
	for _, s := range spans {
		if s.Name == "commit" {
			commits[s.ParentID] = s
		}
	}
	if len(commits) != 3 {
		t.Fatalf("%d commit spans, want one per traced item (3):\n%s", len(commits), tracingtest.Dump(spans))
	}
	mu.Lock()
	defer mu.Unlock()
	got := map[int]string{}
	for _, b := range committed {
		for _, it := range b {
			got[it.N] = it.TraceParent
		}
	}
	want := map[int]string{2: ""}
	for n, r := range roots {
		if r == nil {
			continue
		}
		c, ok := commits[r.SpanContext().SpanID().String()]
		if !ok {
			t.Errorf("item %d: no commit span under its delivery", n)
			continue
		}
		if c.TraceID != r.SpanContext().TraceID().String() {
			t.Errorf("item %d: commit span in trace %s, not its delivery's", n, c.TraceID)
		}
		want[n] = "00-" + c.TraceID + "-" + c.SpanID + "-01"
		batch := "1"
		if n != 0 {
			batch = "3"
		}
		if c.Attrs["voicehook.commit.batch_size"] != batch {
			t.Errorf("item %d: batch size %q, want %s", n, c.Attrs["voicehook.commit.batch_size"], batch)
		}
		if failed := n == 3; c.Failed != failed || (failed && c.Error != "disk full") {
			t.Errorf("item %d: commit span failed=%v %q", n, c.Failed, c.Error)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trace parents committed (-want +got):\n%s", diff)
	}
}

func committedAny(mu *sync.Mutex, b *[][]item) bool {
	mu.Lock()
	defer mu.Unlock()
	return len(*b) > 0
}
