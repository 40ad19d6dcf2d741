// Package elevenlabstest is an in-process stand-in for the parts of the
// ElevenLabs API voicehook calls: the two Studio snapshot stream endpoints.
// It listens on loopback only (URL, and AltURL as a second host) and can
// inject the failures the processor must survive, and answer a stream
// request with a chain of redirects (RedirectNext).
package elevenlabstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/voicehook/voicehook"
)

// Malformation is a way a 200 reply can be broken.
type Malformation int

const (
	// Truncated announces the full Content-Length, sends half the audio and
	// drops the connection: the reader sees an unexpected EOF.
	Truncated Malformation = iota + 1
	// NotAudio answers 200 audio/mpeg with a body that is not MP3, as a
	// misbehaving proxy or CDN might.
	NotAudio
	// JSONBody answers 200 application/json with an error document.
	JSONBody
)

// Emulator serves the Studio stream endpoints on 127.0.0.1.
type Emulator struct {
	// URL is the base URL to give elevenlabs.Studio.BaseURL.
	URL string
	// AltURL serves the same emulator on another loopback port: a second
	// host for redirect tests (see RedirectNext).
	AltURL string
	// APIKey is the only xi-api-key accepted.
	APIKey string

	srv  *httptest.Server
	done chan struct{}
	once sync.Once

	mu        sync.Mutex
	audio     map[string][]byte
	failures  []int
	malformed []Malformation
	delay     time.Duration
	requests  int
}

// Start runs an emulator accepting apiKey. Call Close when done (e.g.
// t.Cleanup(em.Close)).
func Start(apiKey string) *Emulator {
	e := &Emulator{APIKey: apiKey, done: make(chan struct{}), audio: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/studio/projects/{project}/snapshots/{snapshot}/stream", e.serveProject)
	mux.HandleFunc("POST /v1/studio/projects/{project}/chapters/{chapter}/snapshots/{snapshot}/stream", e.serveChapter)
	// Same paths without a method: anything but POST gets 405.
	mux.HandleFunc("/v1/studio/projects/{project}/snapshots/{snapshot}/stream", methodNotAllowed)
	mux.HandleFunc("/v1/studio/projects/{project}/chapters/{chapter}/snapshots/{snapshot}/stream", methodNotAllowed)
	e.routeStudioCreate(mux) // POST /v1/studio/projects, in studio_create.go
	// Where RedirectNext's chains lead (studio_redirect.go).
	mux.HandleFunc("/cdn/{token}/{n}", e.serveCDN)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
	})
	h := e.front(mux)
	e.srv = httptest.NewServer(h)
	e.URL = e.srv.URL
	e.startAlt(h)
	return e
}

// Close stops the server, cutting short any delayed reply.
func (e *Emulator) Close() {
	e.once.Do(func() {
		close(e.done)
		e.srv.Close()
		e.closeAlt()
	})
}

// Register makes snap's audio available: the chapter snapshot when
// snap.ChapterID is set, else the project snapshot.
func (e *Emulator) Register(snap voicehook.StudioSnapshot, audio []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.audio[snapKey(snap)] = append([]byte(nil), audio...)
}

// FailNext makes the next n requests answer status (with ElevenLabs' error
// JSON) before any other check, like an overloaded front end would.
func (e *Emulator) FailNext(n, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.failures = append(e.failures, status)
	}
}

// MalformNext breaks the next n replies that would have served audio.
func (e *Emulator) MalformNext(n int, m Malformation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.malformed = append(e.malformed, m)
	}
}

// SetDelay holds every reply back by d (until the client gives up or the
// emulator closes), for timeout tests.
func (e *Emulator) SetDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.delay = d
}

// Requests counts every request received, whatever its fate.
func (e *Emulator) Requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests
}

// front counts, delays and injects failures ahead of routing.
func (e *Emulator) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.logHit(r)
		e.mu.Lock()
		e.requests++
		delay := e.delay
		fail := 0
		if len(e.failures) > 0 {
			fail, e.failures = e.failures[0], e.failures[1:]
		}
		e.mu.Unlock()

		if delay > 0 && !hold(r, e.done, delay) {
			return
		}
		if fail != 0 {
			injectFailure(w, fail)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func injectFailure(w http.ResponseWriter, status int) {
	switch {
	case status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		writeError(w, status, "too_many_concurrent_requests", "Too many concurrent requests (injected)")
	case status >= 500:
		writeError(w, status, "service_unavailable", "Service temporarily unavailable (injected)")
	default:
		writeError(w, status, "injected_failure", "injected HTTP "+strconv.Itoa(status))
	}
}

func (e *Emulator) serveProject(w http.ResponseWriter, r *http.Request) {
	e.serve(w, r, voicehook.StudioSnapshot{
		ProjectID:         r.PathValue("project"),
		ProjectSnapshotID: r.PathValue("snapshot"),
	})
}

func (e *Emulator) serveChapter(w http.ResponseWriter, r *http.Request) {
	e.serve(w, r, voicehook.StudioSnapshot{
		ProjectID:         r.PathValue("project"),
		ChapterID:         r.PathValue("chapter"),
		ChapterSnapshotID: r.PathValue("snapshot"),
	})
}

func (e *Emulator) serve(w http.ResponseWriter, r *http.Request, snap voicehook.StudioSnapshot) {
	if !authorized(w, r, e.APIKey) {
		return
	}
	var body struct {
		ConvertToMPEG *bool `json:"convert_to_mpeg"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil || body.ConvertToMPEG == nil || !*body.ConvertToMPEG {
		writeError(w, http.StatusBadRequest, "invalid_request", "emulator: the body must be JSON with convert_to_mpeg true")
		return
	}

	e.mu.Lock()
	audio, ok := e.audio[snapKey(snap)]
	var bad Malformation
	if ok && len(e.malformed) > 0 {
		bad, e.malformed = e.malformed[0], e.malformed[1:]
	}
	e.mu.Unlock()
	if !ok {
		what := "Project snapshot " + snap.ProjectSnapshotID
		if snap.ChapterID != "" {
			what = "Chapter snapshot " + snap.ChapterSnapshotID
		}
		writeError(w, http.StatusNotFound, "snapshot_not_found", what+" not found")
		return
	}

	if bad == 0 && e.startRedirect(w, r, audio) {
		return
	}
	switch bad {
	case Truncated:
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Content-Length", strconv.Itoa(max(len(audio), 1)))
		w.WriteHeader(http.StatusOK)
		w.Write(audio[:len(audio)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Aborting the handler makes net/http drop the connection.
		panic(http.ErrAbortHandler)
	case NotAudio:
		w.Header().Set("Content-Type", "audio/mpeg")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "<html><body>Service Unavailable</body></html>")
		return
	case JSONBody:
		writeError(w, http.StatusOK, "internal_error", "emulated error document with status 200")
		return
	}
	w.Header().Set("Content-Type", "audio/mpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(audio)))
	w.WriteHeader(http.StatusOK)
	w.Write(audio)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMethodNotAllowed)
	fmt.Fprint(w, `{"detail":"Method Not Allowed"}`)
}

// writeError answers in ElevenLabs' error format,
// {"detail":{"status":"…","message":"…"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"detail": map[string]string{"status": code, "message": message},
	})
}

func snapKey(s voicehook.StudioSnapshot) string {
	if s.ChapterID != "" {
		return "chapter\x00" + s.ProjectID + "\x00" + s.ChapterID + "\x00" + s.ChapterSnapshotID
	}
	return "project\x00" + s.ProjectID + "\x00" + s.ProjectSnapshotID
}

// hold keeps a request waiting for d, as a slow ElevenLabs would; false
// means the client went away or the emulator closed first (answer
// nothing).
func hold(r *http.Request, done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-done:
	}
	return false
}

// authorized checks the xi-api-key header against key and, when it is
// missing or wrong, answers 401 with the real API's words.
func authorized(w http.ResponseWriter, r *http.Request, key string) bool {
	switch got := r.Header.Get("xi-api-key"); {
	case got == "":
		writeError(w, http.StatusUnauthorized, "needs_authorization", "Neither authorization header nor xi-api-key received, please provide one.")
		return false
	case got != key:
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "Invalid API key")
		return false
	}
	return true
}
