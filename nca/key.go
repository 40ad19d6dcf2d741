package nca

import (
	"fmt"
	"strings"

	"github.com/voicehook/voicehook"
)

// checkKey rejects keys that are not plain relative paths. Keys are built by
// the caller, so a bad one is a bug no retry fixes: permanent.
func checkKey(key string) error {
	if err := keyProblem(key); err != nil {
		return voicehook.Permanent(fmt.Sprintf("nca: invalid storage key %q", key), err)
	}
	return nil
}

func keyProblem(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("key is empty")
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("key is absolute")
	case strings.ContainsAny(key, "\\\x00"):
		return fmt.Errorf("key contains a backslash or NUL")
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("key has an empty path segment")
		case ".", "..":
			return fmt.Errorf("key has a %q segment", seg)
		}
	}
	return nil
}
