package disk

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/voicehooktest"
)

func TestPutMovesTemporaryFile(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("moving into place is implemented on Linux; elsewhere Put copies")
	}
	s, root := newTestStorage(t)
	obj := voicehooktest.AudioFile(t, "", "segments/s1/x.mp3", []byte("moved audio"))
	obj.Temporary = true
	before, err := os.Stat(obj.Path)
	if err != nil {
		t.Fatal(err)
	}

	got, err := s.Put(context.Background(), obj)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	want := voicehook.StoredAudio{
		URL: "https://voice.example.com/media/segments/s1/x.mp3", Key: obj.Key, SHA256: obj.SHA256,
		Bytes: obj.Bytes, DurationMS: obj.DurationMS, ContentType: "audio/mpeg",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Put (-want +got):\n%s", diff)
	}
	dst := filepath.Join(root, "segments", "s1", "x.mp3")
	after, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("stored file is a copy, want the temporary file moved into place")
	}
	if after.Mode().Perm() != 0o644 {
		t.Errorf("stored file mode %v, want 0644", after.Mode().Perm())
	}
	if _, err := os.Stat(obj.Path); !os.IsNotExist(err) {
		t.Errorf("temporary file still at its old path (stat: %v)", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "moved audio" {
		t.Errorf("stored %q", b)
	}
	assertNoTempFiles(t, root)
}

func TestPutTemporarySizeMismatchStoresNothing(t *testing.T) {
	t.Parallel()
	s, root := newTestStorage(t)
	obj := voicehooktest.AudioFile(t, "", "segments/s1/x.mp3", []byte("audio bytes"))
	obj.Temporary = true
	obj.Bytes++
	_, err := s.Put(context.Background(), obj)
	if err == nil || voicehook.IsPermanent(err) || !strings.Contains(err.Error(), "expected") {
		t.Fatalf("Put = %v, want a transient size mismatch", err)
	}
	if _, err := os.Stat(filepath.Join(root, "segments", "s1", "x.mp3")); !os.IsNotExist(err) {
		t.Errorf("a mismatched file was stored under the key (stat: %v)", err)
	}
	if _, err := os.Stat(obj.Path); err != nil {
		t.Errorf("the caller's file was touched: %v", err)
	}
}

func TestPutTemporaryKeepsIntactCopy(t *testing.T) {
	t.Parallel()
	s, root := newTestStorage(t)
	first := voicehooktest.AudioFile(t, "", "segments/s1/x.mp3", []byte("same audio"))
	if _, err := s.Put(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, "segments", "s1", "x.mp3")
	before, _ := os.Stat(dst)
	again := voicehooktest.AudioFile(t, "", first.Key, []byte("same audio"))
	again.Temporary = true
	if _, err := s.Put(context.Background(), again); err != nil {
		t.Fatalf("Put: %v", err)
	}
	after, _ := os.Stat(dst)
	if !os.SameFile(before, after) {
		t.Errorf("an intact stored file was replaced")
	}
}
