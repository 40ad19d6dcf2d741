package fetch

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
)

func writeFileAt(t *testing.T, path string, n int, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, n), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func present(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// OpenTempDir removes what dead processes left and nothing a live one may
// be writing.
func TestOpenTempDirSweeps(t *testing.T) {
	t.Parallel()
	started := time.Now()
	before, after := started.Add(-time.Hour), started.Add(time.Second)
	for _, exclusive := range []bool{true, false} {
		root := t.TempDir()
		live, _, err := OpenTempDir(root, 0, started, false) // another process, alive
		if err != nil {
			t.Fatal(err)
		}
		writeFileAt(t, filepath.Join(live.Path, "audio-live"), 100, before)
		dead := filepath.Join(root, "p-dead")
		writeFileAt(t, filepath.Join(dead, lockName), 0, before)
		writeFileAt(t, filepath.Join(dead, "audio-1"), 1000, before)
		writeFileAt(t, filepath.Join(dead, "audio-2"), 24, before)
		unlocked := filepath.Join(root, "p-nolock")
		writeFileAt(t, filepath.Join(unlocked, "audio-3"), 7, before)
		if err := os.Chtimes(unlocked, before, before); err != nil {
			t.Fatal(err)
		}
		looseOld, looseNew := filepath.Join(root, "audio-old"), filepath.Join(root, "audio-new")
		writeFileAt(t, looseOld, 5, before)
		writeFileAt(t, looseNew, 5, after)
		other := filepath.Join(root, "not-ours")
		writeFileAt(t, filepath.Join(other, "x"), 1, before)

		d, swept, err := OpenTempDir(root, 0, started, exclusive)
		if err != nil {
			t.Fatal(err)
		}
		want := Swept{Files: 3, Bytes: 1031}
		if exclusive {
			want = Swept{Files: 4, Bytes: 1036}
		}
		if swept != want {
			t.Errorf("exclusive %v: swept %+v, want %+v", exclusive, swept, want)
		}
		for path, keep := range map[string]bool{
			filepath.Join(live.Path, "audio-live"): true, dead: false, unlocked: false,
			looseOld: !exclusive, looseNew: true, other: true, d.Path: true,
		} {
			if present(path) != keep {
				t.Errorf("exclusive %v: %s present %v, want %v", exclusive, path, present(path), keep)
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if present(d.Path) {
			t.Error("Close left the process's folder behind")
		}
		live.Close()
	}
}

// A save refuses, transiently, to take the temp folder past its budget:
// at once when it is full, midway when other files and this one fill it.
func TestSaveWithinTempBudget(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d, _, err := OpenTempDir(root, 10<<20, time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f := &Fetcher{Temp: d}
	others := filepath.Join(root, "p-other", "audio-big")
	assertFull := func(err error) {
		t.Helper()
		if !errors.Is(err, ErrTempFull) || voicehook.IsPermanent(err) {
			t.Fatalf("Save = %v, want a transient error wrapping ErrTempFull", err)
		}
		entries, err := os.ReadDir(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != lockName {
				t.Errorf("left behind: %s", e.Name())
			}
		}
	}

	writeFileAt(t, others, 10<<20, time.Now())
	_, err = f.Save(bytes.NewReader(testMP3), d.Path, 0)
	assertFull(err)

	writeFileAt(t, others, 5<<20, time.Now())
	_, err = f.Save(bytes.NewReader(make([]byte, 8<<20)), d.Path, 0)
	assertFull(err)

	if err := os.Remove(others); err != nil {
		t.Fatal(err)
	}
	file, err := f.Save(bytes.NewReader(testMP3), d.Path, 0)
	if err != nil {
		t.Fatalf("Save with room: %v", err)
	}
	if filepath.Dir(file.Path) != d.Path {
		t.Errorf("saved to %s, want inside %s", file.Path, d.Path)
	}
}
