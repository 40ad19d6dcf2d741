package airtable

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/voicehook/voicehook"
)

// gate is the one door to a base: every request of every worker in the
// process passes it. It spaces requests under Airtable's 5 per second,
// after a 429 keeps the whole base silent for Silence (Airtable's 30 s)
// plus jitter, and lowers its rate when 429s repeat (see pace).
type gate struct {
	lim     *rate.Limiter
	clock   voicehook.Clock
	silence time.Duration
	jitter  func(max time.Duration) time.Duration
	log     *slog.Logger

	mu    sync.Mutex
	until time.Time
	pace  pace
}

func newGate(perSecond float64, silence time.Duration, clock voicehook.Clock, log *slog.Logger) *gate {
	return &gate{
		// Burst 1: with 4/s, any one-second window holds at most 5
		// requests, Airtable's limit, even counted Airtable's way.
		lim:     rate.NewLimiter(rate.Limit(perSecond), 1),
		pace:    newPace(perSecond),
		log:     log,
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

// check returns a *SilenceError while the base is silent, and raises a
// lowered rate once the base has been quiet long enough.
func (g *gate) check() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	if now.Before(g.until) {
		return &SilenceError{Until: g.until}
	}
	if from, to := g.pace.tick(now); to != from {
		g.lim.SetLimit(rate.Limit(to))
		msg := "airtable quiet; voicehook raises its request rate"
		if to >= g.pace.max {
			msg = "airtable quiet; voicehook is back at its full request rate"
		}
		g.log.Info(msg, "from_per_second", from, "to_per_second", to)
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

// rateLimited starts (or extends) the silence after a 429, and lowers the
// rate if 429s repeat.
func (g *gate) rateLimited() time.Time {
	now := g.clock.Now()
	until := now.Add(g.silence + g.jitter(g.silence/10))
	g.mu.Lock()
	defer g.mu.Unlock()
	// 429s to requests already in flight when the silence began are the
	// same episode: only the first counts.
	episode := !now.Before(g.until)
	if until.After(g.until) {
		g.until = until
	}
	if !episode {
		return g.until
	}
	if from, to := g.pace.throttled(now); to != from {
		g.lim.SetLimit(rate.Limit(to))
		g.log.Warn("airtable keeps answering 429 (rate limit); voicehook lowers its request rate: the base is shared with other scripts, or the workspace is over its plan's monthly API calls",
			"from_per_second", from, "to_per_second", to, "throttles", g.pace.throttles, "raise_after_quiet", paceQuiet)
	}
	return g.until
}

// status is the gate's pace now.
func (g *gate) status() Pace {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pace.status(g.clock.Now(), g.until)
}
