package sqlstore

import (
	"testing"
	"time"
)

func TestRetryDelayDoublesWithJitterUpToMax(t *testing.T) {
	t.Parallel()
	p := &retryPolicy{base: time.Second, max: 10 * time.Second}
	cases := []struct {
		failures int
		full     time.Duration // the delay before jitter
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{4, 8 * time.Second}, {5, 10 * time.Second}, {50, 10 * time.Second},
	}
	for _, c := range cases {
		for range 200 {
			d := p.delay(c.failures)
			if d < c.full/2 || d > c.full {
				t.Fatalf("delay(%d) = %s, want within [%s, %s]", c.failures, d, c.full/2, c.full)
			}
		}
	}
}
