package airtable

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/voicehook/voicehook"
)

// gate is the one door to a base: every request of every worker in the
// process passes it. It spaces requests under Airtable's 5 per second and,
// after a 429, keeps the whole base silent for Silence (Airtable's 30 s)
// plus jitter.
type gate struct {
	lim     *rate.Limiter
	clock   voicehook.Clock
	silence time.Duration
	jitter  func(max time.Duration) time.Duration

	mu    sync.Mutex
	until time.Time
}

func newGate(perSecond float64, silence time.Duration, clock voicehook.Clock) *gate {
	return &gate{
		// Burst 1: with 4/s, any one-second window holds at most 5
		// requests, Airtable's limit, even counted Airtable's way.
		lim:     rate.NewLimiter(rate.Limit(perSecond), 1),
		clock:   clock,
		silence: silence,
		jitter: func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return rand.N(max)
		},
	}
}

// check returns a *SilenceError while the base is silent.
func (g *gate) check() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.clock.Now().Before(g.until) {
		return &SilenceError{Until: g.until}
	}
	return nil
}

// wait takes a request slot: at once, after the limiter's spacing, or not
// at all while the base is silent.
func (g *gate) wait(ctx context.Context) error {
	if err := g.check(); err != nil {
		return err
	}
	if err := g.lim.Wait(ctx); err != nil {
		return err
	}
	return g.check()
}

// rateLimited starts (or extends) the silence after a 429.
func (g *gate) rateLimited() time.Time {
	until := g.clock.Now().Add(g.silence + g.jitter(g.silence/10))
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.until) {
		g.until = until
	}
	return g.until
}
