package process

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/voicehooktest"
)

// fakePurger has `left` old events and deletes up to limit per call,
// failing on call failAt (1-based) when set.
type fakePurger struct {
	voicehook.Inbox // only PurgeEvents is called
	left            int
	calls           []time.Time
	failAt          int
	limited         []int
}

func (f *fakePurger) PurgeEvents(_ context.Context, before time.Time, limit int) (int, error) {
	f.calls = append(f.calls, before)
	f.limited = append(f.limited, limit)
	if len(f.calls) == f.failAt {
		return 0, errors.New("store unavailable")
	}
	n := min(f.left, limit)
	f.left -= n
	return n, nil
}

func TestRetentionOnce(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name      string
		left      int
		failAt    int
		wantTotal int
		wantCalls int
	}{
		{"nothing to purge", 0, 0, 0, 1},
		{"less than a batch", 7, 0, 7, 1},
		{"exactly a batch, then an empty one", 10, 0, 10, 2},
		{"several batches", 25, 0, 25, 3},
		{"an error stops this round", 25, 2, 10, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &fakePurger{left: tt.left, failAt: tt.failAt}
			r := &Retention{Store: p, Keep: 30 * 24 * time.Hour, Batch: 10, Clock: voicehooktest.NewClockAt(now), Logger: log}
			if got := r.Once(context.Background()); got != tt.wantTotal {
				t.Errorf("Once = %d, want %d", got, tt.wantTotal)
			}
			if len(p.calls) != tt.wantCalls {
				t.Fatalf("%d PurgeEvents calls, want %d", len(p.calls), tt.wantCalls)
			}
			for i, before := range p.calls {
				if want := now.Add(-30 * 24 * time.Hour); !before.Equal(want) || p.limited[i] != 10 {
					t.Errorf("call %d: before %v limit %d, want %v and 10", i, before, p.limited[i], want)
				}
			}
			if diff := cmp.Diff(tt.left-tt.wantTotal, p.left); diff != "" {
				t.Errorf("events left (-want +got):\n%s", diff)
			}
		})
	}
}
