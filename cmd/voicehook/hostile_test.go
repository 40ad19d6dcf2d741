package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
)

// TestStalledUploadsCannotPinMemory: 32 senders each declare a 32 MiB body
// under a fresh-looking (but forged) signature, send all but the last KiB
// and stall. Without a budget for bodies in flight the server held them all
// (the hardening report saw 695 MiB for 16); with it, the server's peak RSS
// stays under 150 MiB, the uploads over the budget are answered 503, and a
// genuine delivery sent meanwhile is acknowledged.
func TestStalledUploadsCannotPinMemory(t *testing.T) {
	t.Parallel()
	p := startServe(t, "--data-dir", t.TempDir(), "--elevenlabs-secret", testSecret)
	addr := strings.TrimPrefix(p.base, "http://")
	h := &harness{t: t, base: p.base}

	const uploads, size = 32, 32 << 20
	forged := elevenlabs.Sign("wsec_not_the_secret", time.Now(), []byte("x"))
	chunk := make([]byte, 256<<10)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		conns   []net.Conn
		refused int
	)
	for range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			fmt.Fprintf(c, "POST /webhooks/elevenlabs HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s: %s\r\n\r\n",
				addr, size, elevenlabs.HeaderName, forged)
			for sent := 0; sent < size-1024; sent += len(chunk) {
				_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
				if _, err := c.Write(chunk[:min(len(chunk), size-1024-sent)]); err != nil {
					break // the server answered and closed: read why below
				}
			}
			// Stalled: the last KiB never comes. A refused upload has
			// its answer waiting.
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if resp, err := bufio.NewReader(c).ReadString('\n'); err == nil && strings.Contains(resp, " 503 ") {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})

	h.createJob("hostile-1", "")
	src := newAudioSource(t)
	code, a := h.deliver("hostile-1", seedCompleted(src.url("h.mp3")))
	if code != 200 {
		t.Fatalf("genuine delivery during the stall: %d %+v", code, a)
	}
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("peak RSS %d MiB with %d stalled 32 MiB uploads (%d refused with 503)", peak>>20, uploads, refused)
	if peak > 150<<20 {
		t.Fatalf("peak RSS %d MiB, want under 150 MiB", peak>>20)
	}
	if refused < uploads/2 {
		t.Fatalf("only %d of %d stalled uploads were refused with 503", refused, uploads)
	}
}

// peakRSS reads a process's peak resident set (VmHWM) from /proc.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
