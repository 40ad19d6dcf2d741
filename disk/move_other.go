//go:build !linux

package disk

import "os"

func renameInto(string, *os.File, string) error { return errCannotMove }
