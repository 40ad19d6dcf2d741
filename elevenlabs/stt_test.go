package elevenlabs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

const sttKey = "sk_stt_test_0123456789"

// sttPart is one multipart part as the server received it.
type sttPart struct {
	Name, FileName, ContentType, Value string
}

// sttRequest is a request as the server received it.
type sttRequest struct {
	Method, Path, Key, MediaType string
	ContentLength                int64
	Parts                        []sttPart
}

// sttServer answers every request with answer after reading the multipart
// body, and records what it received.
type sttServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []sttRequest
}

func newSTTServer(t *testing.T, answer func(w http.ResponseWriter)) *sttServer {
	t.Helper()
	s := &sttServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sttRequest{Method: r.Method, Path: r.URL.Path, Key: r.Header.Get("xi-api-key"), ContentLength: r.ContentLength}
		got.MediaType, _, _ = mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mr, err := r.MultipartReader(); err == nil {
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(p)
				got.Parts = append(got.Parts, sttPart{Name: p.FormName(), FileName: p.FileName(), ContentType: p.Header.Get("Content-Type"), Value: string(b)})
			}
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, got)
		s.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sttServer) requests() []sttRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sttRequest(nil), s.reqs...)
}

func (s *sttServer) client() *elevenlabs.STT {
	return &elevenlabs.STT{BaseURL: s.URL, APIKey: sttKey}
}

func answerJSON(status int, body string, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestSTTWebhookRequest(t *testing.T) {
	t.Parallel()
	srv := newSTTServer(t, answerJSON(200, `{"message":"Request accepted. The result will be sent to your webhook.","request_id":"req_1","transcription_id":"tr_1"}`))
	audio := bytes.Repeat([]byte("\xFF\xFBmp3 frame "), 50_000) // 600 KB
	res, err := srv.client().Transcribe(t.Context(), elevenlabs.TranscribeRequest{
		File: bytes.NewReader(audio), FileName: "seg_1.mp3", ContentType: "audio/mpeg",
		LanguageCode:    "en",
		Webhook:         true,
		WebhookMetadata: map[string]string{"job_id": "job_1", "segment_id": "seg_1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := elevenlabs.TranscribeResult{RequestID: "req_1", TranscriptionID: "tr_1", Message: "Request accepted. The result will be sent to your webhook."}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}

	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	got := reqs[0]
	if got.Method != "POST" || got.Path != "/v1/speech-to-text" || got.Key != sttKey || got.MediaType != "multipart/form-data" {
		t.Errorf("sent %s %s key %q type %q", got.Method, got.Path, got.Key, got.MediaType)
	}
	if got.ContentLength != -1 {
		t.Errorf("Content-Length %d: the body was buffered, not streamed", got.ContentLength)
	}
	// webhook_metadata is a JSON string of an object: compare it decoded.
	var meta map[string]string
	for i, p := range got.Parts {
		if p.Name == "webhook_metadata" {
			if err := json.Unmarshal([]byte(p.Value), &meta); err != nil {
				t.Errorf("webhook_metadata %q is not a JSON object: %v", p.Value, err)
			}
			got.Parts[i].Value = "(checked)"
		}
	}
	if diff := cmp.Diff(map[string]string{"job_id": "job_1", "segment_id": "seg_1"}, meta); diff != "" {
		t.Errorf("webhook_metadata (-want +got):\n%s", diff)
	}
	// The file comes last, so the fields are read before the audio.
	wantParts := []sttPart{
		{Name: "model_id", Value: "scribe_v1"},
		{Name: "language_code", Value: "en"},
		{Name: "timestamps_granularity", Value: "word"},
		{Name: "webhook", Value: "true"},
		{Name: "webhook_metadata", Value: "(checked)"},
		{Name: "file", FileName: "seg_1.mp3", ContentType: "audio/mpeg", Value: string(audio)},
	}
	if diff := cmp.Diff(wantParts, got.Parts); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
}

func TestSTTSync(t *testing.T) {
	t.Parallel()
	srv := newSTTServer(t, answerJSON(200, `{"language_code":"eng","language_probability":0.97,"text":"Hi there.","transcription_id":"tr_9",`+
		`"words":[{"text":"Hi","start":0.1,"end":0.3,"type":"word","speaker_id":"speaker_0","logprob":-0.2},`+
		`{"text":" ","start":0.3,"end":0.32,"type":"spacing","speaker_id":"speaker_0"},`+
		`{"text":"there.","start":0.32,"end":0.8,"type":"word","speaker_id":"speaker_0"},`+
		`{"text":"(laughs)","start":0.9,"end":1.5,"type":"audio_event"}]}`, "request-id", "req_sync"))
	res, err := srv.client().Transcribe(t.Context(), elevenlabs.TranscribeRequest{
		ModelID: "scribe_v1_experimental",
		File:    strings.NewReader("RIFF....WAVE"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := elevenlabs.TranscribeResult{RequestID: "req_sync", TranscriptionID: "tr_9", Transcript: &voicehook.Transcript{
		LanguageCode: "eng", LanguageProbability: 0.97, Text: "Hi there.",
		Words: []voicehook.TranscriptWord{
			{Text: "Hi", Start: 0.1, End: 0.3, Type: "word", SpeakerID: "speaker_0"},
			{Text: " ", Start: 0.3, End: 0.32, Type: "spacing", SpeakerID: "speaker_0"},
			{Text: "there.", Start: 0.32, End: 0.8, Type: "word", SpeakerID: "speaker_0"},
			{Text: "(laughs)", Start: 0.9, End: 1.5, Type: "audio_event"},
		},
	}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	// No language, no metadata; the file gets a default name and type.
	wantParts := []sttPart{
		{Name: "model_id", Value: "scribe_v1_experimental"},
		{Name: "timestamps_granularity", Value: "word"},
		{Name: "webhook", Value: "false"},
		{Name: "file", FileName: "audio", ContentType: "application/octet-stream", Value: "RIFF....WAVE"},
	}
	if diff := cmp.Diff(wantParts, srv.requests()[0].Parts); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
}

func TestSTTSyncWithoutWords(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"language_code":"en","language_probability":1,"text":""}`,
		`{"language_code":"en","language_probability":1,"text":"","words":[]}`,
		`{"language_code":"en","language_probability":1,"text":"","words":null}`,
	} {
		srv := newSTTServer(t, answerJSON(200, body))
		res, err := srv.client().Transcribe(t.Context(), elevenlabs.TranscribeRequest{File: strings.NewReader("x")})
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		want := elevenlabs.TranscribeResult{Transcript: &voicehook.Transcript{LanguageCode: "en", LanguageProbability: 1}}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("%s: result (-want +got):\n%s", body, diff)
		}
	}
}

func TestSTTCloudStorageURL(t *testing.T) {
	t.Parallel()
	srv := newSTTServer(t, answerJSON(200, `{"message":"ok","request_id":"req_2"}`))
	res, err := srv.client().Transcribe(t.Context(), elevenlabs.TranscribeRequest{
		CloudStorageURL: "https://bucket.example/voiceovers/seg 1.mp3?sig=a&b=c",
		Webhook:         true,
		WebhookMetadata: map[string]string{"job_id": "job_2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(elevenlabs.TranscribeResult{RequestID: "req_2", Message: "ok"}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	wantParts := []sttPart{
		{Name: "model_id", Value: "scribe_v1"},
		{Name: "cloud_storage_url", Value: "https://bucket.example/voiceovers/seg 1.mp3?sig=a&b=c"},
		{Name: "timestamps_granularity", Value: "word"},
		{Name: "webhook", Value: "true"},
		{Name: "webhook_metadata", Value: `{"job_id":"job_2"}`},
	}
	if diff := cmp.Diff(wantParts, srv.requests()[0].Parts); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
}

// TestSTTErrors: what ElevenLabs refuses says whether to retry, and the
// error carries its message but never the key.
func TestSTTErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		webhook   bool
		permanent bool
		rateLimit bool
		malformed bool
		contains  string
	}{
		{name: "429 concurrency", status: 429, body: `{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests."}}`,
			rateLimit: true, contains: "Too many concurrent requests."},
		{name: "429 without a body", status: 429, rateLimit: true, contains: "HTTP 429"},
		{name: "500", status: 500, body: `{"detail":"Internal server error"}`, contains: "Internal server error"},
		{name: "503 proxy page", status: 503, body: "<html>Service Unavailable</html>", contains: "Service Unavailable"},
		{name: "400 unreadable audio", status: 400, body: `{"detail":{"status":"invalid_file","message":"The uploaded file could not be decoded as audio."}}`,
			permanent: true, contains: "The uploaded file could not be decoded as audio."},
		{name: "401 bad key, echoed", status: 401, body: `{"detail":{"status":"invalid_api_key","message":"Invalid API key ` + sttKey + `"}}`,
			permanent: true, contains: "Invalid API key [redacted]"},
		{name: "422 detail string", status: 422, body: `{"detail":"webhook_metadata must be a JSON object"}`,
			permanent: true, contains: "webhook_metadata must be a JSON object"},
		{name: "422 validation list", status: 422, body: `{"detail":[{"loc":["body","model_id"],"msg":"field required","type":"value_error.missing"}]}`,
			permanent: true, contains: "body.model_id: field required"},
		{name: "200 not JSON", status: 200, body: `<html>ok</html>`, malformed: true, contains: "malformed"},
		{name: "200 without text", status: 200, body: `{"transcripts":[]}`, malformed: true, contains: "no text"},
		{name: "200 with words of another shape", status: 200, body: `{"text":"Hi","words":[{"text":"Hi","start":"0"}]}`, malformed: true, contains: "malformed"},
		{name: "200 webhook answer without a request id", status: 200, body: `{"message":"Request accepted"}`, webhook: true,
			malformed: true, contains: "no request_id"},
		{name: "200 webhook answer not JSON", status: 200, body: `accepted`, webhook: true, malformed: true, contains: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newSTTServer(t, answerJSON(tt.status, tt.body))
			req := elevenlabs.TranscribeRequest{File: strings.NewReader("audio"), Webhook: tt.webhook}
			_, err := srv.client().Transcribe(t.Context(), req)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tt.contains) || strings.Contains(msg, sttKey) {
				t.Errorf("error %q: want it to contain %q and never the key", msg, tt.contains)
			}
			if got := voicehook.IsPermanent(err); got != tt.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tt.permanent, err)
			}
			if got := errors.Is(err, elevenlabs.ErrMalformedTranscription); got != tt.malformed {
				t.Errorf("malformed = %v, want %v (%v)", got, tt.malformed, err)
			}
			var apiErr *elevenlabs.APIError
			if errors.As(err, &apiErr) {
				if apiErr.StatusCode != tt.status || apiErr.RateLimited() != tt.rateLimit {
					t.Errorf("APIError %+v: want status %d, rate limited %v", apiErr, tt.status, tt.rateLimit)
				}
			} else if tt.status != 200 {
				t.Errorf("error %v is no *APIError", err)
			}
		})
	}
}

// TestSTTRefusals: a request that cannot be right is refused, permanently,
// before anything is sent.
func TestSTTRefusals(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, `{"message":"ok","request_id":"r"}`)
	}))
	t.Cleanup(srv.Close)
	file := func() io.Reader { return strings.NewReader("audio") }
	big := map[string]string{"job_id": "job_1", "notes": strings.Repeat("x", 16<<10)}
	tests := []struct {
		name     string
		stt      elevenlabs.STT
		req      elevenlabs.TranscribeRequest
		contains string
	}{
		{"metadata over 16 KB", elevenlabs.STT{}, elevenlabs.TranscribeRequest{File: file(), Webhook: true, WebhookMetadata: big}, "16384"},
		{"metadata without a webhook", elevenlabs.STT{}, elevenlabs.TranscribeRequest{File: file(), WebhookMetadata: map[string]string{"job_id": "j"}}, "webhook"},
		{"http cloud URL", elevenlabs.STT{}, elevenlabs.TranscribeRequest{CloudStorageURL: "http://bucket.example/a.mp3"}, "https"},
		{"cloud URL without a host", elevenlabs.STT{}, elevenlabs.TranscribeRequest{CloudStorageURL: "https:///a.mp3"}, "https"},
		{"cloud URL not a URL", elevenlabs.STT{}, elevenlabs.TranscribeRequest{CloudStorageURL: "https://bucket example/%zz"}, "https"},
		{"both a file and a cloud URL", elevenlabs.STT{}, elevenlabs.TranscribeRequest{File: file(), CloudStorageURL: "https://bucket.example/a.mp3"}, "exactly one"},
		{"neither a file nor a cloud URL", elevenlabs.STT{}, elevenlabs.TranscribeRequest{}, "exactly one"},
		{"no API key", elevenlabs.STT{BaseURL: srv.URL}, elevenlabs.TranscribeRequest{File: file()}, "API key"},
		{"no base URL", elevenlabs.STT{APIKey: sttKey, BaseURL: " "}, elevenlabs.TranscribeRequest{File: file()}, "base URL"},
		{"base URL of another scheme", elevenlabs.STT{APIKey: sttKey, BaseURL: "ftp://api.example"}, elevenlabs.TranscribeRequest{File: file()}, "base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.stt
			if c == (elevenlabs.STT{}) {
				c = elevenlabs.STT{BaseURL: srv.URL, APIKey: sttKey}
			}
			_, err := c.Transcribe(t.Context(), tt.req)
			if !voicehook.IsPermanent(err) || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error = %v, want a permanent one mentioning %q", err, tt.contains)
			}
		})
	}
	t.Cleanup(func() {
		if n := calls.Load(); n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
}

// TestSTTMetadataLimit: 16 KB of encoded metadata is allowed, a byte more
// is not.
func TestSTTMetadataLimit(t *testing.T) {
	t.Parallel()
	srv := newSTTServer(t, answerJSON(200, `{"message":"ok","request_id":"r"}`))
	overhead := len(`{"n":""}`)
	for _, tt := range []struct {
		size int
		ok   bool
	}{{16 << 10, true}, {16<<10 + 1, false}} {
		meta := map[string]string{"n": strings.Repeat("x", tt.size-overhead)}
		_, err := srv.client().Transcribe(t.Context(), elevenlabs.TranscribeRequest{File: strings.NewReader("a"), Webhook: true, WebhookMetadata: meta})
		if (err == nil) != tt.ok {
			t.Errorf("%d bytes of metadata: error %v, want ok %v", tt.size, err, tt.ok)
		}
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
}

func TestSTTTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	c := &elevenlabs.STT{BaseURL: srv.URL, APIKey: sttKey}
	_, err := c.Transcribe(ctx, elevenlabs.TranscribeRequest{File: strings.NewReader("audio"), Webhook: true})
	t.Log(err)
	if err == nil || voicehook.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want a transient deadline error", err)
	}
	if err != nil && strings.Contains(err.Error(), sttKey) {
		t.Errorf("error %q shows the key", err)
	}
}

// endless is an audio file that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

// TestSTTRefusedWhileUploading: an answer before the upload is over (a bad
// key, a file too large) ends the upload rather than hanging it.
func TestSTTRefusedWhileUploading(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}`)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := &elevenlabs.STT{BaseURL: srv.URL, APIKey: sttKey}
	_, err := c.Transcribe(ctx, elevenlabs.TranscribeRequest{File: endless{}})
	t.Log(err)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want the refusal", err)
	}
}

// failingFile fails after some audio.
type failingFile struct{ n int }

var errDisk = errors.New("disk on fire")

func (f *failingFile) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDisk
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

// TestSTTFileError: a file that cannot be read fails the request, as
// something worth retrying, and says why.
func TestSTTFileError(t *testing.T) {
	t.Parallel()
	srv := newSTTServer(t, answerJSON(200, `{"message":"ok","request_id":"r"}`))
	_, err := srv.client().Transcribe(t.Context(), elevenlabs.TranscribeRequest{File: &failingFile{n: 100_000}, Webhook: true})
	t.Log(err)
	if err == nil || voicehook.IsPermanent(err) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("error = %v, want a transient one naming the read error", err)
	}
}

func TestSTTNoRedirect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	c := &elevenlabs.STT{BaseURL: srv.URL, APIKey: sttKey}
	if _, err := c.Transcribe(t.Context(), elevenlabs.TranscribeRequest{File: strings.NewReader("a")}); err == nil {
		t.Error("a redirect was taken for an answer")
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests: the redirect was followed", n)
	}
}

func TestSTTAnswerTooLarge(t *testing.T) {
	t.Parallel()
	srv := newSTTServer(t, answerJSON(200, `{"text":"`+strings.Repeat("a", 2000)+`"}`))
	c := srv.client()
	c.MaxBytes = 1000
	_, err := c.Transcribe(t.Context(), elevenlabs.TranscribeRequest{File: strings.NewReader("a")})
	if !voicehook.IsPermanent(err) || !strings.Contains(err.Error(), "1000 bytes") {
		t.Errorf("error = %v, want a permanent one naming the limit", err)
	}
}

// TestSTTFileName: a file name cannot break the part's header.
func TestSTTFileName(t *testing.T) {
	t.Parallel()
	srv := newSTTServer(t, answerJSON(200, `{"text":"a"}`))
	_, err := srv.client().Transcribe(t.Context(), elevenlabs.TranscribeRequest{File: strings.NewReader("a"), FileName: "a\"b\r\nX-Evil: 1\\c.mp3"})
	if err != nil {
		t.Fatal(err)
	}
	parts := srv.requests()[0].Parts
	if p := parts[len(parts)-1]; p.Name != "file" || p.FileName != `a"b X-Evil: 1\c.mp3` || p.Value != "a" {
		t.Errorf("file part = %+v", p)
	}
}
