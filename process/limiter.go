package process

import (
	"context"
	"sync"
)

// Limiter bounds the ElevenLabs requests in flight in this process: at most
// the configured --elevenlabs-concurrency, and never more than the plan's
// maximum-concurrent-requests once a reply has said it. (The queue's width
// is the configured number; the limiter adds the plan's word.)
type Limiter struct {
	mu       sync.Mutex
	limit    int
	inFlight int
	freed    chan struct{} // closed and replaced whenever a slot frees
}

// NewLimiter allows n requests at once (at least 1).
func NewLimiter(n int) *Limiter {
	return &Limiter{limit: max(n, 1), freed: make(chan struct{})}
}

// Acquire waits for a slot, or for ctx to end.
func (l *Limiter) Acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.inFlight < l.limit {
			l.inFlight++
			l.mu.Unlock()
			return nil
		}
		wait := l.freed
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
	}
}

// Release frees a slot taken by Acquire.
func (l *Limiter) Release() {
	l.mu.Lock()
	l.inFlight--
	close(l.freed)
	l.freed = make(chan struct{})
	l.mu.Unlock()
}

// Observe lowers the limit to the plan's maximum a reply announced (0:
// not announced). It never raises it above the configured number.
func (l *Limiter) Observe(planMax int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if planMax > 0 && planMax < l.limit {
		l.limit = planMax
	}
}

// Limit is the number of requests now allowed at once.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}
