package nca

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/disk"
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

// diskStage stages files as voicehook does: in local media, served only
// through short-lived signed links by a server that requires signatures.
func diskStage(t *testing.T) func(context.Context, voicehook.AudioObject) (string, error) {
	t.Helper()
	mux := http.NewServeMux()
	media := httptest.NewServer(mux)
	t.Cleanup(media.Close)
	local, err := disk.New(filepath.Join(t.TempDir(), "media"), media.URL, []byte("0123456789abcdef0123"))
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/media/", local.Handler(true))
	return func(ctx context.Context, obj voicehook.AudioObject) (string, error) {
		if _, err := local.Put(ctx, obj); err != nil {
			return "", err
		}
		return local.SignedURL(obj.Key, 5*time.Minute), nil
	}
}
