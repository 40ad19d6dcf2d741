package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient calls a running server's API for the jobs, events, segments
// and callback-url commands.
type apiClient struct {
	server, token string
}

func (c *apiClient) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "http://127.0.0.1:8080", "the voicehook server to talk to")
	fs.StringVar(&c.token, "admin-token", "", "the server's --admin-token, if it has one")
}

// call sends a request and prints the JSON reply indented; a non-2xx reply
// is an error carrying the server's message.
func (c *apiClient) call(ctx context.Context, method, path string, body any, out io.Writer) error {
	raw, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	return printJSON(out, raw)
}

// get fetches path and decodes its JSON reply into v, returning the raw
// reply too (for --json).
func (c *apiClient) get(ctx context.Context, path string, v any) ([]byte, error) {
	raw, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("unexpected reply from the server to GET %s: %w", path, err)
	}
	return raw, nil
}

// do sends a request and returns the reply's body; a non-2xx reply is an
// error carrying the server's message.
func (c *apiClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.server, "/")+path, rd)
	if err != nil {
		return nil, fmt.Errorf("--server %q: %w", c.server, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", c.server, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading reply: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Message string }
		if json.Unmarshal(raw, &e) == nil && e.Message != "" {
			return nil, fmt.Errorf("server answered %d: %s", resp.StatusCode, e.Message)
		}
		return nil, fmt.Errorf("server answered %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return raw, nil
}

// cmdCallbackURL prints a segment's callback URL, for pipelines that create
// their jobs elsewhere (Airtable) and must hand the sender a URL carrying
// the segment's token.
func cmdCallbackURL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	fs := newFlagSet("callback-url --segment-id ID [flags]",
		"Print the URL a sender delivers to for one segment (its callback token included); the segment need not have a job yet.")
	fs.SetOutput(stderr)
	c.register(fs)
	segment := fs.String("segment-id", "", "the segment (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *segment == "" {
		return usageErrorf("callback-url", "--segment-id is required")
	}
	raw, err := c.do(ctx, http.MethodGet, "/api/segments/"+url.PathEscape(*segment)+"/callback-url", nil)
	if err != nil {
		return err
	}
	var reply struct {
		CallbackURL string `json:"callback_url"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil || reply.CallbackURL == "" {
		return fmt.Errorf("unexpected reply from the server: %.200s", raw)
	}
	fmt.Fprintln(stdout, reply.CallbackURL)
	return nil
}

func query(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q.Encode()
}
