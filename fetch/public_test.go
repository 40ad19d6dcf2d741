package fetch_test

import (
	"testing"

	"github.com/voicehook/voicehook/fetch"
)

func TestPublicHTTPS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://cdn.voice.example.com/a.mp3", true},
		{"https://storage.googleapis.com/bucket/a.mp3", true},
		{"https://8.8.8.8/a.mp3", true},
		{"http://cdn.voice.example.com/a.mp3", false},
		{"https://127.0.0.1:8080/media/a.mp3", false},
		{"https://[::1]/a.mp3", false},
		{"https://10.1.2.3/a.mp3", false},
		{"https://192.168.1.9/a.mp3", false},
		{"https://localhost/a.mp3", false},
		{"https://media.localhost/a.mp3", false},
		{"https://nas.local/a.mp3", false},
		{"https://media.internal/a.mp3", false},
		{"https://voice.test/a.mp3", false},
		{"https://intranet/a.mp3", false},
		{"https://2130706433/a.mp3", false},
		{"https://user:pw@cdn.voice.example.com/a.mp3", false},
		{"not a url", false},
		{"", false},
	} {
		if got := fetch.PublicHTTPS(tc.url); got != tc.want {
			t.Errorf("PublicHTTPS(%q) = %v; want %v", tc.url, got, tc.want)
		}
	}
}
