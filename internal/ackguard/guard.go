// Package ackguard limits how many processing attempts run at once so that
// acknowledging deliveries stays fast on a small machine.
//
// Design: a Guard is a semaphore (semaphore.go) whose capacity, the width,
// a controller moves between Min and Max. The webhook handler reports each
// acknowledgement's server-side latency with Observe; every Tick, Adjust
// looks at the last Window ticks of those reports.
//
// Signal. p99 above Target is the same as more than 1% of acks over Target,
// so Observe only counts acks and acks over Target in one atomic word (no
// histogram, no lock on the ack path), and the controller compares the
// fraction over.
//
// Control law (AIMD with a dead band):
//   - at least MinSamples acks in the window and more than 1% over Target:
//     width = max(Min, width/2). Acks suffer now; halving reaches the
//     narrowest width that helps in log2(Max) steps.
//   - at most 0.5% over, or fewer than MinSamples acks: width = min(Max,
//     width+1). Acks are fine or there are hardly any to protect (processing
//     measured while no deliveries arrive runs at full width again within
//     (Max-Min) ticks).
//   - between 0.5% and 1%: hold. The band keeps the width from flapping
//     when p99 sits at the target.
//
// Hold-off after a cut. The window still holds samples taken at the old
// width, and a cut does not interrupt running holders: until enough of them
// finish, more than the new width still run and acks still suffer from the
// old width. Judging the new width on those samples would halve it again
// and again, down to Min, for one bad second. So a further cut waits until
// the window holds only ticks run entirely at the new width: Window full
// ticks that began with running <= width. (Once running <= width it stays
// so until the width changes, since admission needs running < width; so
// "began drained" means "ran drained".) With short attempts that is the
// tick after the cut drains plus Window-1 more; with long ones it waits for
// them. Growth is not held off: it needs a window that is already quiet or
// idle, and if the wider width hurts, the next window says so.
//
// Statistics: at 1,000 acks/s and a 1 s window, 1% is 10 acks. With the
// default MinSamples of 20, one slow ack in 20-99 is already "over 1%":
// at low rates the law is twitchy, which costs little since the width
// grows back by one per quiet tick.
package ackguard

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Config sets a Guard's limits and controller.
type Config struct {
	// Max is the widest the guard gets, and its starting width; at least 1.
	Max int
	// Min is the narrowest, 1 when 0; at most Max.
	Min int
	// Target is the ack latency whose 1% excess triggers a cut. <= 0 turns
	// the controller off: the guard is then a plain semaphore of Max,
	// Observe and Adjust do nothing and Run returns at once.
	Target time.Duration
	// Tick is how often Run adjusts the width, 250ms when 0.
	Tick time.Duration
	// Window is how many ticks of acks each decision looks at, 4 when 0.
	Window int
	// MinSamples is how many acks a window needs before it can cut the
	// width, 20 when 0.
	MinSamples int
	// OnChange, if set, is called with the new width whenever Adjust
	// changes it, after the guard's locks are released (it may read Width
	// and Running, not call Adjust) and in the order the changes happened.
	OnChange func(width int)
}

const (
	defaultTick       = 250 * time.Millisecond
	defaultWindow     = 4
	defaultMinSamples = 20
)

// One tick's counts share a word so that Observe is a single atomic add
// and a tick is taken with a single swap: acks in the high half, acks over
// Target in the low half. 2^32 acks in one tick is far beyond any rate.
const (
	totalShift = 32
	overMask   = 1<<totalShift - 1
)

// Guard is a semaphore whose width adapts to the acknowledgement latency.
type Guard struct {
	cfg    Config
	target time.Duration // cfg.Target, or 0 when off

	// cur counts the current tick's acks (see totalShift).
	cur atomic.Uint64

	// adjustMu serialises Adjust, including OnChange calls, and guards the
	// window and the hold-off.
	adjustMu sync.Mutex
	window   []uint64 // past ticks' counts, a ring
	next     int      // ring slot the tick just ended goes to
	// clean counts full ticks since the last cut that ran with running <=
	// width; a cut needs clean >= Window.
	clean int
	// drained is whether running <= width when the current tick began.
	drained bool

	// mu guards the semaphore.
	mu      sync.Mutex
	width   int
	running int
	waiters waitQueue
}

// New returns a Guard at width Max. It panics when Max < 1 or Min > Max:
// both are programming errors.
func New(cfg Config) *Guard {
	if cfg.Max < 1 {
		panic("ackguard: Config.Max must be at least 1")
	}
	if cfg.Min <= 0 {
		cfg.Min = 1
	}
	if cfg.Min > cfg.Max {
		panic("ackguard: Config.Min must be at most Config.Max")
	}
	if cfg.Tick <= 0 {
		cfg.Tick = defaultTick
	}
	if cfg.Window <= 0 {
		cfg.Window = defaultWindow
	}
	if cfg.MinSamples <= 0 {
		cfg.MinSamples = defaultMinSamples
	}
	g := &Guard{
		cfg:     cfg,
		window:  make([]uint64, cfg.Window),
		clean:   cfg.Window, // no cut yet to hold off
		drained: true,
		width:   cfg.Max,
	}
	if cfg.Target > 0 {
		g.target = cfg.Target
	}
	return g
}

// Observe records one acknowledgement that took d, server side.
func (g *Guard) Observe(d time.Duration) {
	if g.target <= 0 {
		return
	}
	v := uint64(1) << totalShift
	if d > g.target {
		v++
	}
	g.cur.Add(v)
}

// Adjust ends the current tick and applies one step of the control law
// (see the package comment). Run calls it every Tick; tests call it
// directly.
func (g *Guard) Adjust() {
	if g.target <= 0 {
		return
	}
	g.adjustMu.Lock()
	defer g.adjustMu.Unlock()

	g.window[g.next] = g.cur.Swap(0)
	g.next = (g.next + 1) % len(g.window)
	var total, over uint64
	for _, c := range g.window {
		total += c >> totalShift
		over += c & overMask
	}
	if g.drained && g.clean < g.cfg.Window {
		g.clean++
	}

	g.mu.Lock()
	w := g.width
	switch {
	case total >= uint64(g.cfg.MinSamples) && over*100 > total: // over 1%
		if g.clean >= g.cfg.Window {
			w = max(g.cfg.Min, w/2)
		}
	case total < uint64(g.cfg.MinSamples) || over*200 <= total: // 0.5% or less
		w = min(g.cfg.Max, w+1)
	}
	old := g.width
	g.width = w
	if w < old {
		g.clean = 0
	}
	if w > old {
		g.admitLocked()
	}
	g.drained = g.running <= g.width
	g.mu.Unlock()

	if w != old && g.cfg.OnChange != nil {
		g.cfg.OnChange(w)
	}
}

// Run adjusts the width every Tick until ctx ends. With the controller off
// it returns at once.
func (g *Guard) Run(ctx context.Context) {
	if g.target <= 0 {
		return
	}
	t := time.NewTicker(g.cfg.Tick)
	defer t.Stop()
	g.run(ctx, t.C)
}

// run is Run on any tick source, so tests step it without real time.
func (g *Guard) run(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			g.Adjust()
		}
	}
}

// Width is how many attempts may run at once now.
func (g *Guard) Width() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.width
}

// Running is how many attempts hold a slot now; right after a cut it may
// exceed Width.
func (g *Guard) Running() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running
}
