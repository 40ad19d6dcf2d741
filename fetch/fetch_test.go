package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// Every test here talks only to an httptest server on 127.0.0.1.

var testMP3 = audiotest.MP3WithID3(3 * time.Second)

// newAudioServer serves testMP3 and the failure modes Download must
// classify. It closes when the calling test and its subtests are done.
func newAudioServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/audio.mp3", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(testMP3)))
		w.Write(testMP3)
	})
	mux.HandleFunc("/chunked.mp3", func(w http.ResponseWriter, r *http.Request) {
		// Flushing before the end leaves out Content-Length.
		w.Header().Set("Content-Type", "audio/mpeg")
		for chunk := range slices(testMP3, 4096) {
			w.Write(chunk)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		http.Error(w, "nope", code)
	})
	mux.HandleFunc("/page.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>Sign in</title>")
	})
	mux.HandleFunc("/slow-headers", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write(testMP3[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			http.Redirect(w, r, "/audio.mp3?sig=s3cr3t", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/redirect/%d?sig=s3cr3t", n-1), http.StatusFound)
	})
	mux.HandleFunc("/redirect-to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func slices(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

func TestDownload(t *testing.T) {
	t.Parallel()
	srv := newAudioServer(t)
	want := File{
		Bytes:       int64(len(testMP3)),
		SHA256:      sha256Hex(testMP3),
		ContentType: "audio/mpeg",
		Format:      FormatMP3,
		DurationMS:  mp3DurationMS(3 * time.Second),
	}
	tests := []struct {
		name string
		f    Fetcher
		path string
	}{
		{"plain", Fetcher{AllowPrivate: true}, "/audio.mp3?token=abc"},
		{"chunked", Fetcher{AllowPrivate: true}, "/chunked.mp3"},
		{"exactly MaxBytes", Fetcher{AllowPrivate: true, MaxBytes: int64(len(testMP3))}, "/audio.mp3"},
		{"five redirects by default", Fetcher{AllowPrivate: true}, "/redirect/4"},
		{"two redirects allowed", Fetcher{AllowPrivate: true, MaxRedirects: 2}, "/redirect/1"},
		{"no redirects needed", Fetcher{AllowPrivate: true, MaxRedirects: -1}, "/audio.mp3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			got, err := tt.f.Download(context.Background(), srv.URL+tt.path, dir)
			if err != nil {
				t.Fatalf("Download: %v", err)
			}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(File{}, "Path")); diff != "" {
				t.Errorf("Download (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(got.Path, dir) {
				t.Errorf("Path %q not in %q", got.Path, dir)
			}
		})
	}
}

func TestDownloadUserAgent(t *testing.T) {
	t.Parallel()
	agents := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agents <- r.UserAgent()
		w.Write(testMP3)
	}))
	t.Cleanup(srv.Close)
	for _, f := range []Fetcher{{AllowPrivate: true}, {AllowPrivate: true, UserAgent: "pipeline/2"}} {
		if _, err := f.Download(context.Background(), srv.URL, t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	got := []string{<-agents, <-agents}
	if diff := cmp.Diff([]string{DefaultUserAgent, "pipeline/2"}, got); diff != "" {
		t.Errorf("User-Agent (-want +got):\n%s", diff)
	}
}

func TestDownloadFails(t *testing.T) {
	t.Parallel()
	srv := newAudioServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	private := Fetcher{AllowPrivate: true}
	tests := []struct {
		name string
		f    Fetcher
		url  string
		// wantReason is the permanent error's reason; "" means the error
		// must be transient.
		wantReason string
		wantIs     error
		// wantIn must appear in the message.
		wantIn string
	}{
		{"503 is transient", private, srv.URL + "/status/503", "", nil, "HTTP 503 Service Unavailable"},
		{"500 is transient", private, srv.URL + "/status/500", "", nil, "HTTP 500"},
		{"429 is transient", private, srv.URL + "/status/429", "", nil, "HTTP 429 Too Many Requests"},
		{"408 is transient", private, srv.URL + "/status/408", "", nil, "HTTP 408"},
		{"425 is transient", private, srv.URL + "/status/425", "", nil, "HTTP 425"},
		{"404 is permanent", private, srv.URL + "/status/404", "audio download failed with HTTP 404", nil, "404 Not Found"},
		{"403 is permanent", private, srv.URL + "/status/403", "audio download failed with HTTP 403", nil, "403 Forbidden"},
		{"410 is permanent", private, srv.URL + "/status/410", "audio download failed with HTTP 410", nil, "410 Gone"},
		{"html is not audio", private, srv.URL + "/page.html", "not audio", ErrNotAudio,
			`starts with 3c21646f63747970652068746d6c3e3c ("<!doctype html><"), server said Content-Type "text/html; charset=utf-8"`},
		{"too large by Content-Length", Fetcher{AllowPrivate: true, MaxBytes: 1000}, srv.URL + "/audio.mp3",
			"audio larger than 1000 bytes", ErrTooLarge, "Content-Length"},
		{"too large while streaming", Fetcher{AllowPrivate: true, MaxBytes: 1000}, srv.URL + "/chunked.mp3",
			"audio larger than 1000 bytes", ErrTooLarge, "over the size limit"},
		{"slow headers time out", Fetcher{AllowPrivate: true, Timeout: 200 * time.Millisecond}, srv.URL + "/slow-headers",
			"", context.DeadlineExceeded, "no complete answer within 200ms"},
		{"slow body times out", Fetcher{AllowPrivate: true, Timeout: 300 * time.Millisecond}, srv.URL + "/slow-body",
			"", context.DeadlineExceeded, "no complete answer within 300ms"},
		{"too many redirects by default", private, srv.URL + "/redirect/5",
			"audio URL redirects too many times", nil, "more than 5 redirects"},
		{"too many redirects for MaxRedirects", Fetcher{AllowPrivate: true, MaxRedirects: 2}, srv.URL + "/redirect/2",
			"audio URL redirects too many times", nil, "more than 2 redirects"},
		{"no redirects at all", Fetcher{AllowPrivate: true, MaxRedirects: -1}, srv.URL + "/redirect/0",
			"audio URL redirects too many times", nil, "more than 0 redirects"},
		{"redirect to ftp", private, srv.URL + "/redirect-to?to=ftp://" + host + "/a.mp3",
			"audio URL redirects to an unusable URL", nil, `scheme "ftp"`},
		{"redirect to a URL with a password", private, srv.URL + "/redirect-to?to=http://u:pa55@" + host + "/audio.mp3",
			"audio URL redirects to an unusable URL", nil, "user name or password"},

		{"ftp", private, "ftp://" + host + "/a.mp3", "audio URL is not http or https", nil, `scheme "ftp"`},
		{"file", private, "file:///etc/passwd", "audio URL is not http or https", nil, `scheme "file"`},
		{"no scheme", private, host + "/audio.mp3", "audio URL is not valid", nil, ""},
		{"relative", private, "/audio.mp3", "audio URL is not http or https", nil, `scheme ""`},
		{"userinfo", private, "http://user:pa55@" + host + "/audio.mp3",
			"audio URL contains a user name or password", nil, ""},
		{"no host", private, "http:///audio.mp3", "audio URL has no host", nil, ""},
		{"unparsable", private, "http://" + host + "/a b\x7f?token=s3cr3t", "audio URL is not valid", nil, ""},

		// The address policy, checked when dialling: the loopback server is
		// refused as soon as AllowPrivate is off, with no traffic sent.
		{"loopback refused", Fetcher{}, srv.URL + "/audio.mp3?token=s3cr3t",
			privateAddressReason, ErrForbiddenAddress, "127.0.0.1 is forbidden (loopback)"},
		{"IPv4-mapped loopback refused", Fetcher{}, "http://[::ffff:127.0.0.1]:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:] + "/audio.mp3",
			privateAddressReason, ErrForbiddenAddress, "(loopback)"},
		{"IPv6 loopback refused", Fetcher{}, "http://[::1]:9/audio.mp3",
			privateAddressReason, ErrForbiddenAddress, "::1 is forbidden (loopback)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			_, err := tt.f.Download(context.Background(), tt.url, dir)
			if err == nil {
				t.Fatal("Download succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if tt.wantReason == "" {
				if voicehook.IsPermanent(err) {
					t.Errorf("error %q is permanent, want transient", err)
				}
			} else {
				assertPermanent(t, err, tt.wantReason)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %v", err, tt.wantIs)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantIn) {
				t.Errorf("error %q does not contain %q", msg, tt.wantIn)
			}
			for _, secret := range []string{"s3cr3t", "pa55", "passwd"} {
				if strings.Contains(msg, secret) && !strings.Contains(tt.url, "/etc/"+secret) {
					t.Errorf("error %q leaks %q", msg, secret)
				}
			}
			assertEmptyDir(t, dir)
		})
	}
}

// Errors name the URL without its query string, which may carry a token.
func TestDownloadRedactsURL(t *testing.T) {
	t.Parallel()
	srv := newAudioServer(t)
	f := Fetcher{AllowPrivate: true}
	_, err := f.Download(context.Background(), srv.URL+"/status/404?X-Amz-Signature=s3cr3t#frag", t.TempDir())
	want := "audio download failed with HTTP 404: " + srv.URL + "/status/404: 404 Not Found"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	_, err = f.Download(context.Background(), srv.URL+"/redirect-to?to=/status/503%3Fsig%3Ds3cr3t", t.TempDir())
	want = "download " + srv.URL + "/redirect-to (redirected to " + srv.URL + "/status/503): HTTP 503 Service Unavailable"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

// A cancelled caller (shutdown) is transient, not a timeout.
func TestDownloadCancelled(t *testing.T) {
	t.Parallel()
	srv := newAudioServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	f := Fetcher{AllowPrivate: true}
	_, err := f.Download(ctx, srv.URL+"/slow-headers", t.TempDir())
	if !errors.Is(err, context.Canceled) || voicehook.IsPermanent(err) {
		t.Fatalf("Download = %v, want a transient error wrapping context.Canceled", err)
	}
}

// Every redirect hop is dialled through the same address check. Both test
// servers are on 127.0.0.1, so the check used here tells them apart by port:
// the first is "allowed", the second "forbidden".
func TestDownloadChecksEveryRedirectHop(t *testing.T) {
	t.Parallel()
	inside := newAudioServer(t)
	outside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL+"/audio.mp3?sig=s3cr3t", http.StatusFound)
	}))
	t.Cleanup(outside.Close)
	insideHost := strings.TrimPrefix(inside.URL, "http://")
	f := Fetcher{dialCheck: func(network, address string, _ syscall.RawConn) error {
		if address == insideHost {
			return &AddressError{Addr: netip.MustParseAddr("127.0.0.1"), Reason: "pretend private"}
		}
		return nil
	}}
	_, err := f.Download(context.Background(), outside.URL+"/start", t.TempDir())
	assertPermanent(t, err, privateAddressReason)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("error %v does not wrap ErrForbiddenAddress", err)
	}
	want := privateAddressReason + ": " + outside.URL + "/start (redirected to " +
		inside.URL + "/audio.mp3): dial tcp " + insideHost + ": address 127.0.0.1 is forbidden (pretend private)"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

// A redirect does not pass the previous URL, token included, on as Referer.
func TestDownloadSendsNoReferer(t *testing.T) {
	t.Parallel()
	referers := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		referers <- r.Referer()
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/audio.mp3", http.StatusFound)
			return
		}
		w.Write(testMP3)
	}))
	t.Cleanup(srv.Close)
	f := Fetcher{AllowPrivate: true}
	if _, err := f.Download(context.Background(), srv.URL+"/start?token=s3cr3t", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	got := []string{<-referers, <-referers}
	if diff := cmp.Diff([]string{"", ""}, got); diff != "" {
		t.Errorf("Referer headers (-want +got):\n%s", diff)
	}
}
