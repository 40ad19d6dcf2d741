package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicehook/voicehook"
)

// storeValues gathers reg and returns the voicehook_ store metrics by name.
func storeValues(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		name := f.GetName()
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				out[name] = m.GetGauge().GetValue()
			case m.GetCounter() != nil && len(m.GetLabel()) == 0 && strings.HasPrefix(name, "voicehook_attempts"):
				out[name] = m.GetCounter().GetValue()
			}
		}
	}
	for name := range out {
		if !strings.HasPrefix(name, "voicehook_") {
			delete(out, name)
		}
	}
	return out
}

func TestStoreCollector(t *testing.T) {
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	cases := []struct {
		name       string
		overview   OverviewFunc
		processing CountFunc
		want       map[string]float64
	}{
		{
			name: "store answers",
			overview: func(ctx context.Context, at time.Time) (voicehook.Overview, error) {
				if !at.Equal(now) {
					t.Errorf("overview asked at %v, want %v", at, now)
				}
				if _, ok := ctx.Deadline(); !ok {
					t.Error("overview called without a deadline")
				}
				return voicehook.Overview{At: at, Received: 7, Dead: 3, Attempts: 42,
					OldestReceivedID: "evt_1", OldestReceivedAt: at.Add(-90 * time.Second)}, nil
			},
			processing: func(ctx context.Context) (int, error) { return 5, nil },
			want: map[string]float64{
				"voicehook_store_up": 1, "voicehook_queue_depth": 7, "voicehook_oldest_unprocessed_age_seconds": 90,
				"voicehook_events_dead": 3, "voicehook_jobs_processing": 5, "voicehook_attempts_total": 42,
			},
		},
		{
			name: "nothing waits",
			overview: func(ctx context.Context, at time.Time) (voicehook.Overview, error) {
				return voicehook.Overview{At: at}, nil
			},
			processing: func(ctx context.Context) (int, error) { return 0, nil },
			want: map[string]float64{
				"voicehook_store_up": 1, "voicehook_queue_depth": 0, "voicehook_oldest_unprocessed_age_seconds": 0,
				"voicehook_events_dead": 0, "voicehook_jobs_processing": 0, "voicehook_attempts_total": 0,
			},
		},
		{
			name: "records kept elsewhere: no jobs count",
			overview: func(ctx context.Context, at time.Time) (voicehook.Overview, error) {
				return voicehook.Overview{At: at, Received: 2}, nil
			},
			want: map[string]float64{
				"voicehook_store_up": 1, "voicehook_queue_depth": 2, "voicehook_oldest_unprocessed_age_seconds": 0,
				"voicehook_events_dead": 0, "voicehook_attempts_total": 0,
			},
		},
		{
			name: "store down",
			overview: func(ctx context.Context, at time.Time) (voicehook.Overview, error) {
				return voicehook.Overview{}, voicehook.ErrUnavailable
			},
			want: map[string]float64{"voicehook_store_up": 0},
		},
		{
			name: "store hangs past the timeout",
			overview: func(ctx context.Context, at time.Time) (voicehook.Overview, error) {
				<-ctx.Done()
				return voicehook.Overview{}, ctx.Err()
			},
			want: map[string]float64{"voicehook_store_up": 0},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(&storeCollector{overview: c.overview, processing: c.processing, now: func() time.Time { return now }, timeout: 50 * time.Millisecond})
			start := time.Now()
			got := storeValues(t, reg)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("scrape took %v", d)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNewWithStore checks the whole registry gathers cleanly with the store
// collector beside the others (no duplicate names, valid help).
func TestNewWithStore(t *testing.T) {
	m := New()
	m.WatchStore(func(ctx context.Context, at time.Time) (voicehook.Overview, error) {
		return voicehook.Overview{At: at, Received: 1, OldestReceivedAt: at.Add(-time.Second)}, nil
	}, nil)
	m.Deliveries.WithLabelValues("accepted").Inc()
	got := storeValues(t, m.Registry)
	if got["voicehook_queue_depth"] != 1 || got["voicehook_oldest_unprocessed_age_seconds"] < 1 || got["voicehook_store_up"] != 1 {
		t.Errorf("store metrics = %v", got)
	}
	if _, err := m.Registry.Gather(); err != nil {
		t.Fatal(err)
	}
}
