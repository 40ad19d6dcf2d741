package disk

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/voicehooktest"
)

var testKey = []byte("0123456789abcdef-test-signing-key")

func newTestStorage(t *testing.T, opts ...Option) (*Storage, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "media")
	s, err := New(root, "https://voice.example.com/", testKey, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, root
}

// TestStorageContract runs the Storage suite every backend passes, reading
// objects back through the media handler, as listeners do.
func TestStorageContract(t *testing.T) {
	t.Parallel()
	voicehooktest.RunStorage(t, func(t *testing.T) voicehooktest.StorageHarness {
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		s, err := New(filepath.Join(t.TempDir(), "media"), srv.URL, testKey)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		mux.Handle("/media/", s.Handler(false))
		return voicehooktest.StorageHarness{Storage: s, Fetch: voicehooktest.HTTPFetch(srv.Client())}
	})
}

// TestPutLayout: the URL is the public URL with the key escaped, and the
// file lands under the key, without temp files left behind.
func TestPutLayout(t *testing.T) {
	t.Parallel()
	s, root := newTestStorage(t)
	obj := voicehooktest.AudioObject(t, "", "seg-1", time.Second)
	obj.Key = "segments/seg 1/abc.mp3"
	data, err := os.ReadFile(obj.Path)
	if err != nil {
		t.Fatal(err)
	}

	got, err := s.Put(context.Background(), obj)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	want := voicehook.StoredAudio{
		URL:         "https://voice.example.com/media/segments/seg%201/abc.mp3",
		Key:         obj.Key,
		SHA256:      obj.SHA256,
		Bytes:       obj.Bytes,
		DurationMS:  obj.DurationMS,
		ContentType: "audio/mpeg",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Put result (-want +got):\n%s", diff)
	}
	stored, err := os.ReadFile(filepath.Join(root, "segments", "seg 1", "abc.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, data) {
		t.Errorf("stored %d bytes differ from the source", len(stored))
	}
	assertNoTempFiles(t, root)
}

// TestPutKeepsIntactFile: putting audio that is already stored, whole,
// writes nothing.
func TestPutKeepsIntactFile(t *testing.T) {
	t.Parallel()
	s, root := newTestStorage(t)
	obj := voicehooktest.AudioFile(t, "", "segments/s1/x.mp3", []byte("same audio"))
	ctx := context.Background()

	if _, err := s.Put(ctx, obj); err != nil {
		t.Fatalf("first Put: %v", err)
	}
	dst := filepath.Join(root, "segments", "s1", "x.mp3")
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(dst, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, obj); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(old) {
		t.Errorf("repeat Put rewrote an intact file (mtime %v, want %v)", fi.ModTime(), old)
	}
}

func TestPutRepairsDamagedFile(t *testing.T) {
	t.Parallel()
	s, root := newTestStorage(t)
	obj := voicehooktest.AudioFile(t, "", "segments/s1/x.mp3", []byte("the real audio"))
	dst := filepath.Join(root, "segments", "s1", "x.mp3")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("trunc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), obj); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("the real audio", string(got)); diff != "" {
		t.Errorf("file after Put (-want +got):\n%s", diff)
	}
}

func TestPutRejectsBadKeys(t *testing.T) {
	t.Parallel()
	s, root := newTestStorage(t)
	for _, key := range []string{
		"",
		"/etc/passwd",
		"../outside.mp3",
		"segments/../../outside.mp3",
		"segments//x.mp3",
		"segments/./x.mp3",
		"segments/x.mp3/",
		`segments\x.mp3`,
		"segments/" + tempPrefix + "x",
		"nul\x00.mp3",
	} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			obj := voicehooktest.AudioFile(t, "", key, []byte("audio"))
			_, err := s.Put(context.Background(), obj)
			if !voicehook.IsPermanent(err) {
				t.Errorf("Put(%q) = %v, want a permanent error", key, err)
			}
		})
	}
	t.Cleanup(func() { assertNoTempFiles(t, root) })
}

func TestPutMismatchIsTransient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*voicehook.AudioObject)
		want   string
	}{
		{"size", func(o *voicehook.AudioObject) { o.Bytes++ }, "expected"},
		{"hash", func(o *voicehook.AudioObject) { o.SHA256 = strings.Repeat("0", 64) }, "sha256"},
		{"missing source", func(o *voicehook.AudioObject) { o.Path += ".gone" }, "open source file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, root := newTestStorage(t)
			obj := voicehooktest.AudioFile(t, "", "segments/s/x.mp3", []byte("audio bytes"))
			tt.change(&obj)
			_, err := s.Put(context.Background(), obj)
			if err == nil || voicehook.IsPermanent(err) {
				t.Fatalf("Put = %v, want a transient error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(root, "segments", "s", "x.mp3")); !os.IsNotExist(err) {
				t.Errorf("a mismatched file was stored under the key (stat: %v)", err)
			}
			assertNoTempFiles(t, root)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, root, url string
		key             []byte
		want            string
	}{
		{"no root", "", "https://x.example", testKey, "--data-dir"},
		{"relative url", "ROOT", "/voice", testKey, "--public-url"},
		{"no url", "ROOT", "", testKey, "--public-url"},
		{"ftp url", "ROOT", "ftp://x.example", testKey, "--public-url"},
		{"short key", "ROOT", "https://x.example", []byte("short"), "at least 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := strings.ReplaceAll(tt.root, "ROOT", t.TempDir())
			_, err := New(root, tt.url, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	s, root := newTestStorage(t)
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("Check on a writable directory: %v", err)
	}
	assertNoTempFiles(t, root)

	// Replace the media directory with a file: nothing can be written.
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "voicehook's user may write") {
		t.Errorf("Check on a broken directory = %v, want advice on what to fix", err)
	}
}

func assertNoTempFiles(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}
