package airtable

import (
	"fmt"
	"strings"
	"time"
)

// pace adapts voicehook's request rate to what the base actually leaves
// it (AIMD, as TCP does). Airtable's 5 requests per second per base are
// shared with the user's own scripts and automations, and a Free or Team
// workspace over its monthly call cap is slowed further (to about 2 per
// second) until the month ends. Either shows up only as 429s. One 429
// may be a passing burst of someone else's, and costs 30 s of silence
// anyway; a 429 again within paceMemory means the base really has less
// room, so the rate is halved each time (down to paceFloor). After
// paceQuiet without a 429 it rises by paceStep, again each quiet period,
// back to the configured rate.
type pace struct {
	max  float64 // the configured rate (--airtable-requests-per-second)
	rate float64

	// lastThrottle is the last 429; changed the last change of rate.
	lastThrottle time.Time
	changed      time.Time
	// throttles counts the 429s since the rate was last at max.
	throttles int
}

const (
	paceFactor = 0.5
	paceFloor  = 0.5 // requests per second
	paceStep   = 0.5 // requests per second
	paceQuiet  = 2 * time.Minute
	paceMemory = 10 * time.Minute
)

func newPace(max float64) pace { return pace{max: max, rate: max} }

// throttled records a 429 at now and returns the rate before and after.
func (p *pace) throttled(now time.Time) (from, to float64) {
	from = p.rate
	repeated := !p.lastThrottle.IsZero() && now.Sub(p.lastThrottle) < paceMemory
	p.lastThrottle = now
	p.throttles++
	if repeated {
		p.rate = max(min(p.rate*paceFactor, p.max), min(paceFloor, p.max))
		p.changed = now
	}
	return from, p.rate
}

// tick raises the rate by a step if a quiet period passed since the last
// 429 and the last change; it returns the rate before and after.
func (p *pace) tick(now time.Time) (from, to float64) {
	from = p.rate
	if p.rate >= p.max || now.Sub(p.lastThrottle) < paceQuiet || now.Sub(p.changed) < paceQuiet {
		return from, from
	}
	p.rate = min(p.rate+paceStep, p.max)
	p.changed = now
	if p.rate >= p.max {
		p.throttles = 0
	}
	return from, p.rate
}

// Pace is how fast voicehook calls the base now, for the log and the
// admin overview.
type Pace struct {
	// PerSecond is the rate now; Max the configured one.
	PerSecond, Max float64
	// Throttles counts the 429s since the rate was last at Max.
	Throttles int
	// SilentUntil is the end of the silence after the last 429, if one
	// is under way.
	SilentUntil time.Time
	// NextRaise is when the rate rises a step if no 429 comes first
	// (zero at Max).
	NextRaise time.Time
}

// Lowered reports whether voicehook calls the base slower than configured.
func (p Pace) Lowered() bool { return p.PerSecond < p.Max }

// Reason says why the pace is lower than configured, or the base silent,
// in a sentence for operators; "" when neither.
func (p Pace) Reason() string {
	var parts []string
	if p.Lowered() {
		parts = append(parts, fmt.Sprintf("lowered after Airtable answered 429 (rate limit) %d times; the base is shared with other scripts, or the workspace is over its plan's monthly API calls. Rises by %.2g/s after each %s without a 429 (next %s UTC)",
			p.Throttles, paceStep, paceQuiet, p.NextRaise.UTC().Format(time.TimeOnly)))
	}
	if !p.SilentUntil.IsZero() {
		parts = append(parts, fmt.Sprintf("silent until %s UTC after a 429", p.SilentUntil.UTC().Format(time.TimeOnly)))
	}
	return strings.Join(parts, "; ")
}

// String is the pace and its reason.
func (p Pace) String() string {
	s := fmt.Sprintf("%.2g of %.2g requests/s", p.PerSecond, p.Max)
	if r := p.Reason(); r != "" {
		s += ": " + r
	}
	return s
}

func (p *pace) status(now, silentUntil time.Time) Pace {
	out := Pace{PerSecond: p.rate, Max: p.max, Throttles: p.throttles}
	if now.Before(silentUntil) {
		out.SilentUntil = silentUntil
	}
	if p.rate < p.max {
		out.NextRaise = p.lastThrottle.Add(paceQuiet)
		if next := p.changed.Add(paceQuiet); next.After(out.NextRaise) {
			out.NextRaise = next
		}
	}
	return out
}
