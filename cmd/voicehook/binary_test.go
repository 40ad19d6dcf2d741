package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// These tests start the real binary, as users and their process managers
// do, and kill it with SIGKILL.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "voicehook-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "voicehook")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is one running `voicehook serve`.
type proc struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

var servingAddr = regexp.MustCompile(`msg="voicehook serving" addr=(\S+)`)

func startServe(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--callback-key", testCallbackKey}, args...)...)
	cmd.Env = append(os.Environ(), "VOICEHOOK_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := servingAddr.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
			if strings.Contains(line, "level=ERROR") && !strings.Contains(line, "river") {
				t.Log(line)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.done:
		t.Fatalf("voicehook serve exited before serving")
	case <-time.After(60 * time.Second):
		t.Fatalf("voicehook serve did not start in 60s")
	}
	return p
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) stop(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("voicehook did not stop within 30s of SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d", code)
	}
}

// TestCrashBeforeProcessingLosesNothing acknowledges events while their
// audio cannot be fetched, kills the server with SIGKILL, restarts it and
// finds every acknowledged event processed exactly once.
func TestCrashBeforeProcessingLosesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := &harness{t: t, src: newAudioSource(t)}
	release := make(chan struct{})
	h.src.blocking = release
	args := []string{"--data-dir", dir, "--elevenlabs-secret", testSecret, "--fetch-allow-private",
		"--job-timeout", "2s", "--retry-base", "50ms", "--retry-max", "500ms"}
	p := startServe(t, args...)
	h.base = p.base

	const n = 40
	acked := h.deliverJobs("crash-seg", n)
	// Wait until processing has started (downloads are hanging), then crash.
	deadline := time.Now().Add(10 * time.Second)
	for h.src.hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.kill()
	close(release)

	p2 := startServe(t, args...)
	h.base = p2.base
	for id, seg := range acked {
		ev := h.waitEventLong(id, 90*time.Second)
		if ev.Status != "succeeded" {
			t.Fatalf("event %s after restart = %+v", id, ev)
		}
		succeeded := 0
		for _, at := range ev.History {
			if at.Outcome == "succeeded" {
				succeeded++
			}
		}
		if succeeded != 1 {
			t.Fatalf("event %s succeeded %d times: %+v", id, succeeded, ev.History)
		}
		s := h.segment(seg)
		if s.Status != "voiceover_ready" || len(s.Jobs) != 1 || s.Jobs[0].Status != "completed" {
			t.Fatalf("segment %s = %+v", seg, s)
		}
	}
	var list struct{ Events []eventView }
	h.do("GET", "/api/events?limit=1000", nil, nil, &list)
	if len(list.Events) != n {
		t.Fatalf("%d events stored, want %d", len(list.Events), n)
	}
	p2.stop(t)

	// And the store on disk agrees: one row per acknowledged event.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "voicehook.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, claims int
	if err := db.QueryRow("SELECT COUNT(*) FROM voicehook_events").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM voicehook_claims").Scan(&claims); err != nil {
		t.Fatal(err)
	}
	if rows != n || claims != n {
		t.Fatalf("rows %d claims %d, want %d each", rows, claims, n)
	}
}

// deliverJobs creates n jobs (segments prefix-0 …) and delivers each a
// completed callback, returning the acknowledged event ids → segments.
func (h *harness) deliverJobs(prefix string, n int) map[string]string {
	h.t.Helper()
	acked := map[string]string{}
	for i := range n {
		seg := fmt.Sprintf("%s-%d", prefix, i)
		h.createJob(seg, "")
		code, a := h.deliver(seg, seedCompleted(h.src.url(seg+".mp3")))
		if code != 200 {
			h.t.Fatalf("delivery %d: %d %+v", i, code, a)
		}
		acked[a.EventID] = seg
	}
	return acked
}

func (h *harness) waitEventLong(id string, d time.Duration) eventView {
	h.t.Helper()
	return h.waitEventUntil(id, time.Now().Add(d))
}

func TestServeRejectsSecondProcessOnDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startServe(t, "--data-dir", dir)
	out, err := exec.CommandContext(context.Background(), binary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another voicehook") {
		t.Fatalf("second serve on one data dir: err %v, output %s", err, out)
	}
}

func TestGracefulShutdownKeepsAcknowledged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := &harness{t: t, src: newAudioSource(t)}
	args := []string{"--data-dir", dir, "--elevenlabs-secret", testSecret, "--fetch-allow-private"}
	p := startServe(t, args...)
	h.base = p.base
	h.createJob("shut-1", "")
	_, a := h.deliver("shut-1", seedCompleted(h.src.url("s.mp3")))
	p.stop(t)
	if _, err := http.Get(p.base + "/healthz"); err == nil {
		t.Fatalf("still answering after SIGTERM")
	}
	p2 := startServe(t, args...)
	h.base = p2.base
	if ev := h.waitEvent(a.EventID); ev.Status != "succeeded" {
		t.Fatalf("event = %+v", ev)
	}
}
