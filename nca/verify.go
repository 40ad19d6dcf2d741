package nca

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/voicehook/voicehook"
)

// remoteSize returns the size of the file at u, as anyone following the
// stored link would see it: HEAD, or, where HEAD is refused or carries no
// length, GET of the first byte and the total from Content-Range.
func (s *Storage) remoteSize(ctx context.Context, u string) (int64, error) {
	resp, err := s.fetch(ctx, http.MethodHead, u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && resp.ContentLength >= 0 {
		return resp.ContentLength, nil
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotImplemented {
		return 0, unreadable(u, resp.StatusCode)
	}

	resp, err = s.fetch(ctx, http.MethodGet, u, "Range", "bytes=0-0")
	if err != nil {
		return 0, err
	}
	// Never read the body: a server that ignores Range sends the whole file.
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		_, total, ok := strings.Cut(cr, "/")
		n, err := strconv.ParseInt(total, 10, 64)
		if !ok || err != nil || n < 0 {
			return 0, fmt.Errorf("nca: GET %s gave no total size in Content-Range %q", u, cr)
		}
		return n, nil
	case http.StatusOK:
		if resp.ContentLength >= 0 {
			return resp.ContentLength, nil
		}
		return 0, fmt.Errorf("nca: GET %s gave no size (no Content-Length or Content-Range)", u)
	default:
		return 0, unreadable(u, resp.StatusCode)
	}
}

func (s *Storage) fetch(ctx context.Context, method, u string, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("nca: check stored file: %w", err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.web.Do(req)
	if err != nil {
		return nil, fmt.Errorf("nca: check stored file: %w", err)
	}
	if method == http.MethodGet && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	}
	return resp, nil
}

// unreadable explains a stored link that does not answer with the file. A
// refusal means the bucket does not allow public reads, which no retry
// changes; anything else (404 before the copy is visible, 5xx) may pass.
func unreadable(u string, status int) error {
	if status == http.StatusForbidden || status == http.StatusUnauthorized {
		return voicehook.Permanent(fmt.Sprintf(
			"nca: the file NCA stored is not publicly readable (HTTP %d at %s): allow public reads on NCA's bucket", status, u), nil)
	}
	return fmt.Errorf("nca: check stored file %s: HTTP %d", u, status)
}
