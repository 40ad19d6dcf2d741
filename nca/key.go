package nca

import (
	"fmt"

	"github.com/voicehook/voicehook"
)

// checkKey rejects keys that are not plain relative paths. Keys are built by
// the caller, so a bad one is a bug no retry fixes: permanent.
func checkKey(key string) error {
	if err := voicehook.KeyProblem(key); err != nil {
		return voicehook.Permanent(fmt.Sprintf("nca: invalid storage key %q", key), err)
	}
	return nil
}
