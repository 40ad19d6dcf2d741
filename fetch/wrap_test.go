package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// headerTransport stands in for tracing's wrapper: it adds a header to
// every request and forwards CloseIdleConnections.
type headerTransport struct {
	next   http.RoundTripper
	closed *atomic.Int64
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	return h.next.RoundTrip(r)
}

func (h headerTransport) CloseIdleConnections() {
	h.closed.Add(1)
	h.next.(interface{ CloseIdleConnections() }).CloseIdleConnections()
}

// WrapTransport wraps every download's transport (tracing sends the
// traceparent through it), and the download still closes its connections
// through the wrapper.
func TestDownloadThroughWrappedTransport(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Traceparent")
		w.Write(testMP3)
	}))
	t.Cleanup(srv.Close)
	var closed atomic.Int64
	f := Fetcher{AllowPrivate: true, WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
		return headerTransport{next: rt, closed: &closed}
	}}
	file, err := f.Download(context.Background(), srv.URL+"/a.mp3", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if file.Bytes != int64(len(testMP3)) {
		t.Errorf("downloaded %d bytes, want %d", file.Bytes, len(testMP3))
	}
	if h := <-got; h != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Errorf("traceparent = %q: the wrapper was not used", h)
	}
	if closed.Load() != 1 {
		t.Errorf("CloseIdleConnections reached the wrapper %d times, want 1", closed.Load())
	}
}
