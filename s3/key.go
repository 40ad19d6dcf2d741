package s3

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/voicehook/voicehook"
)

// maxKeyBytes is S3's limit on object key length.
const maxKeyBytes = 1024

// checkKey rejects keys that are not plain relative paths (S3 itself would
// accept "." and "..", but public URLs built from them get normalised by
// browsers and CDNs and stop pointing at the object) or are too long. Keys
// are built by the caller, so a bad one is a bug no retry fixes: permanent.
func checkKey(key string) error {
	err := voicehook.KeyProblem(key)
	if err == nil && len(key) > maxKeyBytes {
		err = fmt.Errorf("key is %d bytes; S3 allows %d", len(key), maxKeyBytes)
	}
	if err != nil {
		return voicehook.Permanent(fmt.Sprintf("s3: invalid storage key %q", key), err)
	}
	return nil
}

// escapeKey escapes each segment of key for use in a URL path.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}
