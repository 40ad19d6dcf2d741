package elevenlabs_test

import (
	"net/http"
	"sync/atomic"
	"testing"
)

type countingTransport struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// TestStudioWrapTransport: with CheckAddr set the stream builds a transport
// of its own; WrapTransport still sees every request, redirects included
// (tracing puts a client span and traceparent there).
func TestStudioWrapTransport(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)
	st.CheckAddr = loopbackOnly
	var n atomic.Int64
	st.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, &n} }
	alt, _ := otherHosts(t, em)
	em.RedirectNext(http.StatusFound, alt)
	rc, err := st.Stream(t.Context(), projectSnap)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	readAll(t, rc)
	if got := n.Load(); got != 2 {
		t.Fatalf("%d requests went through the wrapper; want 2 (the API, then the redirect)", got)
	}
}
