package voicehook

import (
	"fmt"
	"mime"
	"path"
	"regexp"
	"strings"
)

var unsafeKeyChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// AudioKey names stored audio by segment and content
// (segments/<segment>/<sha256>.<format>), so storing the same audio again
// writes the same object. Segment ids that would not make a plain path
// segment are replaced by a prefix of the hash.
func AudioKey(segmentID, sha256Hex, format string) string {
	seg := unsafeKeyChars.ReplaceAllString(segmentID, "_")
	if seg == "" || seg[0] == '.' || len(seg) > 100 {
		seg = "s_" + sha256Hex[:16]
	}
	return fmt.Sprintf("segments/%s/%s.%s", seg, sha256Hex, format)
}

// KeyProblem says why key is not a plain relative path every storage can
// hold and every URL keeps as it is: empty, absolute, with backslashes, NUL,
// empty, "." or ".." segments. Nil when it is fine.
func KeyProblem(key string) error {
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

// audioTypes maps the extensions voicehook stores to their media types; the
// system MIME table varies between hosts and often lacks .flac or .ogg.
var audioTypes = map[string]string{
	".mp3":  "audio/mpeg",
	".wav":  "audio/wav",
	".ogg":  "audio/ogg",
	".flac": "audio/flac",
	// Captions of generated voiceovers, stored beside their audio.
	".vtt": "text/vtt; charset=utf-8",
	".srt": "application/x-subrip; charset=utf-8",
}

// ContentTypeOf gives the media type of a stored key by its extension.
func ContentTypeOf(key string) string {
	ext := strings.ToLower(path.Ext(key))
	if ct, ok := audioTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}
