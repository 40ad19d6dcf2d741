package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/audiotest"
	"github.com/voicehook/voicehook/internal/dbtest"
	"github.com/voicehook/voicehook/web"
)

const testSecret = "wsec_test_secret"

// harness is one real voicehook server (the same wiring as `serve`) on
// 127.0.0.1:0, with a stand-in audio source beside it.
type harness struct {
	t    *testing.T
	base string
	dir  string
	src  *audioSource
}

// stores lists the stores end-to-end tests run on: SQLite always,
// PostgreSQL when VOICEHOOK_TEST_DATABASE_URL is set.
func eachStore(t *testing.T, fn func(t *testing.T, store string)) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			fn(t, store)
		})
	}
}

func setup(t *testing.T, store string, mutate ...func(*config)) *harness {
	t.Helper()
	var cfg config
	cfg.register(newFlagSet("test", ""))
	cfg.Addr, cfg.DataDir, cfg.ElevenLabsSecret = "127.0.0.1:0", t.TempDir(), testSecret
	cfg.CallbackKey = testCallbackKey
	cfg.FetchAllowPriv = true // the audio source is a loopback test server
	cfg.RetryBase, cfg.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.ShutdownTimeout = 10 * time.Second
	if store == "postgres" {
		cfg.DatabaseURL = dbtest.PostgresURL(t)
	}
	for _, m := range mutate {
		m(&cfg)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(context.Background(), cfg, ln, log)
	if err != nil {
		t.Fatalf("starting app: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app stopped with error: %v", err)
		}
	})
	return &harness{t: t, base: a.baseURL, dir: cfg.DataDir, src: newAudioSource(t)}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// audioSource serves audio at /audio/<name>, with scripted failures.
type audioSource struct {
	*httptest.Server
	mu       sync.Mutex
	fail     []int // statuses to answer first, in order
	body     []byte
	hits     atomic.Int64
	blocking chan struct{}
}

func newAudioSource(t *testing.T) *audioSource {
	s := &audioSource{body: audiotest.MP3(2 * time.Second)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		block := s.blocking
		var status int
		if len(s.fail) > 0 {
			status, s.fail = s.fail[0], s.fail[1:]
		}
		body := s.body
		s.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			http.Error(w, "scripted failure", status)
			return
		}
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *audioSource) failNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, statuses...)
}

func (s *audioSource) serve(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

func (s *audioSource) url(name string) string { return s.URL + "/audio/" + name }

// do sends a request and decodes a JSON reply into out (if not nil).
func (h *harness) do(method, path string, headers map[string]string, body []byte, out any) int {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decoding %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

type jobView struct {
	ID           string `json:"id"`
	SegmentID    string `json:"segment_id"`
	Type         string `json:"type"`
	Status       string `json:"status"`
	ExternalID   string `json:"external_id"`
	ErrorDetails string `json:"error_details"`
	CallbackURL  string `json:"callback_url"`
	Timestamps   struct {
		Created   *time.Time `json:"created"`
		Completed *time.Time `json:"completed"`
		Failed    *time.Time `json:"failed"`
	} `json:"timestamps"`
}

type segmentView struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Voiceover  string    `json:"voiceover"`
	SHA256     string    `json:"sha256"`
	Bytes      int64     `json:"bytes"`
	DurationMS int64     `json:"duration_ms"`
	Jobs       []jobView `json:"jobs"`
}

type eventView struct {
	ID           string          `json:"id"`
	Service      string          `json:"service"`
	Endpoint     string          `json:"endpoint"`
	Type         string          `json:"type"`
	Status       string          `json:"status"`
	Processed    bool            `json:"processed"`
	Success      *bool           `json:"success"`
	ErrorDetails string          `json:"error_details"`
	RelatedJob   string          `json:"related_job"`
	Attempts     int             `json:"attempts"`
	RawPayload   json.RawMessage `json:"raw_payload"`
	// History collapses repeats: one row per run of identical attempts.
	History []struct {
		Outcome string `json:"outcome"`
		Error   string `json:"error"`
		Count   int    `json:"count"`
	} `json:"history"`
}

type ack struct {
	Status    string `json:"status"`
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate"`
	Message   string `json:"message"`
}

func (h *harness) createJob(segment, externalID string) jobView {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"segment_id": segment, "type": "voiceover_generation", "external_id": externalID})
	var job jobView
	if code := h.do("POST", "/api/jobs", nil, body, &job); code != http.StatusCreated {
		h.t.Fatalf("creating job: %d %+v", code, job)
	}
	return job
}

// testCallbackKey is every test server's --callback-key, so tests can build
// a segment's callback token as a pipeline's own code would get it.
const testCallbackKey = "test-callback-key-0123456789abcdef"

// webhookPath is where a sender delivers for segment: with its callback
// token, which a delivery naming a segment must carry.
func webhookPath(segment string) string {
	if segment == "" {
		return web.WebhookPath
	}
	return web.WebhookPath + "?segment_id=" + url.QueryEscape(segment) + "&token=" + web.NewTokens([]byte(testCallbackKey)).For(segment)
}

// deliver posts a body signed with the test secret.
func (h *harness) deliver(segment string, body []byte) (int, ack) {
	h.t.Helper()
	return h.deliverSigned(segment, body, elevenlabs.Sign(testSecret, time.Now(), body))
}

func (h *harness) deliverSigned(segment string, body []byte, sig string) (int, ack) {
	h.t.Helper()
	path := webhookPath(segment)
	headers := map[string]string{}
	if sig != "" {
		headers[elevenlabs.HeaderName] = sig
	}
	var a ack
	code := h.do("POST", path, headers, body, &a)
	return code, a
}

func (h *harness) event(id string) eventView {
	h.t.Helper()
	var ev eventView
	if code := h.do("GET", "/api/events/"+id, nil, nil, &ev); code != http.StatusOK {
		h.t.Fatalf("GET event %s: %d", id, code)
	}
	return ev
}

func (h *harness) segment(id string) segmentView {
	h.t.Helper()
	var s segmentView
	if code := h.do("GET", "/api/segments/"+id, nil, nil, &s); code != http.StatusOK {
		h.t.Fatalf("GET segment %s: %d", id, code)
	}
	return s
}

func (h *harness) job(id string) jobView {
	h.t.Helper()
	var j jobView
	if code := h.do("GET", "/api/jobs/"+id, nil, nil, &j); code != http.StatusOK {
		h.t.Fatalf("GET job %s: %d", id, code)
	}
	return j
}

// waitEvent waits until the event leaves `received` and returns it.
func (h *harness) waitEvent(id string) eventView {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ev := h.event(id)
		if ev.Status != "received" {
			return ev
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("event %s still received after 20s: %+v", id, ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seedCompleted(audioURL string) []byte {
	return fmt.Appendf(nil, `{"status":"completed","output":{"url":%q}}`, audioURL)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func signNow(body []byte) string { return elevenlabs.Sign(testSecret, time.Now(), body) }

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
