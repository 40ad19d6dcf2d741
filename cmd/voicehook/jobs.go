package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
)

var jobsCommands = commandGroup{
	name:     "jobs",
	synopsis: "Create, list and show voiceover jobs through a running server's API (--server, --admin-token).",
	subs: []subcommand{
		{"create", "create a voiceover job in status processing; prints it with its callback_url", cmdJobsCreate},
		{"list", "list jobs, newest first: a table, or JSON with --json", cmdJobsList},
		{"show", "show one job: status, times, error, generation and callback URL", cmdJobsShow},
	},
}

func cmdJobsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	fs := newFlagSet("jobs create --segment-id ID [flags]", "Create a voiceover job in status processing (POST /api/jobs); prints it as JSON, with its callback_url.")
	fs.SetOutput(stderr)
	c.register(fs)
	segment := fs.String("segment-id", "", "the segment the voiceover is for (required)")
	external := fs.String("external-id", "", "the sender's id for it (Studio project or request id, conversation id)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *segment == "" {
		return usageErrorf("jobs create", "--segment-id is required")
	}
	body := map[string]string{"segment_id": *segment, "type": voicehook.JobTypeVoiceover}
	if *external != "" {
		body["external_id"] = *external
	}
	return c.call(ctx, http.MethodPost, "/api/jobs", body, stdout)
}

func cmdJobsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	fs := newFlagSet("jobs list [flags]", "List jobs, newest first (GET /api/jobs): id, segment, status, age and details.")
	fs.SetOutput(stderr)
	c.register(fs)
	status := fs.String("status", "", "only jobs in this status (processing, completed, failed)")
	segment := fs.String("segment-id", "", "only jobs of this segment")
	limit := fs.String("limit", "", "at most this many (1-1000, default 100)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var reply struct {
		Jobs []voicehook.Job `json:"jobs"`
	}
	raw, err := c.get(ctx, "/api/jobs?"+query("status", *status, "segment_id", *segment, "limit", *limit), &reply)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, raw)
	}
	if len(reply.Jobs) == 0 {
		_, err := fmt.Fprintln(stdout, "no jobs found")
		return err
	}
	return writeJobsTable(stdout, time.Now(), reply.Jobs, true)
}

// writeJobsTable writes jobs as a table; withSegment adds their segment.
func writeJobsTable(w io.Writer, now time.Time, jobs []voicehook.Job, withSegment bool) error {
	tw := newTable(w)
	if withSegment {
		fmt.Fprintln(tw, "ID\tSEGMENT\tSTATUS\tAGE\tDETAILS")
	} else {
		fmt.Fprintln(tw, "JOB\tSTATUS\tAGE\tDETAILS")
	}
	for _, j := range jobs {
		created := timeOf(j.Timestamps.Created)
		if withSegment {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.ID, j.SegmentID, j.Status, age(now, created), jobDetails(j))
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.ID, j.Status, age(now, created), jobDetails(j))
		}
	}
	return tw.Flush()
}

// jobDetails is a job's table cell: why it failed, how long it took, how
// it was made.
func jobDetails(j voicehook.Job) string {
	var parts []string
	created := timeOf(j.Timestamps.Created)
	switch {
	case j.Status == voicehook.JobFailed && j.ErrorDetails != "":
		parts = append(parts, j.ErrorDetails)
	case j.Status == voicehook.JobCompleted && j.Timestamps.Completed != nil && !created.IsZero():
		parts = append(parts, "took "+took(created, *j.Timestamps.Completed))
	}
	if j.Generation != nil {
		parts = append(parts, fmt.Sprintf("generated, %d characters", j.Generation.Characters))
	}
	if j.ExternalID != "" {
		parts = append(parts, "external id "+j.ExternalID)
	}
	return oneLine(strings.Join(parts, "; "), 80)
}

func cmdJobsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	fs := newFlagSet("jobs show [flags] JOB_ID", "Show one job (GET /api/jobs/{id}): its segment, status, times, error, generation and callback URL.")
	fs.SetOutput(stderr)
	c.register(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a summary")
	pos, err := parseArgs(fs, args, "JOB_ID")
	if err != nil {
		return err
	}
	var j voicehook.Job
	raw, err := c.get(ctx, "/api/jobs/"+url.PathEscape(pos[0]), &j)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, raw)
	}
	now := time.Now()
	created := timeOf(j.Timestamps.Created)
	s := newSummary(stdout)
	s.line("job", j.ID)
	s.line("segment", j.SegmentID)
	s.line("type", j.Type)
	s.line("status", string(j.Status))
	s.line("created", when(now, created))
	if t := j.Timestamps.Completed; t != nil {
		s.line("completed", when(now, *t)+", took "+took(created, *t))
	}
	if t := j.Timestamps.Failed; t != nil {
		s.line("failed", when(now, *t))
	}
	s.line("error", j.ErrorDetails)
	s.line("external id", j.ExternalID)
	if g := j.Generation; g != nil {
		gen := fmt.Sprintf("ElevenLabs request %s, %d characters", g.RequestID, g.Characters)
		if g.Parts > 1 {
			gen += fmt.Sprintf(", %d parts", g.Parts)
		}
		s.line("generation", gen)
	}
	s.line("callback url", j.CallbackURL)
	return s.flush()
}

// timeOf is *t, or the zero time.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
