package airtable

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/voicehooktest"
)

// TestPace: the rate halves on each 429 that repeats one within
// paceMemory (not below paceFloor), and rises by paceStep after each
// quiet period back to the configured rate.
func TestPace(t *testing.T) {
	t.Parallel()
	type step struct {
		after     time.Duration // since the previous step
		throttled bool          // a 429, else a tick
		want      float64
	}
	tests := []struct {
		name  string
		max   float64
		steps []step
	}{
		{"one 429 alone changes nothing", 4, []step{
			{0, true, 4}, {paceMemory, true, 4}, {paceMemory + time.Second, true, 4}}},
		{"repeated 429s halve down to the floor", 4, []step{
			{0, true, 4}, {time.Minute, true, 2}, {time.Minute, true, 1}, {time.Minute, true, 0.5}, {time.Minute, true, 0.5}}},
		{"quiet periods add a step each", 4, []step{
			{0, true, 4}, {time.Second, true, 2},
			{paceQuiet - time.Second, false, 2}, // not quiet long enough yet
			{time.Second, false, 2.5},
			{time.Second, false, 2.5}, // one step per quiet period
			{paceQuiet, false, 3}, {paceQuiet, false, 3.5}, {paceQuiet, false, 4}, {paceQuiet, false, 4}}},
		{"a 429 while rising halves again", 4, []step{
			{0, true, 4}, {time.Second, true, 2}, {paceQuiet, false, 2.5}, {time.Minute, true, 1.25},
			{time.Minute, false, 1.25}, {paceQuiet - time.Minute, false, 1.75}}},
		{"a configured rate under the floor stays", 0.3, []step{
			{0, true, 0.3}, {time.Second, true, 0.3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPace(tt.max)
			now := voicehooktest.T0
			var got, want []float64
			for _, s := range tt.steps {
				now = now.Add(s.after)
				if s.throttled {
					p.throttled(now)
				} else {
					p.tick(now)
				}
				got, want = append(got, p.rate), append(want, s.want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rate after each step (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGateLowersRateOn429s: through the client, repeated 429s lower the
// limiter's rate and say so in the log and in Pace; a quiet period (by the
// fake clock) raises it again. 429s to requests in flight together count
// once.
func TestGateLowersRateOn429s(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	clock := voicehooktest.NewClock()
	var logs bytes.Buffer
	var mu sync.Mutex
	cfg := testConfig(emu, clock)
	cfg.RequestsPerSecond = 4
	cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	c := NewClient(cfg)
	ctx := context.Background()
	// throttle: Airtable answers 429, and inFlight more requests sent
	// before it answer 429 too, as the client's send sees them.
	throttle := func(inFlight int) {
		t.Helper()
		emu.FailNext(1, 429)
		if _, err := c.List(ctx, "Jobs", ListQuery{}); err == nil {
			t.Fatal("the 429 was not returned")
		}
		for range inFlight {
			c.gate.rateLimited()
		}
		clock.Advance(40 * time.Second) // past the silence
	}

	throttle(0)
	if p := c.Pace(); p.Lowered() || p.PerSecond != 4 {
		t.Fatalf("after one 429: %+v, want 4/s", p)
	}
	throttle(0)
	p := c.Pace()
	if p.PerSecond != 2 || p.Throttles != 2 || !p.Lowered() || float64(c.gate.lim.Limit()) != 2 {
		t.Fatalf("after a second 429: %+v (limiter %v), want 2/s", p, c.gate.lim.Limit())
	}
	if !strings.Contains(p.String(), "2 of 4 requests/s: lowered after Airtable answered 429 (rate limit) 2 times") {
		t.Errorf("pace says %q", p)
	}
	mu.Lock()
	if !strings.Contains(logs.String(), `level=WARN msg="airtable keeps answering 429 (rate limit); voicehook lowers its request rate`) ||
		!strings.Contains(logs.String(), "from_per_second=4 to_per_second=2") {
		t.Errorf("log:\n%s", logs.String())
	}
	mu.Unlock()
	// Three requests in flight answered 429 together: one episode.
	throttle(2)
	if p := c.Pace(); p.PerSecond != 1 || p.Throttles != 3 {
		t.Fatalf("after three 429s at once: %+v, want 1/s after 3 throttles", p)
	}

	clock.Advance(paceQuiet)
	if _, err := c.List(ctx, "Jobs", ListQuery{}); err != nil {
		t.Fatal(err)
	}
	if p := c.Pace(); p.PerSecond != 1.5 || float64(c.gate.lim.Limit()) != 1.5 {
		t.Fatalf("after a quiet period: %+v, want 1.5/s", p)
	}
	mu.Lock()
	if !strings.Contains(logs.String(), `level=INFO msg="airtable quiet; voicehook raises its request rate" from_per_second=1 to_per_second=1.5`) {
		t.Errorf("log:\n%s", logs.String())
	}
	mu.Unlock()
}
