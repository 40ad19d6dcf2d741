package s3

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/voicehook/voicehook"
)

// maxKeyBytes is S3's limit on object key length.
const maxKeyBytes = 1024

// checkKey rejects keys that are not plain relative paths. Keys are built by
// the caller, so a bad one is a bug no retry fixes: permanent.
func checkKey(key string) error {
	if err := keyProblem(key); err != nil {
		return voicehook.Permanent(fmt.Sprintf("s3: invalid storage key %q", key), err)
	}
	return nil
}

func keyProblem(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("key is empty")
	case len(key) > maxKeyBytes:
		return fmt.Errorf("key is %d bytes; S3 allows %d", len(key), maxKeyBytes)
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
			// S3 itself would accept these, but public URLs built from them
			// get normalised by browsers and CDNs and stop pointing at the
			// object.
			return fmt.Errorf("key has a %q segment", seg)
		}
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
