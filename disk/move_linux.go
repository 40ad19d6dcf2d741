package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// renameInto renames src to name inside the directory dir, relative to its
// descriptor so that the target cannot be redirected outside the media root.
func renameInto(src string, dir *os.File, name string) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	// An absolute old path makes renameat ignore its first descriptor.
	fd := int(dir.Fd())
	err = syscall.Renameat(fd, abs, fd, name)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EXDEV):
		return errCannotMove
	}
	return fmt.Errorf("disk: rename %s into place as %s: %w", src, name, err)
}
