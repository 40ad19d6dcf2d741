package nca

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/nca/ncatest"
)

const testAPIKey = "nca-test-key-5f3a9c"

func newEmulator(t *testing.T) *ncatest.Server {
	t.Helper()
	emu := ncatest.NewServer(testAPIKey)
	t.Cleanup(emu.Close)
	return emu
}

// stager serves staged files from a loopback server, standing in for
// voicehook's signed media links.
type stager struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths map[string]string // URL path → local file
}

func newStager(t *testing.T) *stager {
	t.Helper()
	st := &stager{paths: map[string]string{}}
	st.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		p, ok := st.paths[r.URL.Path]
		st.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, p)
	}))
	t.Cleanup(st.srv.Close)
	return st
}

func (st *stager) Stage(_ context.Context, obj voicehook.AudioObject) (string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.paths["/stage/"+obj.Key] = obj.Path
	return st.srv.URL + "/stage/" + obj.Key, nil
}

func newStorage(t *testing.T, emu *ncatest.Server, stage func(context.Context, voicehook.AudioObject) (string, error)) *Storage {
	t.Helper()
	s, err := New(Config{BaseURL: emu.URL + "/", APIKey: testAPIKey, Stage: stage})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func audioFile(t *testing.T, key string, data []byte) voicehook.AudioObject {
	t.Helper()
	p := filepath.Join(t.TempDir(), "audio.bin")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return voicehook.AudioObject{
		Key:         key,
		Path:        p,
		ContentType: "audio/mpeg",
		SHA256:      hex.EncodeToString(sum[:]),
		Bytes:       int64(len(data)),
		DurationMS:  4200,
	}
}

func segmentKey(obj voicehook.AudioObject) string {
	return "segments/seg-1/" + obj.SHA256 + ".mp3"
}
