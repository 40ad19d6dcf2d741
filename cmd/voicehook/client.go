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

// apiClient calls a running server's API for the jobs and events commands.
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
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(raw)
	}
	fmt.Fprintln(out, strings.TrimSpace(pretty.String()))
	return nil
}

// do sends a request and returns the reply's body; a non-2xx reply is an
// error carrying the server's message.
func (c *apiClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.server, "/")+path, rd)
	if err != nil {
		return nil, err
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
		return fmt.Errorf("--segment-id is required")
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

func subcommand(args []string, name string, subs ...string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("usage: voicehook %s <%s> [flags]", name, strings.Join(subs, "|"))
	}
	for _, s := range subs {
		if args[0] == s {
			return s, args[1:], nil
		}
	}
	return "", nil, fmt.Errorf("unknown %s command %q: want one of %s", name, args[0], strings.Join(subs, ", "))
}

func cmdJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, "jobs", "create", "list")
	if err != nil {
		return err
	}
	var c apiClient
	switch sub {
	case "create":
		fs := newFlagSet("jobs create --segment-id ID [flags]", "Create a voiceover job in status processing (POST /api/jobs); prints it with its callback_url.")
		fs.SetOutput(stderr)
		c.register(fs)
		segment := fs.String("segment-id", "", "the segment the voiceover is for (required)")
		external := fs.String("external-id", "", "the sender's id for it (Studio project or request id, conversation id)")
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		if *segment == "" {
			return fmt.Errorf("--segment-id is required")
		}
		body := map[string]string{"segment_id": *segment, "type": "voiceover_generation"}
		if *external != "" {
			body["external_id"] = *external
		}
		return c.call(ctx, http.MethodPost, "/api/jobs", body, stdout)
	default:
		fs := newFlagSet("jobs list [flags]", "List jobs, newest first (GET /api/jobs).")
		fs.SetOutput(stderr)
		c.register(fs)
		status := fs.String("status", "", "only jobs in this status (processing, completed, failed)")
		segment := fs.String("segment-id", "", "only jobs of this segment")
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		return c.call(ctx, http.MethodGet, "/api/jobs?"+query("status", *status, "segment_id", *segment), nil, stdout)
	}
}

func cmdEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, "events", "list", "show", "replay")
	if err != nil {
		return err
	}
	var c apiClient
	switch sub {
	case "list":
		fs := newFlagSet("events list [flags]", "List events, newest first (GET /api/events).")
		fs.SetOutput(stderr)
		c.register(fs)
		status := fs.String("status", "", "only events in this status (received, succeeded, failed, ignored, dead)")
		segment := fs.String("segment-id", "", "only events of this segment")
		limit := fs.String("limit", "", "at most this many (1-1000, default 100)")
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		return c.call(ctx, http.MethodGet, "/api/events?"+query("status", *status, "segment_id", *segment, "limit", *limit), nil, stdout)
	default:
		verb := map[string]string{"show": "Show one event with its processing history (GET /api/events/{id}).",
			"replay": "Process an event again (POST /api/events/{id}/replay)."}[sub]
		fs := newFlagSet("events "+sub+" [flags] EVENT_ID", verb)
		fs.SetOutput(stderr)
		c.register(fs)
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: voicehook events %s [flags] EVENT_ID", sub)
		}
		path := "/api/events/" + url.PathEscape(fs.Arg(0))
		if sub == "replay" {
			return c.call(ctx, http.MethodPost, path+"/replay", nil, stdout)
		}
		return c.call(ctx, http.MethodGet, path, nil, stdout)
	}
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
