package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

// TestWebhookAckTimeout: a delivery whose commit does not come within
// AckTimeout is answered 503 with Retry-After, at the deadline, instead of
// waiting for the store.
func TestWebhookAckTimeout(t *testing.T) {
	t.Parallel()
	hs := newHookServer(t, func(s *Server) {
		s.AckTimeout = 100 * time.Millisecond
		s.Ingest = func(ctx context.Context, ev voicehook.NewEvent) voicehook.IngestResult {
			select { // a commit that never comes
			case <-ctx.Done():
				return voicehook.IngestResult{Err: ctx.Err()}
			case <-time.After(10 * time.Second):
				return voicehook.IngestResult{Err: errors.New("Ingest's ctx had no deadline")}
			}
		}
	})
	body := []byte(`{"type":"post_call_audio","data":{"conversation_id":"c1"}}`)
	w := hs.post("", "", elevenlabs.Sign(hookSecret, testNow, body), bytes.NewReader(body), int64(len(body)))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("delivery past --ack-timeout: %d Retry-After=%q %s, want 503 with Retry-After: 1", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}

// TestReadyFailsWhileWriterStuck: /readyz fails while the writer's commit
// has run longer than AckTimeout, though the store answers pings, and is
// ready again once the commit ends.
func TestReadyFailsWhileWriterStuck(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "", "")
	running := time.Duration(0)
	ts.srv.AckTimeout = 5 * time.Second
	ts.srv.WriterRunning = func() time.Duration { return running }
	for _, c := range []struct {
		running time.Duration
		want    int
	}{
		{0, 200},               // idle
		{4 * time.Second, 200}, // a slow commit, within the deadline
		{6 * time.Second, 503}, // stuck
		{0, 200},               // committed (or failed) at last
	} {
		running = c.running
		if w := ts.do("GET", "/readyz", reqOpts{}); w.Code != c.want {
			t.Fatalf("/readyz with a commit running %s: %d %s, want %d", c.running, w.Code, w.Body, c.want)
		}
	}
}
