package process

import (
	"context"
	"log/slog"
	"time"

	"github.com/voicehook/voicehook"
)

// Retention deletes finished events (with their attempt history) once they
// have not changed for Keep. Events still waiting or in processing are
// never deleted. Jobs and segments are kept: they are the record.
type Retention struct {
	Store  voicehook.Inbox
	Keep   time.Duration
	Every  time.Duration // how often to look (default 1h)
	Batch  int           // events per transaction (default 1000), so the writer is never held long
	Clock  voicehook.Clock
	Logger *slog.Logger
}

// Run purges once at start and then every Every, until ctx ends.
func (r *Retention) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once deletes every finished event older than Keep, a batch at a time,
// and returns how many it deleted.
func (r *Retention) Once(ctx context.Context) int {
	batch := r.Batch
	if batch <= 0 {
		batch = 1000
	}
	before := r.Clock.Now().Add(-r.Keep)
	total := 0
	for ctx.Err() == nil {
		n, err := r.Store.PurgeEvents(ctx, before, batch)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				r.Logger.Warn("purging old events; will try again", "err", err, "purged", total)
			}
			break
		}
		if n < batch {
			break
		}
	}
	if total > 0 {
		r.Logger.Info("purged finished events past retention", "count", total, "older_than", before.UTC().Format(time.RFC3339))
	}
	return total
}
