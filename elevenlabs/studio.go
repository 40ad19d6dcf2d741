package elevenlabs

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/voicehook/voicehook"
)

// DefaultBaseURL is the ElevenLabs API.
const DefaultBaseURL = "https://api.elevenlabs.io"

// Studio fetches the audio of finished Studio conversions (the
// project_conversion_status / chapter_conversion_status callbacks carry only
// ids, not audio).
type Studio struct {
	// BaseURL defaults to DefaultBaseURL; tests point it at the emulator.
	BaseURL string
	// APIKey is sent as xi-api-key. It never appears in errors.
	APIKey string
	// HTTP defaults to http.DefaultClient. Bound each call with ctx: the
	// audio can be large, so a whole-request client timeout is the caller's
	// choice, not ours.
	HTTP *http.Client
	// CheckAddr, if set, judges the address of every connection to a host
	// other than BaseURL's, which only a redirect leads to (see
	// MaxRedirects); a refusal fails the stream permanently. voicehook
	// passes fetch.CheckAddr, the rule audio downloads follow, unless
	// --fetch-allow-private. BaseURL's own host is the operator's choice
	// and is not judged. With CheckAddr set, the client's Transport is
	// replaced by one that applies it (HTTP's timeout still holds).
	CheckAddr func(netip.Addr) error

	trOnce sync.Once
	tr     http.RoundTripper
	// WrapTransport, if set, wraps the transport the audio stream builds
	// for itself when CheckAddr is set (tracing: HTTP's own transport is
	// replaced then).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// APIError is a non-2xx reply from ElevenLabs. Transient ones (408, 429, 5xx)
// are returned wrapped in a plain error, so the processor can errors.As them
// for RetryAfter; other statuses become voicehook.PermanentError.
type APIError struct {
	StatusCode int
	// Code is ElevenLabs' detail.status, e.g. "invalid_api_key".
	Code    string
	Message string
	// RetryAfter is the reply's Retry-After, zero if absent.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("ElevenLabs answered HTTP %d", e.StatusCode)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Stream starts streaming the MP3 audio of a Studio snapshot: the chapter
// snapshot when snap names a chapter, else the project snapshot. The caller
// closes the reader. Errors are transient unless they wrap a
// voicehook.PermanentError (bad ids, missing key, 4xx other than 408/429).
func (s *Studio) Stream(ctx context.Context, snap voicehook.StudioSnapshot) (io.ReadCloser, error) {
	body, err := s.stream(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("streaming studio snapshot: %w", err)
	}
	return body, nil
}

func (s *Studio) stream(ctx context.Context, snap voicehook.StudioSnapshot) (io.ReadCloser, error) {
	key := strings.TrimSpace(s.APIKey)
	if key == "" {
		return nil, voicehook.Permanent("no ElevenLabs API key to fetch Studio audio with: set --elevenlabs-api-key", nil)
	}
	endpoint, err := s.endpoint(snap)
	if err != nil {
		return nil, err
	}
	// The snapshot streams in its stored format unless convert_to_mpeg asks
	// for MP3, which is what the rest of the pipeline expects.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(`{"convert_to_mpeg":true}`))
	if err != nil {
		return nil, voicehook.Permanent("building the Studio request", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "audio/mpeg")
	req.Header.Set("xi-api-key", key)

	resp, err := s.streamClient(req.URL).Do(req)
	if err != nil {
		// Network errors, timeouts and cancellations are worth a retry;
		// too many redirects, or one to a refused address, are not.
		return nil, requestError(err, req.URL)
	}
	// After a redirect, an error is the other host's, not a verdict on the
	// key.
	redirected := origin(resp.Request.URL) != origin(req.URL)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if ct := resp.Header.Get("Content-Type"); !audioContentType(ct) {
			snippet := readSnippet(resp.Body, key)
			resp.Body.Close()
			// A 200 that is not audio is a glitch on their side (or a proxy
			// in between); the retry budget bounds it.
			return nil, fmt.Errorf("ElevenLabs answered HTTP %d with %s instead of audio: %s", resp.StatusCode, ct, snippet)
		}
		return resp.Body, nil
	}
	apiErr := parseAPIError(resp, key)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusRequestTimeout,
		resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode >= 500:
		return nil, apiErr
	case redirected:
		return nil, voicehook.Permanent(fmt.Sprintf("%s (at %s, where the Studio stream was redirected)", apiErr, hopName(resp.Request.URL)), nil)
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return nil, voicehook.Permanent(apiErr.Error()+"; check --elevenlabs-api-key", nil)
	default:
		// Other 4xx (unknown snapshot, bad ids) and unexpected 1xx/3xx: the
		// same request will get the same answer.
		return nil, voicehook.Permanent(apiErr.Error(), nil)
	}
}

// endpoint builds the stream URL; ids are path-escaped, and ids that would
// change the path's meaning are refused.
func (s *Studio) endpoint(snap voicehook.StudioSnapshot) (string, error) {
	base, err := s.base()
	if err != nil {
		return "", err
	}
	seg := func(name, id string) (string, error) {
		if id == "" || id == "." || id == ".." {
			return "", voicehook.Permanent(fmt.Sprintf("Studio snapshot has no valid %s (%q)", name, id), nil)
		}
		return url.PathEscape(id), nil
	}
	project, err := seg("project_id", snap.ProjectID)
	if err != nil {
		return "", err
	}
	if snap.ChapterID != "" {
		chapter, err := seg("chapter_id", snap.ChapterID)
		if err != nil {
			return "", err
		}
		cs, err := seg("chapter_snapshot_id", snap.ChapterSnapshotID)
		if err != nil {
			return "", err
		}
		return base + "/v1/studio/projects/" + project + "/chapters/" + chapter + "/snapshots/" + cs + "/stream", nil
	}
	ps, err := seg("project_snapshot_id", snap.ProjectSnapshotID)
	if err != nil {
		return "", err
	}
	return base + "/v1/studio/projects/" + project + "/snapshots/" + ps + "/stream", nil
}

// base is the API's base URL, checked.
func (s *Studio) base() (string, error) {
	return checkBaseURL(cmp.Or(strings.TrimSpace(s.BaseURL), DefaultBaseURL))
}

// checkBaseURL trims raw's trailing slashes and checks it is an http(s) URL.
func checkBaseURL(raw string) (string, error) {
	base := strings.TrimRight(strings.TrimSpace(raw), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", voicehook.Permanent("invalid ElevenLabs base URL "+strconv.Quote(base), nil)
	}
	return base, nil
}

// client returns the configured client with redirects turned off, for
// calls that have no reason to be redirected (creating a project): Go
// forwards custom headers such as xi-api-key to wherever a redirect points.
func (s *Studio) client() *http.Client {
	c := http.DefaultClient
	if s.HTTP != nil {
		c = s.HTTP
	}
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// streamClient returns the configured client, following redirects as
// checkRedirect allows: at most MaxRedirects, the key only on the API's own
// origin, every other host through CheckAddr (see transport).
func (s *Studio) streamClient(endpoint *url.URL) *http.Client {
	c := http.DefaultClient
	if s.HTTP != nil {
		c = s.HTTP
	}
	cp := *c
	cp.CheckRedirect = checkRedirect
	if s.CheckAddr != nil {
		s.trOnce.Do(func() {
			s.tr = transport(endpoint, s.CheckAddr)
			if s.WrapTransport != nil {
				s.tr = s.WrapTransport(s.tr)
			}
		})
		cp.Transport = s.tr
	}
	return &cp
}

// audioContentType accepts anything that is not obviously an error page: an
// absent type, audio/*, application/octet-stream and the like.
func audioContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true // let the processor's audio check decide
	}
	return mt != "application/json" && !strings.HasPrefix(mt, "text/") && !strings.HasSuffix(mt, "+json")
}

const snippetBytes = 4 << 10

// readSnippet reads the start of an error reply, with the API key redacted in
// case a proxy echoes request headers.
func readSnippet(r io.Reader, key string) string {
	b, _ := io.ReadAll(io.LimitReader(r, snippetBytes))
	s := string(b)
	if key != "" {
		s = strings.ReplaceAll(s, key, "[redacted]")
	}
	return s
}

// clean makes untrusted text safe for one log line: control characters
// become spaces, runs of space collapse, and it is cut to about limit bytes.
func clean(s string, limit int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len()+utf8.RuneLen(r) > limit {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
