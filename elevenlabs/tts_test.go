package elevenlabs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
)

const ttsKey = "sk_tts_test_0123456789"

func newTTS(t *testing.T) (*elevenlabstest.TTSEmulator, *elevenlabs.TTS) {
	t.Helper()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	return em, &elevenlabs.TTS{BaseURL: em.URL, APIKey: ttsKey}
}

func ptr[T any](v T) *T { return &v }

func TestTTSGenerate(t *testing.T) {
	t.Parallel()
	em, tts := newTTS(t)
	text := "Hello there. How are you?"
	sp, err := tts.Generate(t.Context(), elevenlabs.SpeechRequest{
		VoiceID:            "voice/1",
		Text:               text,
		ModelID:            "eleven_flash_v2_5",
		PreviousText:       "Before.",
		NextText:           "After.",
		PreviousRequestIDs: []string{"req_a", "req_b"},
		NextRequestIDs:     []string{"req_c"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := sp
	got.Audio, got.Alignment, got.NormalizedAlignment = nil, nil, nil
	want := elevenlabs.Speech{RequestID: "req_1", CharacterCost: 25, CurrentConcurrent: 1, MaxConcurrent: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("speech (-want +got):\n%s", diff)
	}
	if string(sp.Audio[:2]) != "\xFF\xFB" || len(sp.Audio) < 400*elevenlabstest.SpeechFrames(text) {
		t.Errorf("audio is not the emulator's MP3 (%d bytes)", len(sp.Audio))
	}
	a := sp.Alignment
	if a == nil || sp.NormalizedAlignment == nil {
		t.Fatal("no alignment")
	}
	if strings.Join(a.Characters, "") != text || len(a.Start) != len(text) || len(a.End) != len(text) {
		t.Errorf("alignment = %+v", a)
	}
	if end, want := a.End[len(a.End)-1], elevenlabstest.SpeechDuration(text).Seconds(); end-want > 1e-6 || want-end > 1e-6 {
		t.Errorf("alignment ends at %v s, audio plays %v s", end, want)
	}

	wantCalls := []elevenlabstest.TTSCall{{
		VoiceID: "voice/1", WithTimestamps: true, OutputFormat: "mp3_44100_128",
		Text: text, ModelID: "eleven_flash_v2_5", PreviousText: "Before.", NextText: "After.",
		PreviousRequestIDs: []string{"req_a", "req_b"}, NextRequestIDs: []string{"req_c"},
		RequestID: "req_1", Status: 200,
	}}
	if diff := cmp.Diff(wantCalls, em.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestTTSWire checks the request exactly as sent: path, query, headers and
// the snake_case body with empty fields left out.
func TestTTSWire(t *testing.T) {
	t.Parallel()
	var got struct {
		method, uri, key, ct string
		body                 map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.uri, got.key, got.ct = r.Method, r.RequestURI, r.Header.Get("xi-api-key"), r.Header.Get("Content-Type")
		json.NewDecoder(r.Body).Decode(&got.body)
		io.WriteString(w, `{"audio_base64":"AAEC","alignment":null,"normalized_alignment":null}`)
	}))
	t.Cleanup(srv.Close)
	tts := &elevenlabs.TTS{BaseURL: srv.URL + "/", APIKey: ttsKey}
	sp, err := tts.Generate(t.Context(), elevenlabs.SpeechRequest{
		VoiceID:       "a b",
		OutputFormat:  "mp3_22050_32",
		EnableLogging: ptr(false),
		Text:          "Hi.",
		LanguageCode:  "en",
		VoiceSettings: &elevenlabs.VoiceSettings{
			Stability: ptr(0.5), SimilarityBoost: ptr(0.75), Style: ptr(0.0), UseSpeakerBoost: ptr(true), Speed: ptr(1.1),
		},
		Seed:                   ptr(42),
		ApplyTextNormalization: "off",
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&elevenlabs.Speech{Audio: []byte{0, 1, 2}}, &sp); diff != "" {
		t.Errorf("speech (-want +got):\n%s", diff)
	}
	if got.method != "POST" || got.uri != "/v1/text-to-speech/a%20b/with-timestamps?enable_logging=false&output_format=mp3_22050_32" ||
		got.key != ttsKey || got.ct != "application/json" {
		t.Errorf("sent %s %s key %q type %q", got.method, got.uri, got.key, got.ct)
	}
	wantBody := map[string]any{
		"text": "Hi.", "language_code": "en", "seed": 42.0, "apply_text_normalization": "off",
		"voice_settings": map[string]any{"stability": 0.5, "similarity_boost": 0.75, "style": 0.0, "use_speaker_boost": true, "speed": 1.1},
	}
	if diff := cmp.Diff(wantBody, got.body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestTTSAPIErrors(t *testing.T) {
	t.Parallel()
	type class struct{ Temporary, RateLimited, Permanent bool }
	var (
		rateLimited = class{true, true, false}
		temporary   = class{true, false, false}
		permanent   = class{false, false, true}
	)
	tests := []struct {
		name    string
		setup   func(*elevenlabstest.TTSEmulator, *elevenlabs.TTS, *elevenlabs.SpeechRequest)
		status  int
		code    string
		message string // a part of Error()
		class   class
	}{
		{"system busy", func(em *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			em.FailNext(429, "system_busy", "The system is experiencing heavy traffic")
		}, 429, "system_busy", "heavy traffic", rateLimited},
		{"too many concurrent", func(em *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			em.SetConcurrencyLimit(0)
			em.FailNext(429, "too_many_concurrent_requests", "too many")
		}, 429, "too_many_concurrent_requests", "too many", rateLimited},
		{"server error", func(em *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			em.FailNext(500, "internal_error", "oops")
		}, 500, "internal_error", "oops", temporary},
		{"request timeout", func(em *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			em.FailNext(408, "", "timed out")
		}, 408, "", "timed out", temporary},
		{"quota exceeded as 401", func(em *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			em.FailNext(401, "quota_exceeded", "This request exceeds your quota of 10000.")
		}, 401, "quota_exceeded", "exceeds your quota", permanent},
		{"quota exceeded as 402", func(em *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			em.FailNext(402, "quota_exceeded", "quota")
		}, 402, "quota_exceeded", "quota", permanent},
		{"quota exceeded as 503 is still permanent", func(em *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			em.FailNext(503, "quota_exceeded", "quota")
		}, 503, "quota_exceeded", "quota", permanent},
		{"creator only", func(em *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			em.FailNext(403, "only_for_creator+", "Upgrade to Creator")
		}, 403, "only_for_creator+", "Upgrade to Creator", permanent},
		{"invalid key", func(_ *elevenlabstest.TTSEmulator, tts *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			tts.APIKey = "sk_wrong"
		}, 401, "invalid_api_key", "Invalid API key", permanent},
		{"voice not found", func(em *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, _ *elevenlabs.SpeechRequest) {
			em.SetVoices("other")
		}, 400, "voice_not_found", "was not found", permanent},
		{"over the character limit", func(_ *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, req *elevenlabs.SpeechRequest) {
			req.ModelID, req.Text = "eleven_v3", strings.Repeat("é", 3001)
		}, 400, "max_character_limit_exceeded", "maximum of 3000 characters", permanent},
		{"validation list", func(_ *elevenlabstest.TTSEmulator, _ *elevenlabs.TTS, req *elevenlabs.SpeechRequest) {
			req.OutputFormat = "mp3_bogus"
		}, 422, "", "invalid request: query.output_format: value is not a valid enumeration member", permanent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			em, tts := newTTS(t)
			req := elevenlabs.SpeechRequest{VoiceID: "v", Text: "Hello."}
			tc.setup(em, tts, &req)
			_, err := tts.Generate(t.Context(), req)
			var apiErr *elevenlabs.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Code != tc.code {
				t.Errorf("HTTP %d %q, want %d %q", apiErr.StatusCode, apiErr.Code, tc.status, tc.code)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not contain %q", err, tc.message)
			}
			got := class{apiErr.Temporary(), apiErr.RateLimited(), apiErr.Permanent()}
			if got != tc.class {
				t.Errorf("class %+v, want %+v", got, tc.class)
			}
			if voicehook.IsPermanent(err) != tc.class.Permanent {
				t.Errorf("IsPermanent = %v, want %v", voicehook.IsPermanent(err), tc.class.Permanent)
			}
			if strings.Contains(err.Error(), ttsKey) {
				t.Errorf("error %q shows the API key", err)
			}
		})
	}
}

// TestTTSErrorBodies covers error bodies the emulator does not send: the
// newer shape, plain strings, and pages from a proxy.
func TestTTSErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		status     int
		header     map[string]string
		want       elevenlabs.APIError
		temporary  bool
	}{
		{"newer shape, code only", `{"detail":{"type":"authentication_error","code":"invalid_api_key","message":"Invalid API key"}}`, 401, nil,
			elevenlabs.APIError{StatusCode: 401, Code: "invalid_api_key", Message: "Invalid API key"}, false},
		{"newer shape, status and code", `{"detail":{"type":"rate_limit_error","code":"concurrent_limit","status":"too_many_concurrent_requests","message":"slow down"}}`, 429,
			map[string]string{"Retry-After": "3"},
			elevenlabs.APIError{StatusCode: 429, Code: "too_many_concurrent_requests", Message: "slow down", RetryAfter: 3 * time.Second}, true},
		{"detail string", `{"detail":"Not Found"}`, 404, nil,
			elevenlabs.APIError{StatusCode: 404, Message: "Not Found"}, false},
		{"several validation errors", `{"detail":[{"loc":["body","text"],"msg":"field required","type":"value_error.missing"},{"loc":["body","seed"],"msg":"not an int"},{"loc":["query"],"msg":"x"},{"loc":[],"msg":"y"}]}`, 422, nil,
			elevenlabs.APIError{StatusCode: 422, Message: "invalid request: body.text: field required; body.seed: not an int; query: x; and 1 more"}, false},
		{"html from a proxy", "<html>\n<body>Bad   Gateway</body></html>", 502, nil,
			elevenlabs.APIError{StatusCode: 502, Message: "<html> <body>Bad Gateway</body></html>"}, true},
		{"empty body", "", 503, nil,
			elevenlabs.APIError{StatusCode: 503, Message: "Service Unavailable"}, true},
		{"echoed key is redacted", "bad key " + ttsKey, 400, nil,
			elevenlabs.APIError{StatusCode: 400, Message: "bad key [redacted]"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			tts := &elevenlabs.TTS{BaseURL: srv.URL, APIKey: ttsKey}
			_, err := tts.Generate(t.Context(), elevenlabs.SpeechRequest{VoiceID: "v", Text: "x"})
			var apiErr *elevenlabs.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if diff := cmp.Diff(tc.want, *apiErr); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if apiErr.Temporary() != tc.temporary || voicehook.IsPermanent(err) == tc.temporary {
				t.Errorf("Temporary = %v, IsPermanent = %v; want temporary %v", apiErr.Temporary(), voicehook.IsPermanent(err), tc.temporary)
			}
		})
	}
}

func TestTTSMalformedReplies(t *testing.T) {
	t.Parallel()
	for _, m := range []elevenlabstest.TTSMalformation{
		elevenlabstest.TTSNotJSON, elevenlabstest.TTSBadBase64, elevenlabstest.TTSEmptyAudio, elevenlabstest.TTSMisaligned,
	} {
		em, tts := newTTS(t)
		em.MalformNext(m)
		_, err := tts.Generate(t.Context(), elevenlabs.SpeechRequest{VoiceID: "v", Text: "Hello."})
		if !errors.Is(err, elevenlabs.ErrMalformedReply) || voicehook.IsPermanent(err) {
			t.Errorf("malformation %d: err = %v, want a temporary ErrMalformedReply", m, err)
		}
		// The next reply is fine again.
		if _, err := tts.Generate(t.Context(), elevenlabs.SpeechRequest{VoiceID: "v", Text: "Hello."}); err != nil {
			t.Errorf("after malformation %d: %v", m, err)
		}
	}
}

func TestTTSReplyTooLarge(t *testing.T) {
	t.Parallel()
	_, tts := newTTS(t)
	tts.MaxBytes = 1000
	_, err := tts.Generate(t.Context(), elevenlabs.SpeechRequest{VoiceID: "v", Text: strings.Repeat("long text ", 10)})
	if !errors.Is(err, elevenlabs.ErrReplyTooLarge) || !voicehook.IsPermanent(err) || !strings.Contains(err.Error(), "1000 bytes") {
		t.Errorf("err = %v, want a permanent ErrReplyTooLarge", err)
	}
}

func TestTTSTimeout(t *testing.T) {
	t.Parallel()
	em, tts := newTTS(t)
	em.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := tts.Generate(ctx, elevenlabs.SpeechRequest{VoiceID: "v", Text: "slow"})
	if !errors.Is(err, context.DeadlineExceeded) || voicehook.IsPermanent(err) {
		t.Errorf("err = %v, want a temporary deadline error", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("Generate took %v", time.Since(start))
	}
}

// TestTTSRefusesBadRequests: nothing is sent for a request that cannot
// succeed, and there is no default base URL.
func TestTTSRefusesBadRequests(t *testing.T) {
	t.Parallel()
	em, _ := newTTS(t)
	ok := elevenlabs.SpeechRequest{VoiceID: "v", Text: "Hi."}
	tests := []struct {
		name string
		tts  elevenlabs.TTS
		req  elevenlabs.SpeechRequest
		want string
	}{
		{"no base URL", elevenlabs.TTS{APIKey: ttsKey}, ok, "no ElevenLabs base URL"},
		{"bad base URL", elevenlabs.TTS{BaseURL: "ftp://x", APIKey: ttsKey}, ok, "invalid ElevenLabs base URL"},
		{"no key", elevenlabs.TTS{BaseURL: em.URL}, ok, "no ElevenLabs API key"},
		{"no voice", elevenlabs.TTS{BaseURL: em.URL, APIKey: ttsKey}, elevenlabs.SpeechRequest{Text: "Hi."}, "invalid voice id"},
		{"dot voice", elevenlabs.TTS{BaseURL: em.URL, APIKey: ttsKey}, elevenlabs.SpeechRequest{VoiceID: "..", Text: "Hi."}, "invalid voice id"},
		{"no text", elevenlabs.TTS{BaseURL: em.URL, APIKey: ttsKey}, elevenlabs.SpeechRequest{VoiceID: "v", Text: " \n"}, "no text"},
	}
	for _, tc := range tests {
		_, err := tc.tts.Generate(t.Context(), tc.req)
		if !voicehook.IsPermanent(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a permanent error containing %q", tc.name, err, tc.want)
		}
	}
	if n := len(em.Calls()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestTTSNoRedirect: a redirect is not followed, so the key never reaches
// another host.
func TestTTSNoRedirect(t *testing.T) {
	t.Parallel()
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked.Store(true) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	tts := &elevenlabs.TTS{BaseURL: srv.URL, APIKey: ttsKey}
	_, err := tts.Generate(t.Context(), elevenlabs.SpeechRequest{VoiceID: "v", Text: "x"})
	var apiErr *elevenlabs.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTemporaryRedirect || leaked.Load() {
		t.Errorf("err = %v, leaked = %v", err, leaked.Load())
	}
}
