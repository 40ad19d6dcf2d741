package main

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// writeOld writes a file of n bytes dated an hour ago, as a download cut
// short by a kill leaves it.
func writeOld(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, n), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// serving returns once the app answers HTTP, which it does only after its
// start (the sweep included, and the queue's start) is over, so the test
// ends with a fully started app.
func serving(t *testing.T, h *harness) {
	t.Helper()
	resp, err := http.Get(h.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// A SIGKILL leaves the audio being downloaded in <data-dir>/tmp; the next
// start removes it. On SQLite the data-dir lock proves no other process
// writes there.
func TestStartRemovesOrphanedTempFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	orphans := []string{
		filepath.Join(dir, "tmp", "audio-3141592653"),                // the layout before per-process folders
		filepath.Join(dir, "tmp", "captions-2718281828"),             // ditto
		filepath.Join(dir, "tmp", "p-deadbeef", "audio-1618033988"),  // a dead process's folder
		filepath.Join(dir, "tmp", "p-deadbeef", "audio-14142135623"), // ditto
	}
	for _, p := range orphans {
		writeOld(t, p, 1<<20)
	}
	// The dead process's lock file, no longer locked by anyone.
	writeOld(t, filepath.Join(dir, "tmp", "p-deadbeef", ".lock"), 0)
	serving(t, setup(t, "sqlite", func(c *config) { c.DataDir = dir }))
	for _, p := range orphans {
		if exists(t, p) {
			t.Errorf("orphaned %s is still there after a start", p)
		}
	}
	if exists(t, filepath.Join(dir, "tmp", "p-deadbeef")) {
		t.Error("the dead process's temp folder is still there")
	}
}

// Replicas on PostgreSQL may share a data dir (shared local storage); the
// folder of a live one, whose lock is held, is never touched, however old
// its files.
func TestStartKeepsLiveProcessTempFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	live := filepath.Join(dir, "tmp", "p-cafebabe")
	writeOld(t, filepath.Join(live, "audio-1"), 1<<20)
	lock, err := os.OpenFile(filepath.Join(live, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "tmp", "p-deadbeef")
	writeOld(t, filepath.Join(dead, "audio-2"), 1<<20)
	writeOld(t, filepath.Join(dead, ".lock"), 0)
	serving(t, setup(t, "postgres", func(c *config) { c.DataDir = dir }))
	if !exists(t, filepath.Join(live, "audio-1")) {
		t.Error("a live process's temp file was removed")
	}
	if exists(t, dead) {
		t.Error("a dead process's temp folder is still there")
	}
}
