package elevenlabs_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
)

const testAPIKey = "sk_test_0123456789abcdef"

var (
	projectSnap = voicehook.StudioSnapshot{ProjectID: "proj 1", ProjectSnapshotID: "psnap/1"}
	chapterSnap = voicehook.StudioSnapshot{ProjectID: "proj 1", ChapterID: "chap1", ChapterSnapshotID: "csnap1"}
	fakeMP3     = []byte("ID3\x04\x00\x00\x00\x00\x00\x00fake mp3 frames")
)

func newEmulator(t *testing.T) (*elevenlabstest.Emulator, *elevenlabs.Studio) {
	t.Helper()
	em := elevenlabstest.Start(testAPIKey)
	t.Cleanup(em.Close)
	em.Register(projectSnap, fakeMP3)
	em.Register(chapterSnap, []byte("chapter audio"))
	return em, &elevenlabs.Studio{BaseURL: em.URL, APIKey: testAPIKey}
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading stream: %v", err)
	}
	return b
}

func TestStudioStreamSuccess(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)
	for _, tc := range []struct {
		name string
		snap voicehook.StudioSnapshot
		want string
	}{
		{"project", projectSnap, string(fakeMP3)},
		{"chapter", chapterSnap, "chapter audio"},
	} {
		rc, err := st.Stream(t.Context(), tc.snap)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := string(readAll(t, rc)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if n := em.Requests(); n != 2 {
		t.Errorf("emulator saw %d requests, want 2", n)
	}
}

func TestStudioStreamErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		key       string
		snap      voicehook.StudioSnapshot
		fail      int
		permanent bool
		contains  string
		requests  int
	}{
		{name: "wrong key", key: "sk_wrong", snap: projectSnap, permanent: true, contains: "Invalid API key", requests: 1},
		{name: "unknown snapshot", snap: voicehook.StudioSnapshot{ProjectID: "p", ProjectSnapshotID: "nope"}, permanent: true, contains: "Project snapshot nope not found", requests: 1},
		{name: "unknown chapter", snap: voicehook.StudioSnapshot{ProjectID: "p", ChapterID: "c", ChapterSnapshotID: "nope"}, permanent: true, contains: "snapshot_not_found", requests: 1},
		{name: "503", snap: projectSnap, fail: 503, contains: "HTTP 503", requests: 1},
		{name: "500", snap: projectSnap, fail: 500, contains: "HTTP 500", requests: 1},
		{name: "429", snap: projectSnap, fail: 429, contains: "Too many concurrent requests", requests: 1},
		{name: "408", snap: projectSnap, fail: 408, contains: "HTTP 408", requests: 1},
		{name: "400", snap: projectSnap, fail: 400, permanent: true, contains: "HTTP 400", requests: 1},
		{name: "missing key", key: " ", snap: projectSnap, permanent: true, contains: "--elevenlabs-api-key", requests: 0},
		{name: "no project id", snap: voicehook.StudioSnapshot{ProjectSnapshotID: "s"}, permanent: true, contains: "project_id", requests: 0},
		{name: "no snapshot id", snap: voicehook.StudioSnapshot{ProjectID: "p"}, permanent: true, contains: "project_snapshot_id", requests: 0},
		{name: "dot-dot id", snap: voicehook.StudioSnapshot{ProjectID: "..", ProjectSnapshotID: "s"}, permanent: true, contains: "project_id", requests: 0},
		{name: "chapter without snapshot", snap: voicehook.StudioSnapshot{ProjectID: "p", ChapterID: "c"}, permanent: true, contains: "chapter_snapshot_id", requests: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			em, st := newEmulator(t)
			if tt.key != "" {
				st.APIKey = tt.key
			}
			if tt.fail != 0 {
				em.FailNext(1, tt.fail)
			}
			rc, err := st.Stream(t.Context(), tt.snap)
			if err == nil {
				rc.Close()
				t.Fatal("Stream succeeded")
			}
			if got := voicehook.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", got, tt.permanent, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not mention %q", err, tt.contains)
			}
			if !strings.HasPrefix(err.Error(), "streaming studio snapshot: ") {
				t.Errorf("error %q lacks context", err)
			}
			if strings.Contains(err.Error(), testAPIKey) {
				t.Errorf("error %q leaks the API key", err)
			}
			if n := em.Requests(); n != tt.requests {
				t.Errorf("emulator saw %d requests, want %d", n, tt.requests)
			}
		})
	}
}

func TestStudioStreamRetryAfter(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)
	em.FailNext(1, http.StatusTooManyRequests)
	_, err := st.Stream(t.Context(), projectSnap)
	var apiErr *elevenlabs.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.RetryAfter != time.Second || apiErr.Code != "too_many_concurrent_requests" {
		t.Fatalf("err = %v, APIError = %+v", err, apiErr)
	}
}

func TestStudioStreamRecoversAfterFailures(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)
	em.FailNext(2, http.StatusServiceUnavailable)
	for i := range 2 {
		if _, err := st.Stream(t.Context(), projectSnap); err == nil || voicehook.IsPermanent(err) {
			t.Fatalf("attempt %d: err = %v, want transient", i+1, err)
		}
	}
	rc, err := st.Stream(t.Context(), projectSnap)
	if err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	if got := readAll(t, rc); string(got) != string(fakeMP3) {
		t.Errorf("got %q", got)
	}
	if n := em.Requests(); n != 3 {
		t.Errorf("emulator saw %d requests, want 3", n)
	}
}

func TestStudioStreamTimeout(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)
	em.SetDelay(10 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := st.Stream(ctx, projectSnap)
	if err == nil || voicehook.IsPermanent(err) {
		t.Fatalf("err = %v, want transient", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stream took %s despite the deadline", d)
	}
}

func TestStudioStreamNetworkError(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)
	em.Close()
	if _, err := st.Stream(t.Context(), projectSnap); err == nil || voicehook.IsPermanent(err) {
		t.Fatalf("err = %v, want transient", err)
	}
}

func TestStudioStreamMalformedReplies(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)

	em.MalformNext(1, elevenlabstest.Truncated)
	rc, err := st.Stream(t.Context(), projectSnap)
	if err != nil {
		t.Fatalf("truncated: Stream = %v", err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: read error = %v, want unexpected EOF", err)
	}

	// A non-audio body under an audio type is the processor's to catch;
	// Stream only hands it over.
	em.MalformNext(1, elevenlabstest.NotAudio)
	rc, err = st.Stream(t.Context(), projectSnap)
	if err != nil {
		t.Fatalf("not audio: Stream = %v", err)
	}
	if got := readAll(t, rc); !strings.HasPrefix(string(got), "<html>") {
		t.Errorf("not audio: got %q", got)
	}

	em.MalformNext(1, elevenlabstest.JSONBody)
	if _, err := st.Stream(t.Context(), projectSnap); err == nil || voicehook.IsPermanent(err) || !strings.Contains(err.Error(), "instead of audio") {
		t.Errorf("JSON body: err = %v, want transient 'instead of audio'", err)
	}
}

func TestStudioRequestShape(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)
	// The emulator itself checks method, key and body; wrong ones fail.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, em.URL+"/v1/studio/projects/p/snapshots/s/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, em.URL+"/v1/studio/projects/proj%201/snapshots/psnap%2F1/stream", strings.NewReader(`{}`))
	req.Header.Set("xi-api-key", testAPIKey)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST without convert_to_mpeg: %d, want 400", resp.StatusCode)
	}
	// And the real client's request passes those checks with escaped ids.
	rc, err := st.Stream(t.Context(), projectSnap)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}

// TestStudioRedirectElsewhereGetsNoKey: a redirect to an unrelated server
// (not the emulator) is followed, without the key.
func TestStudioRedirectElsewhereGetsNoKey(t *testing.T) {
	t.Parallel()
	leaked := make(chan string, 1)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked <- r.Header.Get("xi-api-key")
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write(fakeMP3)
	}))
	t.Cleanup(elsewhere.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusFound)
	}))
	t.Cleanup(redirector.Close)

	st := &elevenlabs.Studio{BaseURL: redirector.URL, APIKey: testAPIKey}
	rc, err := st.Stream(t.Context(), projectSnap)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if got := readAll(t, rc); string(got) != string(fakeMP3) {
		t.Errorf("got %q", got)
	}
	if key := <-leaked; key != "" {
		t.Errorf("the key was sent to the redirect's host")
	}
}

func TestStudioRedactsEchoedKey(t *testing.T) {
	t.Parallel()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "bad request, key was "+r.Header.Get("xi-api-key"))
	}))
	t.Cleanup(echo.Close)
	st := &elevenlabs.Studio{BaseURL: echo.URL, APIKey: testAPIKey}
	_, err := st.Stream(t.Context(), projectSnap)
	if err == nil || strings.Contains(err.Error(), testAPIKey) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("err = %v", err)
	}
}
