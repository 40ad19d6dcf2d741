package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
)

// TestDemo runs the README's first command: both ways a job finishes, with
// no network and no accounts.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, &out, &errs); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errs.String())
	}
	for _, want := range []string{
		`3\. segment demo-segment-1: voiceover_ready`,
		`4\. job job_\S+: completed`,
		`not processed twice`,
		`6\. job job_\S+: completed — ElevenLabs request req_\d+, \d+ characters`,
		`captions:   http://\S+\.vtt`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
