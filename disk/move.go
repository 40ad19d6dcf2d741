package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/voicehook/voicehook"
)

// errCannotMove means the platform or the file systems involved cannot
// rename the source into the media directory; Put copies instead.
var errCannotMove = errors.New("cannot move into the media directory")

// moveInto stores a Temporary object by renaming it into place: the file the
// caller wrote and hashed becomes the stored file, so storing costs no copy,
// no second file and no further sha256 pass. The caller's hash stands for
// the content (it was computed as the bytes were written); the size is
// checked on the open file. Durability is the same as a copy's: the file is
// fsynced before the rename, and its directories after it.
func moveInto(ctx context.Context, root *os.Root, obj voicehook.AudioObject) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(obj.Path)
	if err != nil {
		return fmt.Errorf("disk: open source file: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", obj.Path)
	}
	if err == nil {
		err = compare("source file", obj, obj.SHA256, fi.Size())
	}
	if err == nil {
		// CreateTemp made it private; stored audio is readable like a copy.
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("disk: prepare %s: %w", obj.Key, err)
	}

	dir := path.Dir(obj.Key)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("disk: create directory for %s: %w", obj.Key, err)
	}
	d, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("disk: open directory for %s: %w", obj.Key, err)
	}
	err = renameInto(obj.Path, d, path.Base(obj.Key))
	d.Close()
	if err != nil {
		return err
	}
	return syncDirs(root, dir)
}
