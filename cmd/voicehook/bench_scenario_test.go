package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/voicehook/voicehook/internal/bench"
)

// --scenario ack against the real server: ack latency with processing
// paused, then with it resumed over the backlog, then the drain. These
// check that the phases are what they claim (the pause held, every job
// ends completed) and that the figures are printed; nothing about speed.

func TestBenchScenarioAck(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := cmdBench(context.Background(), []string{"--scenario", "ack", "--rate", "200", "--duration", "1s", "--runs", "1",
		"--workers", "2", "--concurrency", "8"}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	s := out.String()
	// The idle phase processed nothing: neither by the metrics at its end
	// nor by the jobs' finish times read after the drain.
	m := regexp.MustCompile(`paused: (\d+) events processed during the idle phase, (\d+) jobs finished before resume`).FindStringSubmatch(s)
	if m == nil || m[1] != "0" || m[2] != "0" {
		t.Errorf("pause line: %v, want 0 and 0", m)
	}
	// Both phases' deliveries (200 each) went to completed jobs.
	if !strings.Contains(s, "(400 completed, 0 failed, 0 unfinished)") {
		t.Errorf("not every job of the run ended completed")
	}
	for _, phase := range []string{"idle", "backlog"} {
		if !regexp.MustCompile(phase + `: 200 sent, 200 accepted .* errors -`).MatchString(s) {
			t.Errorf("%s phase: want 200 deliveries accepted without errors", phase)
		}
	}
	// The summary holds the three figures, each a number.
	cols, row := summaryRow(t, s)
	for _, name := range []string{"ack idle p99", "ack backlog p99", "end-to-end ev/s", "processed during backlog ev/s"} {
		v, ok := row[name]
		if !ok {
			t.Errorf("summary lacks column %q (columns %q)", name, cols)
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "ms"), 64)
		if err != nil || f <= 0 {
			t.Errorf("summary %q = %q, want a positive figure", name, v)
		}
	}
}

// The control for the check above: a server whose pause does nothing
// processes the idle phase's events, and the bench says its figures are
// not those of idle processing.
func TestBenchScenarioAckNoticesPauseNotHeld(t *testing.T) {
	t.Parallel()
	cmd := benchCommand()
	start := cmd.Target
	cmd.Target = func(ctx context.Context, o bench.TargetOptions) (*bench.Server, error) {
		srv, err := start(ctx, o)
		if err == nil {
			srv.Pause = func(context.Context) error { return nil }
		}
		return srv, err
	}
	var out, errOut bytes.Buffer
	err := cmd.Run(context.Background(), []string{"--scenario", "ack", "--rate", "200", "--duration", "1s", "--runs", "1",
		"--workers", "2", "--concurrency", "8"}, &out, &errOut)
	t.Log(out.String())
	if err == nil || !strings.Contains(err.Error(), "pause did not hold") {
		t.Fatalf("bench: got %v, want the pause reported as not held", err)
	}
}

// summaryRow reads the first data row of the Markdown summary as column →
// value.
func summaryRow(t *testing.T, s string) ([]string, map[string]string) {
	t.Helper()
	_, after, ok := strings.Cut(s, "== summary")
	if !ok {
		t.Fatalf("no summary in the output")
	}
	var table []string
	for line := range strings.SplitSeq(after, "\n") {
		if strings.HasPrefix(line, "|") {
			table = append(table, line)
		}
	}
	if len(table) < 3 {
		t.Fatalf("summary table has %d lines, want a header, a rule and a row", len(table))
	}
	cells := func(line string) []string {
		parts := strings.Split(strings.Trim(line, "|"), "|")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	cols, vals := cells(table[0]), cells(table[2])
	row := map[string]string{}
	for i, c := range cols {
		if i < len(vals) {
			row[c] = vals[i]
		}
	}
	return cols, row
}
