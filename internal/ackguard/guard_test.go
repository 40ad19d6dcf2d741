package ackguard

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const target = 10 * time.Millisecond

// tick is one controller step in a table test: the acks observed during
// the tick, fast (within Target) and slow (over it).
type tick struct{ fast, slow int }

func observe(g *Guard, tk tick) {
	for range tk.fast {
		g.Observe(target / 2)
	}
	for range tk.slow {
		g.Observe(target + time.Microsecond)
	}
}

// repeat is n copies of tk.
func repeat(n int, tk tick) []tick {
	out := make([]tick, n)
	for i := range out {
		out[i] = tk
	}
	return out
}

func concat(parts ...[]tick) []tick {
	var out []tick
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestAdjustControlLaw drives the controller tick by tick, with no holder
// running (so a cut takes effect at once), and checks the width after
// each step.
func TestAdjustControlLaw(t *testing.T) {
	t.Parallel()
	bad := tick{fast: 98, slow: 2}    // 2% over Target
	quiet := tick{fast: 100}          // none over
	idle := tick{}                    // no acks at all
	few := tick{slow: 19}             // all over, but fewer than MinSamples
	enough := tick{fast: 1, slow: 19} // 20 samples, 95% over
	cases := []struct {
		name  string
		cfg   Config
		ticks []tick
		want  []int
	}{
		{
			name:  "halves on a bad window, holds off for the rest of the window, then halves again",
			cfg:   Config{Max: 8, Target: target},
			ticks: repeat(6, bad),
			// The cut at tick 1 leaves ticks 2-4 with pre-cut samples in
			// the window: no second cut until tick 5, whose window holds
			// only ticks taken at width 4.
			want: []int{4, 4, 4, 4, 2, 2},
		},
		{
			name: "grows by one per quiet tick, once the bad tick is diluted to 0.5%, and no higher than Max",
			cfg:  Config{Max: 8, Target: target},
			// After the cut the window holds 2 slow acks in 200 (1%:
			// hold), in 300 (0.67%: hold), in 400 (0.5%: grow); then the
			// bad tick leaves the window.
			ticks: concat([]tick{bad}, repeat(9, quiet)),
			want:  []int{4, 4, 4, 5, 6, 7, 8, 8, 8, 8},
		},
		{
			name:  "never below Min",
			cfg:   Config{Max: 8, Min: 3, Target: target, Window: 1},
			ticks: repeat(4, bad),
			want:  []int{4, 3, 3, 3},
		},
		{
			name:  "Min equal to Max pins the width",
			cfg:   Config{Max: 2, Min: 2, Target: target, Window: 1},
			ticks: concat(repeat(2, bad), repeat(2, quiet)),
			want:  []int{2, 2, 2, 2},
		},
		{
			name:  "too few samples grows: idle ingest does not hold processing back",
			cfg:   Config{Max: 8, Target: target, Window: 1},
			ticks: []tick{enough, enough, few, idle, enough},
			want:  []int{4, 2, 3, 4, 2},
		},
		{
			name: "between 0.5% and 1% over holds the width",
			cfg:  Config{Max: 8, Target: target, Window: 1},
			// 1%: hold; 0.5%: grow; 0.67%: hold.
			ticks: []tick{bad, {fast: 198, slow: 2}, {fast: 199, slow: 1}, {fast: 298, slow: 2}},
			want:  []int{4, 4, 5, 5},
		},
		{
			name:  "MinSamples is configurable",
			cfg:   Config{Max: 8, Target: target, Window: 1, MinSamples: 100},
			ticks: []tick{enough, {fast: 90, slow: 10}},
			want:  []int{8, 4},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := New(tc.cfg)
			var got []int
			for _, tk := range tc.ticks {
				observe(g, tk)
				g.Adjust()
				got = append(got, g.Width())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("widths after each tick (-want +got):\n%s", diff)
			}
		})
	}
}

func TestObserveAtTarget(t *testing.T) {
	t.Parallel()
	g := New(Config{Max: 8, Target: target, Window: 1})
	for range 100 {
		g.Observe(target)
	}
	g.Adjust()
	if got := g.Width(); got != 8 {
		t.Fatalf("width after 100 acks of exactly Target = %d, want 8 (an ack at Target is within it)", got)
	}
}

// TestDecreaseHoldOffWaitsForHoldersToDrain: holders are not interrupted by
// a cut, so until running has fallen to the new width the acks still
// reflect the old one; the hold-off counts only ticks that began with the
// cut in effect.
func TestDecreaseHoldOffWaitsForHoldersToDrain(t *testing.T) {
	t.Parallel()
	g := New(Config{Max: 8, Target: target})
	for range 8 {
		if err := g.Acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	bad := tick{fast: 98, slow: 2}
	var got []int
	step := func() {
		observe(g, bad)
		g.Adjust()
		got = append(got, g.Width())
	}
	for range 6 {
		step() // cut to 4, then 5 ticks with 8 still running
	}
	for range 4 {
		g.Release()
	}
	for range 5 {
		step() // the tick the drain happened in, then a full window
	}
	want := []int{4, 4, 4, 4, 4, 4 /* drained */, 4, 4, 4, 4, 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("widths after each tick (-want +got):\n%s", diff)
	}
	if got := g.Running(); got != 4 {
		t.Fatalf("Running() = %d, want the 4 holders left", got)
	}
}

// TestOff: Target <= 0 turns the controller off; the guard is a plain
// semaphore of Max.
func TestOff(t *testing.T) {
	t.Parallel()
	for _, tgt := range []time.Duration{0, -time.Millisecond} {
		g := New(Config{Max: 3, Target: tgt, Window: 1})
		for range 4 {
			for range 100 {
				g.Observe(time.Hour)
			}
			g.Adjust()
		}
		if got := g.Width(); got != 3 {
			t.Fatalf("Target %s: width after slow acks = %d, want Max 3 (off)", tgt, got)
		}
		for range 3 {
			if err := g.Acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		done := acquireAsync(g, context.Background())
		waitQueued(g, 1)
		g.Release()
		if err := <-done; err != nil {
			t.Fatalf("Target %s: queued Acquire: %v", tgt, err)
		}
		if got := g.Running(); got != 3 {
			t.Fatalf("Target %s: Running() = %d, want 3", tgt, got)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		g.Run(ctx) // returns: nothing to adjust
	}
}

// TestRun: each tick runs one controller step; OnChange sees the new width
// and may read the guard (it is called outside the guard's locks); Run
// ends with its ctx.
func TestRun(t *testing.T) {
	t.Parallel()
	type change struct{ width, running int }
	changes := make(chan change, 10)
	var g *Guard
	g = New(Config{Max: 8, Target: target, Window: 1, OnChange: func(w int) {
		changes <- change{w, g.Running()}
		if g.Width() != w {
			panic("OnChange saw a width other than the one it was given")
		}
	}})
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	go func() { g.run(ctx, ticks); close(ended) }()

	observe(g, tick{fast: 10, slow: 90})
	ticks <- time.Time{}
	if got := <-changes; got != (change{4, 0}) {
		t.Fatalf("after a bad tick OnChange got %+v, want width 4", got)
	}
	ticks <- time.Time{} // no acks: grow
	if got := <-changes; got != (change{5, 0}) {
		t.Fatalf("after an idle tick OnChange got %+v, want width 5", got)
	}
	cancel()
	<-ended
	select {
	case c := <-changes:
		t.Fatalf("unexpected OnChange %+v", c)
	default:
	}
}

func TestRunRealTicker(t *testing.T) {
	t.Parallel()
	changed := make(chan int, 1)
	g := New(Config{Max: 8, Target: target, Tick: time.Millisecond, Window: 1, OnChange: func(w int) {
		select {
		case changed <- w:
		default:
		}
	}})
	observe(g, tick{slow: 100})
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	go func() { g.Run(ctx); close(ended) }()
	if got := <-changed; got != 4 {
		t.Fatalf("first change = %d, want 4", got)
	}
	cancel()
	<-ended
}

func TestNewDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	g := New(Config{Max: 8, Target: target})
	got := Config{Max: g.cfg.Max, Min: g.cfg.Min, Target: g.cfg.Target, Tick: g.cfg.Tick, Window: g.cfg.Window, MinSamples: g.cfg.MinSamples}
	want := Config{Max: 8, Min: 1, Target: target, Tick: 250 * time.Millisecond, Window: 4, MinSamples: 20}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if g.Width() != 8 || g.Running() != 0 {
		t.Errorf("new guard: width %d running %d, want 8 and 0", g.Width(), g.Running())
	}
	for _, cfg := range []Config{{Max: 0}, {Max: -1}, {Max: 2, Min: 3}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", cfg)
				}
			}()
			New(cfg)
		}()
	}
}

func BenchmarkObserve(b *testing.B) {
	g := New(Config{Max: 8, Target: target})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.Observe(time.Duration(i&15) * time.Millisecond)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	g := New(Config{Max: 8, Target: target})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var i int
		for pb.Next() {
			g.Observe(time.Duration(i&15) * time.Millisecond)
			i++
		}
	})
}
