package voicehook

import (
	"strings"
	"testing"
)

func TestAudioKey(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("ab", 32)
	byHash := "segments/s_" + sha[:16] + "/" + sha + ".mp3"
	cases := []struct{ segment, want string }{
		{"scene-12", "segments/scene-12/" + sha + ".mp3"},
		{"recA1b2C3", "segments/recA1b2C3/" + sha + ".mp3"},
		{"a b/c", "segments/a_b_c/" + sha + ".mp3"},
		// A leading dot would make a hidden or relative path segment.
		{"../../etc/passwd", byHash},
		{"", byHash},
		{strings.Repeat("x", 101), byHash},
	}
	for _, c := range cases {
		got := AudioKey(c.segment, sha, "mp3")
		if got != c.want {
			t.Errorf("AudioKey(%q) = %q, want %q", c.segment, got, c.want)
		}
		if err := KeyProblem(got); err != nil {
			t.Errorf("AudioKey(%q) = %q, which KeyProblem refuses: %v", c.segment, got, err)
		}
	}
}

func TestKeyProblem(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key string
		ok  bool
	}{
		{"segments/a/b.mp3", true},
		{"", false},
		{"/abs/key.mp3", false},
		{"a//b.mp3", false},
		{"a/../b.mp3", false},
		{"a/./b.mp3", false},
		{"a\\b.mp3", false},
		{"a\x00b.mp3", false},
		{"a/b/", false},
	}
	for _, c := range cases {
		if err := KeyProblem(c.key); (err == nil) != c.ok {
			t.Errorf("KeyProblem(%q) = %v, want ok=%v", c.key, err, c.ok)
		}
	}
}

func TestContentTypeOf(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"a/b.mp3": "audio/mpeg", "a/b.WAV": "audio/wav", "b.ogg": "audio/ogg", "b.flac": "audio/flac", "b.unknownext": "application/octet-stream",
	} {
		if got := ContentTypeOf(key); got != want {
			t.Errorf("ContentTypeOf(%q) = %q, want %q", key, got, want)
		}
	}
}
