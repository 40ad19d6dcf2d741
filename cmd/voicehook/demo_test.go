package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemo runs the README's first command: both ways a job finishes, with
// no network and no accounts.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, &out, &errs); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errs.String())
	}
	for _, want := range []string{
		`(?m)^3\. segment demo-segment-1: (\w+ → )*voiceover_ready$`,
		`4\. job job_\S+: completed`,
		`not processed twice`,
		`6\. job job_\S+: completed — ElevenLabs request req_\d+, \d+ characters`,
		`captions:   http://\S+\.vtt`,
		`7\. QA: .*: flagged, word error rate 15\.4%`,
		`substitution at \d+\.\d\ds: "stored" heard as "snored"`,
		`substitution at \d+\.\d\ds: "captioned" heard as "captained"`,
		`data dir \S+ \(deleted at exit; --keep keeps it\)`,
		`stored at:  \S+\.mp3 \(deleted at exit; --keep keeps it\)`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	// Each step is said once.
	for _, step := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		if n := len(regexp.MustCompile(`(?m)^\n?`+step+`\. `).FindAllString(out.String(), -1)); n != 1 {
			t.Errorf("step %s said %d times:\n%s", step, n, out.String())
		}
	}
}

// TestDemoServe runs `voicehook demo --serve` as users do: after the demo
// its server keeps running and prints where its pages are; they answer;
// Ctrl-C (SIGINT) stops it with exit code 0 and removes the temp data dir.
func TestDemoServe(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary(t), "demo", "--serve")
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	dirLine := regexp.MustCompile(`data dir (\S+) \(deleted at exit`)
	pagesLine := regexp.MustCompile(`^pages: (http://\S+/)$`)
	var dir, pages string
	var out []string
	timeout := time.After(90 * time.Second)
	for pages == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("demo --serve ended before printing its pages' URL:\n%s\nstderr:\n%s", strings.Join(out, "\n"), stderr.String())
			}
			out = append(out, line)
			if m := dirLine.FindStringSubmatch(line); m != nil {
				dir = m[1]
			}
			if m := pagesLine.FindStringSubmatch(line); m != nil {
				pages = m[1]
			}
		case <-timeout:
			t.Fatalf("no pages URL in 90s:\n%s", strings.Join(out, "\n"))
		}
	}
	// The demo names its server localhost; this test dials the address
	// itself, never a name.
	pages = strings.Replace(pages, "//localhost:", "//127.0.0.1:", 1)
	resp, err := http.Get(pages)
	if err != nil {
		t.Fatalf("GET %s: %v", pages, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "demo-segment") {
		t.Fatalf("GET %s = %d:\n%.2000s", pages, resp.StatusCode, body)
	}
	if dir == "" {
		t.Fatalf("no data dir line:\n%s", strings.Join(out, "\n"))
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range lines {
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo --serve after SIGINT: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo --serve did not stop within 30s of SIGINT")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s still there after exit: %v", dir, err)
	}
}
