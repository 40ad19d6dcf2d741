// Package fetch downloads and saves the audio a callback points to, safely:
// only http(s), never to loopback, private or cloud-metadata addresses
// (checked on the address actually dialled, for every redirect hop), never
// more than a size limit, never without checking the bytes are audio. It
// also measures the audio's length (MP3, WAV, Ogg, FLAC).
//
// Its errors follow voicehook's classes: what a retry may fix (network
// trouble, timeouts, 408, 425, 429, 5xx) is a plain error; what it cannot
// (4xx, forbidden address, bad URL, a host that never resolves, too
// large, not audio) is a voicehook.PermanentError. No error quotes a URL's
// query string, userinfo or fragment: signed audio URLs carry tokens there.
package fetch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/voicehook/voicehook"
)

// Defaults for a zero Fetcher.
const (
	DefaultTimeout      = 2 * time.Minute
	DefaultMaxRedirects = 5
	DefaultUserAgent    = "voicehook"
)

// Fetcher downloads audio over HTTP(S). The zero value is ready to use with
// the defaults.
type Fetcher struct {
	// AllowPrivate turns off the address check (loopback, private,
	// link-local, metadata… — see CheckAddr), for audio served on the
	// operator's own network, and for tests.
	AllowPrivate bool
	// MaxBytes is the size limit (DefaultMaxBytes if <= 0).
	MaxBytes int64
	// Timeout bounds the whole download, body included (DefaultTimeout if
	// <= 0).
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed (DefaultMaxRedirects
	// if 0; none if negative).
	MaxRedirects int
	// UserAgent is sent with every request (DefaultUserAgent if empty).
	UserAgent string
	// Temp, if set, bounds the bytes that downloads (and Fetcher.Save) may
	// hold in the temp folder: see TempDir.MaxBytes.
	Temp *TempDir
	// WrapTransport, if set, wraps each download's transport (voicehook's
	// tracing: a client span and the W3C traceparent header). The wrapper
	// must pass CloseIdleConnections on: every download closes its own.
	WrapTransport func(http.RoundTripper) http.RoundTripper

	// dialCheck replaces checkDial in tests, which can only reach loopback
	// and so tell hops apart by port.
	dialCheck func(network, address string, c syscall.RawConn) error
}

// Download fetches rawURL into a new file in dir (see Save) and returns it
// checked: sniffed as audio, hashed, measured. The caller owns the file and
// removes it when done; on error no file is left behind.
func (f *Fetcher) Download(ctx context.Context, rawURL, dir string) (File, error) {
	u, err := parseAudioURL(rawURL)
	if err != nil {
		return File{}, err
	}
	where := redact(u)
	maxBytes := f.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	maxRedirects := f.MaxRedirects
	switch {
	case maxRedirects == 0:
		maxRedirects = DefaultMaxRedirects
	case maxRedirects < 0:
		maxRedirects = 0
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := f.newClient(maxRedirects)
	defer client.CloseIdleConnections()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return File{}, voicehook.Permanent("audio URL is not valid", fmt.Errorf("%s: cannot build a request", where))
	}
	req.Header.Set("User-Agent", cmp.Or(f.UserAgent, DefaultUserAgent))
	req.Header.Set("Accept", "audio/*, */*;q=0.1")

	resp, err := client.Do(req)
	if err != nil {
		return File{}, requestError(ctx, err, where, timeout)
	}
	defer resp.Body.Close()
	if final := redact(resp.Request.URL); final != where {
		where += " (redirected to " + final + ")"
	}
	if err := checkStatus(resp, where); err != nil {
		return File{}, err
	}
	if resp.ContentLength > maxBytes {
		return File{}, tooLarge(maxBytes, fmt.Errorf("%s: Content-Length %d: %w", where, resp.ContentLength, ErrTooLarge))
	}

	file, err := save(resp.Body, dir, maxBytes, serverSaid(resp), f.Temp)
	if err != nil {
		if !voicehook.IsPermanent(err) && ctx.Err() != nil {
			return File{}, requestError(ctx, err, where, timeout)
		}
		return File{}, withURL(err, where)
	}
	return file, nil
}

// checkStatus classifies a non-2xx answer: 408, 425, 429 and 5xx may pass,
// other statuses will not.
func checkStatus(resp *http.Response, where string) error {
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests, code >= 500:
		return fmt.Errorf("download %s: HTTP %s", where, resp.Status)
	default:
		return voicehook.Permanent(fmt.Sprintf("audio download failed with HTTP %d", code),
			fmt.Errorf("%s: %s", where, resp.Status))
	}
}

// requestError classifies an error from sending the request or reading the
// body. *url.Error is taken apart because its message quotes the whole URL.
func requestError(ctx context.Context, err error, where string, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
		// ue.URL is the hop that failed; name it if it is not the first.
		if u, perr := url.Parse(ue.URL); perr == nil && redact(u) != where {
			where += " (redirected to " + redact(u) + ")"
		}
	}
	var pe *voicehook.PermanentError
	if errors.As(err, &pe) { // from checkRedirect
		return err
	}
	if errors.Is(err, ErrForbiddenAddress) {
		return voicehook.Permanent(privateAddressReason, fmt.Errorf("%s: %w", where, err))
	}
	if perr, ok := notFoundError(err, where); ok {
		return perr
	}
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return fmt.Errorf("download %s: no complete answer within %s: %w", where, timeout, context.DeadlineExceeded)
	case context.Canceled:
		return fmt.Errorf("download %s: %w", where, context.Canceled)
	}
	return fmt.Errorf("download %s: %w", where, err)
}

// checkRedirect follows at most max redirects, each to a URL that Download
// would accept on its own. The address of every hop is checked when it is
// dialled, by the same dialer.
func checkRedirect(max int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		from := redact(via[len(via)-1].URL)
		if len(via) > max {
			return voicehook.Permanent("audio URL redirects too many times",
				fmt.Errorf("%s: more than %d redirects", redact(via[0].URL), max))
		}
		if err := checkURL(req.URL); err != nil {
			return voicehook.Permanent("audio URL redirects to an unusable URL",
				fmt.Errorf("%s redirected to %s: %w", from, redact(req.URL), err))
		}
		// The client would tell the next host the previous URL, query
		// string (and so its token) included.
		req.Header.Del("Referer")
		return nil
	}
}

// withURL adds where to an error from save, keeping its class and reason.
func withURL(err error, where string) error {
	var pe *voicehook.PermanentError
	if errors.As(err, &pe) {
		inner := pe.Err
		if inner == nil {
			inner = errors.New("no detail")
		}
		return voicehook.Permanent(pe.Reason, fmt.Errorf("%s: %w", where, inner))
	}
	return fmt.Errorf("download %s: %w", where, err)
}

// serverSaid notes the Content-Type the server claimed, for the not-audio
// message.
func serverSaid(resp *http.Response) string {
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		return ", server sent no Content-Type"
	}
	if len(ct) > 80 {
		ct = ct[:80] + "…"
	}
	return fmt.Sprintf(", server said Content-Type %q", ct)
}
