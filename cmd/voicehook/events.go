package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
)

var eventsCommands = commandGroup{
	name:     "events",
	synopsis: "List, show, replay and retry webhook events through a running server's API (--server, --admin-token).",
	subs: []subcommand{
		{"list", "list events, newest first: a table, or JSON with --json", cmdEventsList},
		{"show", "show one event with its processing history, as JSON", cmdEventsShow},
		{"replay", "process an event again", cmdEventsReplay},
		{"retry-segment", "create a new job for the event's segment, then replay the event onto it", cmdEventsRetrySegment},
	},
}

func cmdEventsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	fs := newFlagSet("events list [flags]", "List events, newest first (GET /api/events): id, type, segment, status, age and details.")
	fs.SetOutput(stderr)
	c.register(fs)
	status := fs.String("status", "", "only events in this status (received, succeeded, failed, ignored, dead)")
	typ := fs.String("type", "", "only events of this type (e.g. post_call_audio, project_conversion_status, speech_to_text_transcription)")
	segment := fs.String("segment-id", "", "only events of this segment")
	var since, until timeFlag
	fs.Var(&since, "since", "only events received since then: a duration back from now (1h, 30m) or a time (2025-01-02T15:04:05Z)")
	fs.Var(&until, "until", "only events received before then: a duration back from now or a time, as --since")
	limit := fs.String("limit", "", "at most this many (1-1000, default 100)")
	before := fs.String("before", "", "the next page: only events listed after this event id")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var reply struct {
		Events     []voicehook.Event `json:"events"`
		NextBefore string            `json:"next_before"`
	}
	raw, err := c.get(ctx, "/api/events?"+query("status", *status, "type", *typ, "segment_id", *segment,
		"since", since.query(), "until", until.query(), "limit", *limit, "before", *before), &reply)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, raw)
	}
	if len(reply.Events) == 0 {
		_, err := fmt.Fprintln(stdout, "no events found")
		return err
	}
	now := time.Now()
	tw := newTable(stdout)
	fmt.Fprintln(tw, "ID\tTYPE\tSEGMENT\tSTATUS\tAGE\tDETAILS")
	for _, ev := range reply.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.ID, orDash(ev.Type), orDash(ev.SegmentID), ev.Status, age(now, ev.ReceivedAt), eventDetails(ev))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if reply.NextBefore != "" {
		fmt.Fprintf(stdout, "more: add --before %s\n", reply.NextBefore)
	}
	return nil
}

// eventDetails is an event's table cell: its job, its attempts, its error.
func eventDetails(ev voicehook.Event) string {
	var parts []string
	if ev.RelatedJob != "" {
		parts = append(parts, "job "+ev.RelatedJob)
	}
	if ev.Attempts > 1 {
		parts = append(parts, fmt.Sprintf("%d attempts", ev.Attempts))
	}
	if ev.ErrorDetails != "" {
		parts = append(parts, ev.ErrorDetails)
	}
	return oneLine(strings.Join(parts, "; "), 80)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// timeFlag is --since/--until: a duration back from now, or a time.
type timeFlag struct{ t time.Time }

func (f *timeFlag) Set(s string) error {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		f.t = time.Now().Add(-d)
		return nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		f.t = t
		return nil
	}
	return fmt.Errorf("want a duration like 1h (that long ago) or a time like 2025-01-02T15:04:05Z, got %q", s)
}

// kind names the flag's value in help: --since when.
func (f *timeFlag) kind() string { return "when" }

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.UTC().Format(time.RFC3339)
}

// query is the time as the API takes it, or "" when unset.
func (f *timeFlag) query() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.UTC().Format(time.RFC3339Nano)
}

// eventCommand is the flag set of a command acting on one event.
func eventCommand(sub, synopsis string, args []string, stderr io.Writer, c *apiClient) (id string, asJSON bool, err error) {
	fs := newFlagSet("events "+sub+" [flags] EVENT_ID", synopsis)
	fs.SetOutput(stderr)
	c.register(fs)
	j := fs.Bool("json", false, "print the API's JSON reply")
	pos, err := parseArgs(fs, args, "EVENT_ID")
	if err != nil {
		return "", false, err
	}
	return pos[0], *j, nil
}

func cmdEventsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	id, _, err := eventCommand("show", "Show one event with its raw payload and processing history (GET /api/events/{id}), as JSON.", args, stderr, &c)
	if err != nil {
		return err
	}
	return c.call(ctx, http.MethodGet, "/api/events/"+url.PathEscape(id), nil, stdout)
}

func cmdEventsReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	id, asJSON, err := eventCommand("replay", "Process an event again (POST /api/events/{id}/replay). "+
		"If its job is already finished, replaying changes nothing: the server says so; 'voicehook events retry-segment' makes a new job first.",
		args, stderr, &c)
	if err != nil {
		return err
	}
	raw, err := c.do(ctx, http.MethodPost, "/api/events/"+url.PathEscape(id)+"/replay", nil)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, raw)
	}
	var reply struct {
		EventID string `json:"event_id"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return fmt.Errorf("unexpected reply from the server: %.200s", raw)
	}
	if reply.Message != "" {
		fmt.Fprintln(stdout, reply.Message)
		if strings.Contains(reply.Message, "retry-segment") {
			// The server's words name the API; say the command too.
			fmt.Fprintf(stdout, "from the command line: voicehook events retry-segment %s\n", id)
		}
		return nil
	}
	_, err = fmt.Fprintf(stdout, "event %s is being processed again; follow it with 'voicehook events show %s'\n", id, id)
	return err
}

func cmdEventsRetrySegment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	id, asJSON, err := eventCommand("retry-segment", "Retry an event's segment in one step (POST /api/events/{id}/retry-segment): "+
		"create a new job for the segment, then replay the event onto it. For an event whose job already finished, where a replay changes nothing.",
		args, stderr, &c)
	if err != nil {
		return err
	}
	raw, err := c.do(ctx, http.MethodPost, "/api/events/"+url.PathEscape(id)+"/retry-segment", nil)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, raw)
	}
	var reply struct {
		Job     voicehook.Job `json:"job"`
		EventID string        `json:"event_id"`
		Message string        `json:"message"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return fmt.Errorf("unexpected reply from the server: %.200s", raw)
	}
	if reply.Message != "" {
		_, err = fmt.Fprintln(stdout, reply.Message)
		return err
	}
	_, err = fmt.Fprintf(stdout, "new job %s for segment %s; event %s is being replayed onto it\n", reply.Job.ID, reply.Job.SegmentID, id)
	return err
}
