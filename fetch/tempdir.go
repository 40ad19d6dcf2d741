package fetch

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrTempFull is wrapped by the (transient) error of a save refused because
// the temp folder holds its budget already: the download is retried later,
// once other downloads have been stored and their files removed.
var ErrTempFull = errors.New("temp folder over its budget")

// TempDir is one process's folder for audio on its way to storage:
// <root>/p-<random>, locked (flock on its .lock file) for as long as the
// process lives. The root may be shared: PostgreSQL replicas may share a
// data dir. The lock tells the next process which folders are orphans: a
// folder whose lock anybody can take belongs to a process that died (the
// kernel drops a dead process's flocks), and can go whole.
type TempDir struct {
	Root string
	// Path is this process's own folder: pass it to Download and Save.
	Path string
	// MaxBytes bounds what the whole root may hold (every process's
	// files); a save that would pass it fails with ErrTempFull. 0: no bound.
	MaxBytes int64
	lock     *os.File
}

// Swept says what OpenTempDir removed.
type Swept struct {
	Files int
	Bytes int64
}

// lockName is the lock file inside each process's folder.
const lockName = ".lock"

// OpenTempDir sweeps root of what dead processes left, then makes and locks
// this process's folder in it. A dead process's folder goes whole.
// Entries that no lock covers (files of the layout before per-process
// folders, a folder whose creator died before locking it) go only if they
// are older than started and, for loose files, only if exclusive says the
// caller holds the whole data dir (the SQLite data-dir lock): otherwise a
// process of an older version could still be writing them.
func OpenTempDir(root string, maxBytes int64, started time.Time, exclusive bool) (*TempDir, Swept, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, Swept{}, fmt.Errorf("creating temp dir: %w", err)
	}
	swept, err := sweep(root, started, exclusive)
	if err != nil {
		return nil, swept, err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	path := filepath.Join(root, "p-"+hex.EncodeToString(b))
	if err := os.Mkdir(path, 0o700); err != nil {
		return nil, swept, fmt.Errorf("creating this process's temp dir: %w", err)
	}
	lock, err := lockFile(filepath.Join(path, lockName))
	if err == nil && lock == nil {
		err = errors.New("held by another process") // a random name taken twice: never in practice
	}
	if err != nil {
		os.RemoveAll(path)
		return nil, swept, fmt.Errorf("locking this process's temp dir %s: %w", path, err)
	}
	return &TempDir{Root: root, Path: path, MaxBytes: maxBytes, lock: lock}, swept, nil
}

// Close removes this process's folder and releases its lock. Files still
// in it belonged to work that stopped with the process.
func (d *TempDir) Close() error {
	err := os.RemoveAll(d.Path)
	unlock(d.lock)
	if err != nil {
		return fmt.Errorf("removing temp dir: %w", err)
	}
	return nil
}

// lockFile opens path and takes its flock without waiting. It returns nil,
// nil when another live process holds it.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

// sweep removes from root what no live process can be writing.
func sweep(root string, started time.Time, exclusive bool) (Swept, error) {
	var swept Swept
	entries, err := os.ReadDir(root)
	if err != nil {
		return swept, fmt.Errorf("reading temp dir: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(root, e.Name())
		info, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		old := info.ModTime().Before(started)
		switch {
		case e.IsDir() && strings.HasPrefix(e.Name(), "p-"):
			lock, ok := orphanFolder(path, old)
			if !ok {
				continue // alive, or not ours to judge
			}
			// The dead owner's lock is held until its folder is gone, so
			// two processes starting together do not both judge it.
			defer unlock(lock)
		case e.IsDir():
			continue // not a folder this package made
		case !exclusive || !old:
			continue
		}
		n, bytes := usage(path)
		if err := os.RemoveAll(path); err != nil {
			return swept, fmt.Errorf("removing orphaned temp file %s: %w", path, err)
		}
		swept.Files += n
		swept.Bytes += bytes
	}
	return swept, nil
}

// orphanFolder reports whether a process folder's owner is gone: its lock
// can be taken (then it is returned, held), or the folder has no lock file
// and is older than this process (nil lock).
func orphanFolder(path string, old bool) (*os.File, bool) {
	lockPath := filepath.Join(path, lockName)
	if _, err := os.Stat(lockPath); errors.Is(err, fs.ErrNotExist) {
		return nil, old
	}
	f, err := lockFile(lockPath)
	if err != nil || f == nil {
		return nil, false
	}
	return f, true
}

func unlock(f *os.File) {
	if f != nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// usage counts the regular files under path and their bytes.
func usage(path string) (files int, bytes int64) {
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished while walking: a file being removed
		}
		if d.Type().IsRegular() && d.Name() != lockName {
			if info, err := d.Info(); err == nil {
				files++
				bytes += info.Size()
			}
		}
		return nil
	})
	return files, bytes
}

// room refuses a save when the root holds MaxBytes or more, counting every
// process's files (this save's partial file included).
func (d *TempDir) room() error {
	if d == nil || d.MaxBytes <= 0 {
		return nil
	}
	_, used := usage(d.Root)
	if used >= d.MaxBytes {
		return fmt.Errorf("%s holds %d bytes, its budget is %d: %w", d.Root, used, d.MaxBytes, ErrTempFull)
	}
	return nil
}

// budgetCheckEvery is how often a save looks at the temp folder's size:
// each look lists the folder (a few files), and a save overshoots the
// budget by at most this much.
const budgetCheckEvery = 4 << 20

// budgetWriter stops a save once the temp folder is over its budget.
type budgetWriter struct {
	w     io.Writer
	temp  *TempDir
	since int64
}

func (b *budgetWriter) Write(p []byte) (written int, err error) {
	// In chunks: one Write may carry the whole file (bytes.Reader's
	// WriteTo), and the budget is looked at after each chunk.
	for len(p) > 0 {
		chunk := p[:min(int64(len(p)), budgetCheckEvery-b.since)]
		n, err := b.w.Write(chunk)
		written += n
		b.since += int64(n)
		if err != nil {
			return written, err
		}
		p = p[n:]
		if b.since >= budgetCheckEvery {
			if err := b.temp.room(); err != nil {
				return written, err
			}
			b.since = 0
		}
	}
	return written, nil
}
