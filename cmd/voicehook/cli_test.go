package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// binRun runs the real binary with args and no VOICEHOOK_* variables but
// those in env, and returns its stdout, stderr and exit code.
func binRun(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VOICEHOOK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("running voicehook %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// TestUnexpectedArgumentsAreRefused: a stray word no longer ends flag
// parsing silently. Every command names it and exits 2 before doing
// anything: `serve extra --addr …` starts no server and creates no data dir.
func TestUnexpectedArgumentsAreRefused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "extra", "--addr", "127.0.0.1:0", "--data-dir", dir, "--elevenlabs-secret", "x"},
			`unexpected argument "extra"; voicehook serve takes flags only`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "one", "two"},
			`unexpected arguments "one" "two"; voicehook serve takes flags only`},
		{[]string{"migrate", "--data-dir", dir, "now"}, `unexpected argument "now"; voicehook migrate takes flags only`},
		{[]string{"doctor", "--data-dir", dir, "please"}, `unexpected argument "please"; voicehook doctor takes flags only`},
		{[]string{"demo", "fast"}, `unexpected argument "fast"; voicehook demo takes flags only`},
		{[]string{"sign", "--secret", "s", "body.json"}, `unexpected argument "body.json"; voicehook sign takes flags only`},
		{[]string{"bench", "quick"}, `unexpected argument "quick"; voicehook bench takes flags only`},
		{[]string{"callback-url", "seg-1"}, `unexpected argument "seg-1"; voicehook callback-url takes flags only`},
		{[]string{"version", "2"}, `unexpected argument "2"; voicehook version takes flags only`},
		{[]string{"jobs", "list", "processing"}, `unexpected argument "processing"; voicehook jobs list takes flags only`},
		{[]string{"jobs", "show", "job_1", "job_2"}, `unexpected argument "job_2"; voicehook jobs show takes one JOB_ID`},
		{[]string{"jobs", "show"}, `jobs show needs a JOB_ID`},
		{[]string{"segments", "show"}, `segments show needs a SEGMENT_ID`},
		{[]string{"events", "list", "dead"}, `unexpected argument "dead"; voicehook events list takes flags only`},
		{[]string{"events", "replay"}, `events replay needs an EVENT_ID`},
		{[]string{"events", "retry-segment", "evt_1", "--server", "http://127.0.0.1:1", "evt_2"},
			`unexpected argument "evt_2"; voicehook events retry-segment takes one EVENT_ID`},
		{[]string{"jobs"}, `jobs needs a command: create, list or show`},
		{[]string{"jobs", "delete"}, `unknown jobs command "delete": want create, list or show`},
		{[]string{"events", "--status", "dead", "list"}, `events: give the command first (list, show, replay or retry-segment), then its flags`},
		{[]string{"serv"}, `unknown command "serv"; run 'voicehook --help' for the list`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := binRun(t, nil, c.args...)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			first, _, _ := strings.Cut(stderr, "\n")
			if first != "voicehook: "+c.want {
				t.Errorf("stderr:\n%s\nwant first line: voicehook: %s", stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout: %q", stdout)
			}
		})
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused command created the data dir: %v", err)
	}
}

// TestFlagsAfterAnIDAreParsed: `events show ID --json` is read as a flag
// after the id, as people type it, not as two more ids.
func TestFlagsAfterAnIDAreParsed(t *testing.T) {
	t.Parallel()
	fs := newFlagSet("events show [flags] EVENT_ID", "")
	asJSON := fs.Bool("json", false, "")
	server := fs.String("server", "", "")
	pos, err := parseArgs(fs, []string{"evt_1", "--json", "--server=http://127.0.0.1:1"}, "EVENT_ID")
	if err != nil || !*asJSON || *server != "http://127.0.0.1:1" {
		t.Fatalf("parseArgs = %v, %v; json %v server %q", pos, err, *asJSON, *server)
	}
	if diff := cmp.Diff([]string{"evt_1"}, pos); diff != "" {
		t.Fatal(diff)
	}
	// After --, everything is an argument, even what looks like a flag.
	fs = newFlagSet("events show [flags] EVENT_ID", "")
	fs.Bool("json", false, "")
	pos, err = parseArgs(fs, []string{"--", "--json"}, "EVENT_ID")
	if err != nil || len(pos) != 1 || pos[0] != "--json" {
		t.Fatalf("after --: %v, %v", pos, err)
	}
}

// TestBadFlagValues: a bad value is one short line naming the flag and the
// form it wants, then where to find all flags — not the whole usage — and
// exit code 2. A bad VOICEHOOK_* value names the variable.
func TestBadFlagValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  []string
		args []string
		want string
		hint string
	}{
		{nil, []string{"serve", "--job-timeout", "soon"}, `--job-timeout: want a duration like 30s or 5m, got "soon"`, "serve"},
		{nil, []string{"serve", "--job-timeout=soon"}, `--job-timeout: want a duration like 30s or 5m, got "soon"`, "serve"},
		{nil, []string{"serve", "-max-body-bytes", "2XB"}, `--max-body-bytes: want a size like 32MiB or 500KB, got "2XB"`, "serve"},
		{nil, []string{"serve", "--max-body-bytes", "1.5"}, `--max-body-bytes: want a size like 32MiB or 500KB, got "1.5"`, "serve"},
		{nil, []string{"serve", "--workers", "many"}, `--workers: want a whole number, got "many"`, "serve"},
		{nil, []string{"serve", "--qa-max-wer", "low"}, `--qa-max-wer: want a number like 0.5, got "low"`, "serve"},
		{nil, []string{"serve", "--fetch-allow-private=maybe"}, `--fetch-allow-private: want true or false, got "maybe"`, "serve"},
		{nil, []string{"serve", "--nope"}, `unknown flag --nope`, "serve"},
		{nil, []string{"serve", "--data-dir"}, `--data-dir needs a value`, "serve"},
		{[]string{"VOICEHOOK_JOB_TIMEOUT=soon"}, []string{"serve"}, `VOICEHOOK_JOB_TIMEOUT: want a duration like 30s or 5m, got "soon"`, "serve"},
		{nil, []string{"doctor", "--check-timeout", "1 minute"}, `--check-timeout: want a duration like 30s or 5m, got "1 minute"`, "doctor"},
		{nil, []string{"events", "list", "--since", "yesterday"},
			`--since: want a duration like 1h (that long ago) or a time like 2025-01-02T15:04:05Z, got "yesterday"`, "events list"},
		{nil, []string{"bench", "--concurrency", "x"}, `--concurrency: want integers such as 1,8,64, got "x"`, "bench"},
		{nil, []string{"bench", "--payload-size", "5XB"}, `--payload-size: want a size like 32MiB or 500KB, got "5XB"`, "bench"},
	}
	for _, c := range cases {
		t.Run(strings.Join(append(c.env, c.args...), " "), func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := binRun(t, c.env, c.args...)
			want := "voicehook: " + c.want + "\nrun 'voicehook " + c.hint + " --help' for all flags\n"
			if code != 2 || stderr != want || stdout != "" {
				t.Fatalf("exit %d\nstderr:\n%s\nwant:\n%s\nstdout: %q", code, stderr, want, stdout)
			}
		})
	}
}

// TestHelpEverywhere: --help, -h and `help` work on every command and
// subcommand, print to stdout and exit 0.
func TestHelpEverywhere(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want []string // in this order
		not  []string
	}{
		{[]string{"--help"}, []string{"Commands:", "serve", "demo", "jobs", "events", "segments", "migrate", "doctor", "version"}, nil},
		{[]string{"-h"}, []string{"Commands:"}, nil},
		{[]string{"help"}, []string{"Commands:"}, nil},
		{[]string{"help", "serve"}, []string{"Usage: voicehook serve [flags]", "Server:", "--addr"}, nil},
		{[]string{"serve", "--help"}, []string{"Usage: voicehook serve [flags]",
			"Server:", "--addr", "--public-url", "--admin-token",
			"Store:", "--data-dir", "--database-url",
			"ElevenLabs:", "--elevenlabs-secret", "--elevenlabs-api-key",
			"QA:", "--qa ", "--qa-mode",
			"Storage:", "--storage", "--s3-bucket", "--nca-url",
			"Airtable:", "--records", "--airtable-token",
			"Processing:", "--workers", "--max-attempts",
			"Limits:", "--max-body-bytes", "(default 32MiB)", "--max-audio-bytes", "(default 200MiB)",
			"Logging and tracing:", "--log-level", "--otel-endpoint",
			"VOICEHOOK_<FLAG> (--addr ↔ VOICEHOOK_ADDR)"}, []string{"33554432"}},
		{[]string{"serve", "-h"}, []string{"Usage: voicehook serve [flags]"}, nil},
		{[]string{"migrate", "--help"}, []string{"Usage: voicehook migrate [flags]", "Store:", "--data-dir", "--database-url", "--db-op-timeout",
			"every serve flag"}, []string{"--elevenlabs-secret", "--addr", "Storage:"}},
		{[]string{"doctor", "--help"}, []string{"Usage: voicehook doctor [flags]", "Doctor:", "--check-timeout",
			"Server:", "--public-url", "Store:", "ElevenLabs:", "--elevenlabs-api-key", "Storage:", "Airtable:", "Logging and tracing:"}, nil},
		{[]string{"jobs", "--help"}, []string{"Usage: voicehook jobs <command> [flags]", "create", "list", "show"}, nil},
		{[]string{"jobs", "-h"}, []string{"Usage: voicehook jobs <command> [flags]"}, nil},
		{[]string{"jobs", "help"}, []string{"Usage: voicehook jobs <command> [flags]"}, nil},
		{[]string{"jobs", "list", "--help"}, []string{"Usage: voicehook jobs list [flags]", "--json", "--server", "--status"}, nil},
		{[]string{"jobs", "show", "--help"}, []string{"Usage: voicehook jobs show [flags] JOB_ID", "--json"}, nil},
		{[]string{"jobs", "create", "--help"}, []string{"Usage: voicehook jobs create", "--segment-id"}, nil},
		{[]string{"events", "--help"}, []string{"Usage: voicehook events <command> [flags]", "list", "show", "replay", "retry-segment"}, nil},
		{[]string{"events", "list", "--help"}, []string{"--json", "--since", "--type", "--until"}, nil},
		{[]string{"events", "show", "--help"}, []string{"EVENT_ID"}, nil},
		{[]string{"events", "replay", "--help"}, []string{"EVENT_ID"}, nil},
		{[]string{"events", "retry-segment", "--help"}, []string{"EVENT_ID", "new job"}, nil},
		{[]string{"segments", "--help"}, []string{"show"}, nil},
		{[]string{"segments", "show", "--help"}, []string{"SEGMENT_ID", "--json"}, nil},
		{[]string{"demo", "--help"}, []string{"--keep", "--serve"}, nil},
		{[]string{"sign", "--help"}, []string{"--secret", "--send"}, nil},
		{[]string{"callback-url", "--help"}, []string{"--segment-id"}, nil},
		{[]string{"bench", "--help"}, []string{"--concurrency", "--payload-size"}, nil},
		{[]string{"version", "--help"}, []string{"Usage: voicehook version"}, nil},
		{[]string{"serve", "extra", "--help"}, []string{"Usage: voicehook serve"}, nil}, // help wins
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := binRun(t, nil, c.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			rest := stdout
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("help lacks %q (after the ones before it):\n%s", w, stdout)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range c.not {
				if strings.Contains(stdout, n) {
					t.Errorf("help shows %q:\n%s", n, stdout)
				}
			}
		})
	}
}

// TestEveryServeFlagHasASection: serve's help groups flags; a new flag
// must be put in a section, not left to "Other".
func TestEveryServeFlagHasASection(t *testing.T) {
	t.Parallel()
	var cfg config
	fs := newFlagSet("serve [flags]", "")
	cfg.register(fs)
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.Usage()
	if strings.Contains(help.String(), "Other:") {
		t.Fatalf("flags without a section:\n%s", help.String())
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if got := len(regexp.MustCompile(`(?m)^  --`).FindAllString(help.String(), -1)); got != n {
		t.Fatalf("help shows %d flags of %d", got, n)
	}
}

// TestFlagFormsAndEnvironment: --flag value, --flag=value, -flag value and
// VOICEHOOK_<FLAG> all still set serve's flags, the command line winning.
func TestFlagFormsAndEnvironment(t *testing.T) {
	t.Setenv("VOICEHOOK_DATA_DIR", "/from/env")
	t.Setenv("VOICEHOOK_WORKERS", "3")
	t.Setenv("VOICEHOOK_MAX_BODY_BYTES", "1.5MiB")
	var cfg config
	fs := newFlagSet("serve [flags]", "")
	cfg.register(fs)
	err := parseFlags(fs, []string{"--addr", "127.0.0.1:1", "--job-timeout=1m", "-retry-base", "3s", "-fetch-allow-private", "--workers=5"})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.Addr, cfg.JobTimeout, cfg.RetryBase, cfg.FetchAllowPriv, cfg.Workers, cfg.DataDir, int64(cfg.MaxBodyBytes)}
	want := []any{"127.0.0.1:1", time.Minute, 3 * time.Second, true, 5, "/from/env", int64(1536 << 10)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// TestExitCodes: usage mistakes exit 2, failures 1, help and success 0.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		code int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{usageErrorf("serve", "unknown flag --x"), 2},
		{fmt.Errorf("wrapped: %w", usageErrorf("serve", "x")), 2},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.code {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
}
