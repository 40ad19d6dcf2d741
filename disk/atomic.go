package disk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
)

// writeAtomic copies srcPath to key under root so that readers see either no
// file or the whole file, even across a crash: write a temp file in the same
// directory, fsync it, rename it over key, then fsync the directories so the
// rename itself is durable. verify sees the size and sha256 of what was
// copied and can veto the rename.
func writeAtomic(ctx context.Context, root *os.Root, key, srcPath string, verify func(sum string, n int64) error) (sum string, n int64, err error) {
	src, err := os.Open(srcPath)
	if err != nil {
		return "", 0, fmt.Errorf("disk: open source file: %w", err)
	}
	defer src.Close()

	dir := path.Dir(key)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return "", 0, fmt.Errorf("disk: create directory for %s: %w", key, err)
	}
	tmp := path.Join(dir, tempPrefix+rand.Text())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", 0, fmt.Errorf("disk: create temp file for %s: %w", key, err)
	}
	renamed := false
	defer func() {
		if f != nil {
			f.Close()
		}
		if !renamed {
			root.Remove(tmp)
		}
	}()

	h := sha256.New()
	n, err = io.Copy(io.MultiWriter(f, h), &ctxReader{ctx: ctx, r: src})
	if err != nil {
		return "", 0, fmt.Errorf("disk: copy %s: %w", key, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if err := verify(sum, n); err != nil {
		return "", 0, err
	}
	if err := f.Sync(); err != nil {
		return "", 0, fmt.Errorf("disk: fsync %s: %w", key, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return "", 0, fmt.Errorf("disk: close %s: %w", key, err)
	}
	if err := root.Rename(tmp, key); err != nil {
		return "", 0, fmt.Errorf("disk: rename temp file to %s: %w", key, err)
	}
	renamed = true
	if err := syncDirs(root, dir); err != nil {
		return "", 0, err
	}
	return sum, n, nil
}

// syncDirs fsyncs dir and every parent up to the root: MkdirAll may have just
// created them, and a new entry is only durable once its parent is synced.
func syncDirs(root *os.Root, dir string) error {
	// Windows cannot fsync a directory; NTFS journals renames itself.
	if runtime.GOOS == "windows" {
		return nil
	}
	for {
		d, err := root.Open(dir)
		if err != nil {
			return fmt.Errorf("disk: open directory %s: %w", dir, err)
		}
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("disk: fsync directory %s: %w", dir, err)
		}
		if dir == "." {
			return nil
		}
		dir = path.Dir(dir)
	}
}

// hashFile returns the sha256 and size of key under root.
func hashFile(ctx context.Context, root *os.Root, key string) (string, int64, error) {
	f, err := root.Open(key)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if !fi.Mode().IsRegular() {
		return "", 0, fmt.Errorf("%s is not a regular file", key)
	}
	h := sha256.New()
	n, err := io.Copy(h, &ctxReader{ctx: ctx, r: f})
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxReader stops a long copy once its context is done, so a shutdown does
// not wait for a large file to finish.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
