package elevenlabstest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/audiotest"
)

const key = "sk_emulator_test"

type reply struct {
	status int
	header http.Header
	body   []byte
}

// post sends a text-to-speech request; path is appended to the emulator's
// URL.
func post(t *testing.T, ctx context.Context, em *elevenlabstest.TTSEmulator, path, apiKey, body string) (reply, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, em.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if apiKey != "" {
		req.Header.Set("xi-api-key", apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return reply{resp.StatusCode, resp.Header, b}, nil
}

func mustPost(t *testing.T, em *elevenlabstest.TTSEmulator, path, body string) reply {
	t.Helper()
	r, err := post(t, t.Context(), em, path, key, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func start(t *testing.T) *elevenlabstest.TTSEmulator {
	t.Helper()
	em := elevenlabstest.StartTTS(key)
	t.Cleanup(em.Close)
	return em
}

// mp3Duration measures audio with the duration code the pipeline uses.
func mp3Duration(t *testing.T, audio []byte) time.Duration {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.mp3")
	if err := os.WriteFile(path, audio, 0o600); err != nil {
		t.Fatal(err)
	}
	if f, _, ok := fetch.Sniff(audio); !ok || f != fetch.FormatMP3 {
		t.Fatalf("audio is not MP3 (sniffed %q)", f)
	}
	d, err := fetch.Duration(path, fetch.FormatMP3)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type ttsReply struct {
	AudioBase64 string `json:"audio_base64"`
	Alignment   *struct {
		Characters []string  `json:"characters"`
		Start      []float64 `json:"character_start_times_seconds"`
		End        []float64 `json:"character_end_times_seconds"`
	} `json:"alignment"`
	NormalizedAlignment json.RawMessage `json:"normalized_alignment"`
}

func TestTTSWithTimestamps(t *testing.T) {
	t.Parallel()
	em := start(t)
	text := "Héllo, world! Ça va?"
	r := mustPost(t, em, "/v1/text-to-speech/voice%201/with-timestamps?output_format=mp3_44100_128",
		`{"text":"`+text+`","model_id":"eleven_flash_v2_5","previous_request_ids":["req_0"],"next_text":"More."}`)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := map[string]string{}
	for _, h := range []string{"request-id", "character-cost", "current-concurrent-requests", "maximum-concurrent-requests", "Content-Type"} {
		got[h] = r.header.Get(h)
	}
	want := map[string]string{
		"request-id": "req_1", "character-cost": "20", "current-concurrent-requests": "1",
		"maximum-concurrent-requests": "2", "Content-Type": "application/json",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}

	var body ttsReply
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	audio, err := base64.StdEncoding.DecodeString(body.AudioBase64)
	if err != nil {
		t.Fatal(err)
	}
	frames := audiotest.MP3FrameCount(20 * elevenlabstest.SpeechPerRune)
	if got, want := mp3Duration(t, audio), elevenlabstest.SpeechDuration(text); got != want {
		t.Errorf("audio plays %v, SpeechDuration says %v", got, want)
	}
	if d, want := elevenlabstest.SpeechDuration(text), time.Duration(frames)*audiotest.MP3FrameDuration; d-want > time.Microsecond || want-d > time.Microsecond {
		t.Errorf("SpeechDuration = %v, want %d frames = %v", d, frames, want)
	}

	a := body.Alignment
	if a == nil {
		t.Fatal("no alignment")
	}
	if diff := cmp.Diff(strings.Split(text, ""), a.Characters); diff != "" {
		t.Errorf("characters (-want +got):\n%s", diff)
	}
	seconds := elevenlabstest.SpeechDuration(text).Seconds()
	if len(a.Start) != 20 || len(a.End) != 20 {
		t.Fatalf("alignment has %d starts, %d ends", len(a.Start), len(a.End))
	}
	if math.Abs(a.End[19]-seconds) > 1e-9 {
		t.Errorf("last character ends at %v s, audio plays %v s", a.End[19], seconds)
	}
	for i := range 20 {
		if math.Abs(a.Start[i]-float64(i)*seconds/20) > 1e-9 || (i > 0 && a.Start[i] != a.End[i-1]) {
			t.Errorf("character %d spans [%v, %v)", i, a.Start[i], a.End[i])
		}
	}
	var norm ttsReply
	if err := json.Unmarshal([]byte(`{"alignment":`+string(body.NormalizedAlignment)+`}`), &norm); err != nil || norm.Alignment == nil ||
		!cmp.Equal(norm.Alignment, body.Alignment) {
		t.Errorf("normalized_alignment %s differs from alignment", body.NormalizedAlignment)
	}

	wantCalls := []elevenlabstest.TTSCall{{
		VoiceID: "voice 1", WithTimestamps: true, OutputFormat: "mp3_44100_128",
		Text: text, ModelID: "eleven_flash_v2_5", NextText: "More.", PreviousRequestIDs: []string{"req_0"},
		RequestID: "req_1", Status: 200,
	}}
	if diff := cmp.Diff(wantCalls, em.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestTTSRawAudio(t *testing.T) {
	t.Parallel()
	em := start(t)
	r := mustPost(t, em, "/v1/text-to-speech/v1", `{"text":"x"}`)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "audio/mpeg" {
		t.Fatalf("status %d, %s: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	// One rune is 60 ms: two frames.
	if got, want := mp3Duration(t, r.body), elevenlabstest.SpeechDuration("x"); got != want || elevenlabstest.SpeechFrames("x") != 2 {
		t.Errorf("audio plays %v, want %v (%d frames)", got, want, elevenlabstest.SpeechFrames("x"))
	}
	if calls := em.Calls(); len(calls) != 1 || calls[0].WithTimestamps || calls[0].RequestID != "req_1" {
		t.Errorf("calls = %+v", calls)
	}
}

func TestTTSRefusals(t *testing.T) {
	t.Parallel()
	em := start(t)
	em.SetVoices("known")
	const path = "/v1/text-to-speech/known/with-timestamps"
	tests := []struct {
		name, path, key, body string
		status                int
		want                  string // the body's detail, as JSON
	}{
		{"no key", path, "", `{"text":"hi"}`, 401,
			`{"status":"needs_authorization","message":"Neither authorization header nor xi-api-key received, please provide one."}`},
		{"wrong key", path, "sk_wrong", `{"text":"hi"}`, 401,
			`{"status":"invalid_api_key","message":"Invalid API key"}`},
		{"no text", path, key, `{"model_id":"eleven_v3"}`, 422,
			`[{"loc":["body","text"],"msg":"field required","type":"value_error.missing"}]`},
		{"empty text", path, key, `{"text":"  "}`, 422,
			`[{"loc":["body","text"],"msg":"ensure this value has at least 1 characters","type":"value_error.any_str.min_length"}]`},
		{"unknown voice", "/v1/text-to-speech/other/with-timestamps", key, `{"text":"hi"}`, 400,
			`{"status":"voice_not_found","message":"A voice with the voice_id other was not found."}`},
		{"over eleven_v3's limit", path, key, `{"text":"` + strings.Repeat("a", 3001) + `","model_id":"eleven_v3"}`, 400,
			`{"status":"max_character_limit_exceeded","message":"Text is 3001 characters long, over the maximum of 3000 characters for model eleven_v3."}`},
		{"pcm output", path + "?output_format=pcm_16000", key, `{"text":"hi"}`, 400,
			`{"status":"invalid_output_format","message":"emulator: output_format pcm_16000 is not emulated; use an mp3_* format"}`},
		{"unknown output", path + "?output_format=mp3_1_1", key, `{"text":"hi"}`, 422,
			`[{"loc":["query","output_format"],"msg":"value is not a valid enumeration member; permitted: 'mp3_22050_32', 'mp3_44100_128', …","type":"type_error.enum"}]`},
		{"unknown path", "/v1/other", key, `{}`, 404, `{"status":"not_found","message":"Not Found"}`},
	}
	for _, tc := range tests {
		r, err := post(t, t.Context(), em, tc.path, tc.key, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Detail json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Errorf("%s: body %q: %v", tc.name, r.body, err)
			continue
		}
		var got, want any
		if err := json.Unmarshal(env.Detail, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatal(err)
		}
		if r.status != tc.status || !cmp.Equal(got, want) {
			t.Errorf("%s: got %d %s\nwant %d %s", tc.name, r.status, env.Detail, tc.status, tc.want)
		}
	}
	// 3000 characters is within eleven_v3's limit.
	if r := mustPost(t, em, path, `{"text":"`+strings.Repeat("a", 3000)+`","model_id":"eleven_v3"}`); r.status != 200 {
		t.Errorf("3000 characters for eleven_v3: %d %s", r.status, r.body)
	}
	for _, c := range em.Calls() {
		if (c.Status == 200) != (c.RequestID != "") {
			t.Errorf("call %+v: request id must be set exactly when answered 200", c)
		}
	}
	// Any other method is refused.
	resp, err := http.Get(em.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

// TestTTSConcurrencyLimit holds requests in flight and checks that those
// over the limit are refused at once, that the limit can change mid-run, and
// that slots are freed.
func TestTTSConcurrencyLimit(t *testing.T) {
	t.Parallel()
	em := start(t)
	em.SetDelay(time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	hold := func(n int) {
		for range n {
			wg.Go(func() {
				if _, err := post(t, ctx, em, "/v1/text-to-speech/v/with-timestamps", key, `{"text":"held"}`); !errors.Is(err, context.Canceled) {
					t.Errorf("held request: %v", err)
				}
			})
		}
	}
	waitInFlight := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); em.InFlight() != n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("in flight: %d, want %d", em.InFlight(), n)
			}
		}
	}
	hold(2)
	waitInFlight(2)
	for range 3 {
		r := mustPost(t, em, "/v1/text-to-speech/v/with-timestamps", `{"text":"refused"}`)
		if r.status != http.StatusTooManyRequests || !strings.Contains(string(r.body), `"too_many_concurrent_requests"`) {
			t.Errorf("over the limit: %d %s", r.status, r.body)
		}
	}
	em.SetConcurrencyLimit(3)
	hold(1)
	waitInFlight(3)
	cancel()
	wg.Wait()
	waitInFlight(0)

	em.SetDelay(0)
	if r := mustPost(t, em, "/v1/text-to-speech/v/with-timestamps", `{"text":"after"}`); r.status != 200 {
		t.Errorf("after the held requests: %d %s", r.status, r.body)
	}
	if em.MaxSeen() != 3 || em.TooManyRequests() != 3 {
		t.Errorf("MaxSeen = %d, TooManyRequests = %d; want 3, 3", em.MaxSeen(), em.TooManyRequests())
	}
	statuses := map[string][]int{}
	for _, c := range em.Calls() {
		statuses[c.Text] = append(statuses[c.Text], c.Status)
	}
	want := map[string][]int{"held": {0, 0, 0}, "refused": {429, 429, 429}, "after": {200}}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("statuses by text (-want +got):\n%s", diff)
	}
}

// TestTTSSequentialWithinLimit: a client that sends its next request as soon
// as it has an answer never finds its slot still taken.
func TestTTSSequentialWithinLimit(t *testing.T) {
	t.Parallel()
	em := start(t)
	em.SetConcurrencyLimit(1)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 50 {
				for {
					r := mustPost(t, em, "/v1/text-to-speech/v", `{"text":"x"}`)
					if r.status == 200 {
						break
					}
					if r.status != 429 {
						t.Errorf("status %d", r.status)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if em.MaxSeen() != 1 {
		t.Errorf("MaxSeen = %d, want 1", em.MaxSeen())
	}
	em2 := start(t)
	em2.SetConcurrencyLimit(1)
	for range 100 {
		if r := mustPost(t, em2, "/v1/text-to-speech/v", `{"text":"x"}`); r.status != 200 {
			t.Fatalf("one client at a time: %d %s", r.status, r.body)
		}
	}
}

func TestTTSInjectedFailures(t *testing.T) {
	t.Parallel()
	em := start(t)
	em.FailNext(429, "system_busy", "busy")
	em.FailNext(402, "quota_exceeded", "no credits")
	em.MalformNext(elevenlabstest.TTSBadBase64)
	em.MalformNext(elevenlabstest.TTSMisaligned)
	em.MalformNext(elevenlabstest.TTSEmptyAudio)
	em.MalformNext(elevenlabstest.TTSNotJSON)
	const path = "/v1/text-to-speech/v/with-timestamps"
	for i, want := range []int{429, 402} {
		r := mustPost(t, em, path, `{"text":"x"}`)
		if r.status != want {
			t.Errorf("#%d: %d %s", i, r.status, r.body)
		}
	}
	for _, check := range []func(ttsReply, error) bool{
		func(b ttsReply, err error) bool {
			_, derr := base64.StdEncoding.DecodeString(b.AudioBase64)
			return err == nil && derr != nil
		},
		func(b ttsReply, err error) bool {
			return err == nil && len(b.Alignment.End) != len(b.Alignment.Characters)
		},
		func(b ttsReply, err error) bool { return err == nil && b.AudioBase64 == "" },
		func(b ttsReply, err error) bool { return err != nil },
	} {
		r := mustPost(t, em, path, `{"text":"xy"}`)
		var b ttsReply
		err := json.Unmarshal(r.body, &b)
		if r.status != 200 || !check(b, err) {
			t.Errorf("malformed reply not as asked: %d %.100s", r.status, r.body)
		}
	}
	if r := mustPost(t, em, path, `{"text":"ok"}`); r.status != 200 {
		t.Errorf("after the injections: %d", r.status)
	}
	if em.TooManyRequests() != 1 {
		t.Errorf("TooManyRequests = %d, want 1", em.TooManyRequests())
	}
}

// TestTTSDelayHonoursCancellation: a client that gives up frees its slot
// and leaves no handler behind.
func TestTTSDelayHonoursCancellation(t *testing.T) {
	t.Parallel()
	em := start(t)
	em.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := post(t, ctx, em, "/v1/text-to-speech/v", key, `{"text":"slow"}`); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline", err)
	}
	for deadline := time.Now().Add(10 * time.Second); em.InFlight() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned request still holds its slot")
		}
	}
	if c := em.Calls(); len(c) != 1 || c[0].Status != 0 || c[0].RequestID != "" {
		t.Errorf("calls = %+v", c)
	}
}
