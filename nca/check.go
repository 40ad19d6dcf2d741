package nca

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Check asks NCA whether it accepts the API key
// (GET /v1/toolkit/authenticate). It does not upload anything: NCA would
// keep the file, as it has no delete call voicehook could clean up with.
func (s *Storage) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/toolkit/authenticate", nil)
	if err != nil {
		return fmt.Errorf("nca: %w", err)
	}
	req.Header.Set("X-API-Key", s.apiKey)
	req.Header.Set("Accept", "application/json")
	resp, err := s.api.Do(req)
	if err != nil {
		return fmt.Errorf("nca: cannot reach the NCA Toolkit at %s: %w: check --nca-url and that NCA is running", s.base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	switch sc := resp.StatusCode; {
	case sc == http.StatusOK:
		return nil
	case sc == http.StatusUnauthorized:
		return errors.New("nca: NCA Toolkit rejected the API key: set --nca-api-key")
	case sc == http.StatusNotFound:
		return fmt.Errorf("nca: %s has no /v1/toolkit/authenticate (HTTP 404): check that --nca-url points at the NCA Toolkit", s.base)
	case sc >= 300 && sc < 400:
		return fmt.Errorf("nca: NCA Toolkit at %s answered a redirect to %q: set --nca-url to the final address", s.base, resp.Header.Get("Location"))
	default:
		return fmt.Errorf("nca: GET /v1/toolkit/authenticate at %s answered HTTP %d: %s", s.base, sc, s.message(body))
	}
}
