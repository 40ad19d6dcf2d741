package web

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

// TestAckedReportsEachAcknowledgement: the ack-latency signal behind
// --ack-target gets one report per acknowledged delivery (its time from
// request to answer), and none for one that was not acknowledged.
func TestAckedReportsEachAcknowledgement(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []time.Duration
	fail := false
	hs := newHookServer(t, func(s *Server) {
		s.Acked = func(d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, d)
		}
		ingest := s.Ingest
		s.Ingest = func(ctx context.Context, ev voicehook.NewEvent) voicehook.IngestResult {
			if fail {
				return voicehook.IngestResult{Err: voicehook.ErrUnavailable}
			}
			return ingest(ctx, ev)
		}
	})
	for i, body := range [][]byte{[]byte(`{"status":"completed","n":1}`), []byte(`{"status":"completed","n":2}`)} {
		if w := hs.post("", "", elevenlabs.Sign(hookSecret, testNow, body), bytes.NewReader(body), int64(len(body))); w.Code != 200 {
			t.Fatalf("delivery %d: %d %s", i, w.Code, w.Body.String())
		}
	}
	fail = true
	body := []byte(`{"status":"completed","n":3}`)
	if w := hs.post("", "", elevenlabs.Sign(hookSecret, testNow, body), bytes.NewReader(body), int64(len(body))); w.Code != 503 {
		t.Fatalf("delivery with the store down: %d; want 503", w.Code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("Acked called %d times (%v); want 2, once per acknowledged delivery", len(got), got)
	}
}
