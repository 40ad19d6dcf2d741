package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/voicehook/voicehook"
)

var segmentsCommands = commandGroup{
	name:     "segments",
	synopsis: "Show segments through a running server's API (--server, --admin-token).",
	subs: []subcommand{
		{"show", "show one segment: its status, voiceover, QA, callback URL and jobs", cmdSegmentsShow},
	},
}

func cmdSegmentsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	fs := newFlagSet("segments show [flags] SEGMENT_ID", "Show one segment (GET /api/segments/{id}): its status, voiceover, QA, callback URL and jobs.")
	fs.SetOutput(stderr)
	c.register(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a summary")
	pos, err := parseArgs(fs, args, "SEGMENT_ID")
	if err != nil {
		return err
	}
	var seg struct {
		voicehook.Segment
		CallbackURL string          `json:"callback_url"`
		Jobs        []voicehook.Job `json:"jobs"`
	}
	raw, err := c.get(ctx, "/api/segments/"+url.PathEscape(pos[0]), &seg)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, raw)
	}
	now := time.Now()
	s := newSummary(stdout)
	s.line("segment", seg.ID)
	s.line("status", string(seg.Status))
	s.line("updated", when(now, seg.UpdatedAt))
	s.line("voiceover", seg.Voiceover)
	if seg.Bytes > 0 {
		audio := humanBytes(seg.Bytes)
		if seg.DurationMS > 0 {
			audio += fmt.Sprintf(", %.2f s", float64(seg.DurationMS)/1000)
		}
		if seg.SHA256 != "" {
			audio += ", sha256 " + seg.SHA256
		}
		s.line("audio", audio)
	}
	s.line("captions", seg.Captions)
	s.line("qa", qaSummary(seg.Segment))
	s.line("voice", seg.VoiceNotice)
	s.line("callback url", seg.CallbackURL)
	if err := s.flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if len(seg.Jobs) == 0 {
		_, err := fmt.Fprintln(stdout, "no jobs")
		return err
	}
	return writeJobsTable(stdout, now, seg.Jobs, false)
}

// qaSummary is a segment's QA in one line: "flagged: word error rate 12.5%,
// 3 differences (notes)".
func qaSummary(seg voicehook.Segment) string {
	if seg.QAStatus == "" {
		return ""
	}
	out := string(seg.QAStatus)
	if seg.QAWER != nil {
		out += fmt.Sprintf(": word error rate %.1f%%", *seg.QAWER*100)
	}
	if n := len(seg.QADifferences); n > 0 {
		out += fmt.Sprintf(", %d differences", n)
	}
	if seg.QANotes != "" {
		out += " (" + oneLine(seg.QANotes, 80) + ")"
	}
	return out
}
