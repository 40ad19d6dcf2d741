package s3

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/voicehook/voicehook/voicehooktest"
)

type countingTransport struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// TestWrapTransport: every request to the bucket goes through the wrapper
// (tracing puts a client span and traceparent there).
func TestWrapTransport(t *testing.T) {
	t.Parallel()
	f := newFakeS3(t)
	var n atomic.Int64
	cfg := f.config()
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, &n} }
	s := f.storageFor(t, cfg)
	obj := voicehooktest.AudioFile(t, "", "segments/seg/abc.mp3", []byte("0123456789abcdef"))
	if _, err := s.Put(context.Background(), obj); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n.Load() == 0 {
		t.Fatal("no request went through the wrapped transport")
	}
}
