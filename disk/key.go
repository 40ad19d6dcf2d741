package disk

import (
	"fmt"
	"strings"

	"github.com/voicehook/voicehook"
)

// tempPrefix starts the name of every file this package writes before it is
// complete (uploads in flight, Check's probe). Keys may not use it and the
// handler never serves it, so a half-written file is never visible.
const tempPrefix = ".voicehook-tmp-"

// checkKey rejects keys that could leave the root or hit a temp file. Keys
// are built by the caller, so a bad one is a bug no retry fixes: permanent.
func checkKey(key string) error {
	if err := keyProblem(key); err != nil {
		return voicehook.Permanent(fmt.Sprintf("disk: invalid storage key %q", key), err)
	}
	return nil
}

func keyProblem(key string) error {
	if err := voicehook.KeyProblem(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, tempPrefix) {
			return fmt.Errorf("key uses the reserved prefix %q", tempPrefix)
		}
	}
	return nil
}
