package process

import (
	"strings"
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

func TestObjectKey(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("ab", 32)
	byHash := "segments/s_" + sha[:16] + "/" + sha + ".mp3"
	cases := []struct{ segment, want string }{
		{"scene-12", "segments/scene-12/" + sha + ".mp3"},
		{"recA1b2C3", "segments/recA1b2C3/" + sha + ".mp3"},
		{"a b/c", "segments/a_b_c/" + sha + ".mp3"},
		// A leading dot would make a hidden or relative path segment.
		{"../../etc/passwd", byHash},
		{"", byHash},
		{strings.Repeat("x", 101), byHash},
	}
	for _, c := range cases {
		if got := objectKey(c.segment, sha, "mp3"); got != c.want {
			t.Errorf("objectKey(%q) = %q, want %q", c.segment, got, c.want)
		}
	}
}
