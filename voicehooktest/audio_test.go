package voicehooktest_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/voicehooktest"
)

// TestAudioObjectAsProcessingSeesIt: the fixture describes its file exactly
// as processing does after a download (fetch.Save sniffs, hashes and times
// the bytes), so backends are tested with what they will really be given.
func TestAudioObjectAsProcessingSeesIt(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{30 * time.Millisecond, time.Second, 2500 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			obj := voicehooktest.AudioObject(t, "", "scene 1", d)
			data, err := os.ReadFile(obj.Path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := fetch.Save(bytes.NewReader(data), t.TempDir(), 0)
			if err != nil {
				t.Fatalf("fetch.Save: %v", err)
			}
			want := voicehook.AudioObject{
				Key:         voicehook.AudioKey("scene 1", f.SHA256, f.Format),
				Path:        obj.Path,
				ContentType: f.ContentType,
				SHA256:      f.SHA256,
				Bytes:       f.Bytes,
				DurationMS:  f.DurationMS,
			}
			if diff := cmp.Diff(want, obj); diff != "" {
				t.Errorf("AudioObject(%v) (-as fetch.Save sees it +got):\n%s", d, diff)
			}
			if f.DurationMS == 0 || d-time.Duration(f.DurationMS)*time.Millisecond > 30*time.Millisecond {
				t.Errorf("AudioObject(%v) plays %d ms", d, f.DurationMS)
			}
		})
	}
}

func TestAudioFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		key  string
		data string
		want voicehook.AudioObject
	}{
		{"segments/s/a.wav", "RIFF", voicehook.AudioObject{Key: "segments/s/a.wav", ContentType: "audio/wav", Bytes: 4,
			SHA256: "a40ff3d5900fb7698b8c865041347cb49eccedc8f93945f89629ad104aaecce4"}},
		{"", "", voicehook.AudioObject{SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
	}
	for _, tt := range tests {
		got := voicehooktest.AudioFile(t, dir, tt.key, []byte(tt.data))
		if filepath.Dir(got.Path) != dir {
			t.Errorf("AudioFile wrote %s, want a file in %s", got.Path, dir)
		}
		stored, err := os.ReadFile(got.Path)
		if err != nil || string(stored) != tt.data {
			t.Errorf("AudioFile's file holds %q (%v), want %q", stored, err, tt.data)
		}
		tt.want.Path = got.Path
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("AudioFile(%q, %q) (-want +got):\n%s", tt.key, tt.data, diff)
		}
	}
}

func TestHTTPFetch(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/a.mp3" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("audio"))
	}))
	t.Cleanup(srv.Close)
	fetch := voicehooktest.HTTPFetch(srv.Client())
	got, err := fetch(context.Background(), srv.URL+"/a.mp3")
	if err != nil || string(got) != "audio" {
		t.Errorf("fetching a stored object = %q, %v; want \"audio\"", got, err)
	}
	// A 404 page is not the object: the suite must not compare its body.
	if got, err := fetch(context.Background(), srv.URL+"/gone.mp3"); err == nil {
		t.Errorf("fetching a missing object = %q, want an error", got)
	}
}
