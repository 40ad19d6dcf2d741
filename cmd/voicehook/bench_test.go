package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The bench (internal/bench) against this command's real server; they
// check that it works and counts right, and assert nothing about speed.

func TestBenchRuns(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := cmdBench(context.Background(), []string{"--count", "40", "--runs", "2", "--concurrency", "1,4",
		"--payload-size", "1KB,1MB", "--workers", "2"}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	s := out.String()
	if !strings.Contains(s, "× ceiling") || !strings.Contains(s, "== summary") {
		t.Errorf("output lacks the ceiling comparison or the summary")
	}
	// Every run accepted every delivery, without errors, and every event
	// went to a completed job.
	if n := strings.Count(s, "errors -"); n != 2*2*2*2 {
		t.Errorf("%d runs without errors, want 16", n)
	}
	if n := strings.Count(s, "(40 completed, 0 failed, 0 unfinished)"); n != 2*2*2 {
		t.Errorf("%d voicehook runs with all 40 jobs completed, want 8", n)
	}
	if !strings.Contains(s, "post_call_audio") {
		t.Errorf("the 1MB payload did not use post_call_audio")
	}
}

// --process=false: the server stores and acknowledges without its queue.
func TestBenchIngestOnly(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := cmdBench(context.Background(), []string{"--count", "40", "--runs", "1", "--concurrency", "4",
		"--process=false", "--ceiling=false"}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	s := out.String()
	if !strings.Contains(s, "queue not started") || strings.Count(s, "errors -") != 1 || strings.Contains(s, "end to end") {
		t.Errorf("want one ingest-only run without errors and without end to end")
	}
}

func TestBenchSoak(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := cmdBench(context.Background(), []string{"--soak", "5s", "--rate", "40", "--sample-every", "1s", "--concurrency", "4", "--workers", "2"}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	s := out.String()
	for _, want := range []string{"every accepted event processed", "trend over", "heap-live", "rss"} {
		if !strings.Contains(s, want) {
			t.Errorf("soak output lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(\d+) sent, (\d+) accepted`).FindStringSubmatch(s); m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("soak load line: %v", m)
	}
}

// TestBenchManual runs the bench with the arguments in VOICEHOOK_BENCH_ARGS
// (space-separated); it is skipped otherwise.
func TestBenchManual(t *testing.T) {
	args := os.Getenv("VOICEHOOK_BENCH_ARGS")
	if args == "" {
		t.Skip("set VOICEHOOK_BENCH_ARGS to run")
	}
	if err := cmdBench(context.Background(), strings.Fields(args), os.Stdout, os.Stderr); err != nil {
		t.Fatal(err)
	}
}
