package disk

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
)

// Check proves the media directory is writable by writing and removing a
// probe file, the way Put writes (inside os.Root, temp-prefixed so the
// handler never serves it).
func (s *Storage) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fix := fmt.Sprintf("make sure %s exists and voicehook's user may write to it, or set --data-dir", s.root)
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return fmt.Errorf("disk: cannot open media directory: %w: %s", err, fix)
	}
	defer root.Close()
	probe := tempPrefix + "check-" + rand.Text()
	f, err := root.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("disk: media directory is not writable: %w: %s", err, fix)
	}
	_, werr := f.Write([]byte("voicehook write check\n"))
	serr := f.Sync()
	cerr := f.Close()
	rerr := root.Remove(probe)
	for _, err := range []error{werr, serr, cerr} {
		if err != nil {
			return fmt.Errorf("disk: cannot write to media directory (disk full?): %w: %s", err, fix)
		}
	}
	if rerr != nil {
		return fmt.Errorf("disk: cannot remove probe file %s from the media directory: %w: %s", probe, rerr, fix)
	}
	return nil
}
