package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCallbackURLCommand: a pipeline that creates its jobs elsewhere gets a
// segment's callback URL from `voicehook callback-url`, before the segment
// has a job; it is the URL the job later carries, and a delivery to it is
// accepted while the same delivery without the token is not.
func TestCallbackURLCommand(t *testing.T) {
	t.Parallel()
	h := setup(t, "")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"callback-url", "--server", h.base, "--segment-id", "scene 12"}, &out, &errb); err != nil {
		t.Fatalf("callback-url: %v (%s)", err, errb.String())
	}
	url := strings.TrimSpace(out.String())
	if !strings.HasPrefix(url, h.base+"/webhooks/elevenlabs?segment_id=scene+12&token=") || strings.Contains(url, `\u0026`) {
		t.Fatalf("callback-url printed %q", url)
	}
	if job := h.createJob("scene 12", ""); job.CallbackURL != url {
		t.Fatalf("job's callback_url %q, command printed %q", job.CallbackURL, url)
	}
	body := seedCompleted(h.src.url("s.mp3"))
	var a ack
	if code := h.do("POST", strings.TrimPrefix(url, h.base), nil, body, &a); code != 200 {
		t.Fatalf("delivery to the callback URL: %d %+v", code, a)
	}
	if err := run(context.Background(), []string{"callback-url", "--server", h.base}, &out, &errb); err == nil || !strings.Contains(err.Error(), "--segment-id") {
		t.Fatalf("without --segment-id: %v", err)
	}
}
