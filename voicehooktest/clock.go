// Package voicehooktest is the shared test kit: one fake clock, audio
// fixtures, and the contract suites every Storage and Records backend
// passes (RunStorage, RunRecords), in the manner of River's shared driver
// suite.
package voicehooktest

import (
	"sync"
	"time"
)

// T0 is the time a new Clock starts at. It has microsecond precision, as
// the stores keep times.
var T0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// Clock is a voicehook.Clock whose time only the test moves. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at T0.
func NewClock() *Clock { return &Clock{now: T0} }

// NewClockAt returns a clock at t.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}
