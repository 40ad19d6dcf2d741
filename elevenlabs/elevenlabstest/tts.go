package elevenlabstest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// SpeechPerRune is how much speech the TTS emulator makes for each
// character of text.
const SpeechPerRune = 60 * time.Millisecond

// SpeechFrames is the number of MP3 frames the TTS emulator answers text
// with: SpeechPerRune per rune, rounded to whole frames, at least one.
func SpeechFrames(text string) int {
	return max(1, audiotest.MP3FrameCount(time.Duration(utf8.RuneCountInString(text))*SpeechPerRune))
}

// SpeechDuration is how long the TTS emulator's audio for text plays, to
// the nanosecond (rounded down), as a frame walk measures it.
func SpeechDuration(text string) time.Duration {
	samples := int64(SpeechFrames(text)) * audiotest.MP3FrameSamples
	return time.Duration(samples * int64(time.Second) / audiotest.MP3SampleRate)
}

// TTSMalformation is a way a 200 text-to-speech reply can be broken.
type TTSMalformation int

const (
	// TTSNotJSON answers 200 with an HTML page, as a proxy might.
	TTSNotJSON TTSMalformation = iota + 1
	// TTSBadBase64 sends audio_base64 that is not base64.
	TTSBadBase64
	// TTSEmptyAudio sends an empty audio_base64.
	TTSEmptyAudio
	// TTSMisaligned sends alignment arrays of different lengths.
	TTSMisaligned
)

// TTSCall is one text-to-speech request as the emulator saw it.
type TTSCall struct {
	VoiceID        string
	WithTimestamps bool // the …/with-timestamps endpoint, not the raw one
	OutputFormat   string
	// From the body; empty when it was not JSON.
	Text, ModelID, LanguageCode        string
	PreviousText, NextText             string
	PreviousRequestIDs, NextRequestIDs []string
	// RequestID is the request-id answered, empty unless Status is 200.
	RequestID string
	// Status is the HTTP status answered; 0 if the client went away first.
	Status int
}

// TTSEmulator serves ElevenLabs' text-to-speech endpoints on 127.0.0.1:
// POST /v1/text-to-speech/{voice_id}/with-timestamps (JSON with base64 MP3
// and alignments) and POST /v1/text-to-speech/{voice_id} (the MP3 itself).
// The audio is real MP3 (silence, SpeechPerRune per character) and the
// alignment spreads the characters evenly over its exact duration.
type TTSEmulator struct {
	// URL is the base URL to give elevenlabs.TTS.BaseURL.
	URL string
	// APIKey is the only xi-api-key accepted.
	APIKey string

	srv  *httptest.Server
	done chan struct{}
	once sync.Once

	mu        sync.Mutex
	limit     int
	inFlight  int
	maxSeen   int
	tooMany   int
	voices    map[string]bool
	failures  []ttsFailure
	malformed []TTSMalformation
	delay     time.Duration
	seq       int
	calls     []TTSCall
}

type ttsFailure struct {
	status          int
	detail, message string
}

// DefaultConcurrencyLimit is the Free plan's concurrency for multilingual
// models.
const DefaultConcurrencyLimit = 2

// StartTTS runs a text-to-speech emulator accepting apiKey, admitting
// DefaultConcurrencyLimit requests at a time and any voice id. Call Close
// when done (e.g. t.Cleanup(em.Close)).
func StartTTS(apiKey string) *TTSEmulator {
	e := &TTSEmulator{APIKey: apiKey, done: make(chan struct{}), limit: DefaultConcurrencyLimit}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/text-to-speech/{voice}/with-timestamps", func(w http.ResponseWriter, r *http.Request) {
		e.serve(w, r, true)
	})
	mux.HandleFunc("POST /v1/text-to-speech/{voice}", func(w http.ResponseWriter, r *http.Request) {
		e.serve(w, r, false)
	})
	// Same paths without a method: anything but POST gets 405.
	mux.HandleFunc("/v1/text-to-speech/{voice}/with-timestamps", methodNotAllowed)
	mux.HandleFunc("/v1/text-to-speech/{voice}", methodNotAllowed)
	e.routeSTT(mux) // POST /v1/speech-to-text, in stt.go
	// The key's user, as `voicehook doctor` asks to check a key.
	mux.HandleFunc("GET /v1/user", e.serveUser)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
	})
	e.srv = httptest.NewServer(mux) // binds 127.0.0.1
	e.URL = e.srv.URL
	return e
}

// Close stops the server, cutting short any delayed reply.
func (e *TTSEmulator) Close() {
	e.once.Do(func() {
		close(e.done)
		e.srv.Close()
	})
}

// SetConcurrencyLimit sets how many requests may be in flight at once
// (n <= 0: no limit). It applies to requests arriving from now on.
func (e *TTSEmulator) SetConcurrencyLimit(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.limit = n
}

// SetVoices restricts the voice ids accepted; other ids get 400
// voice_not_found. With no ids, every voice is accepted again.
func (e *TTSEmulator) SetVoices(ids ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.voices = nil
	if len(ids) > 0 {
		e.voices = map[string]bool{}
		for _, id := range ids {
			e.voices[id] = true
		}
	}
}

// FailNext queues a failure: the next admitted request (right key, within
// the concurrency limit) answers status with
// {"detail":{"status":detailStatus,"message":message}}; e.g. 429
// system_busy, 500, 401 or 402 quota_exceeded.
func (e *TTSEmulator) FailNext(status int, detailStatus, message string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failures = append(e.failures, ttsFailure{status, detailStatus, message})
}

// MalformNext breaks the next reply that would have succeeded.
func (e *TTSEmulator) MalformNext(m TTSMalformation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.malformed = append(e.malformed, m)
}

// SetDelay holds every admitted request for d before it is answered (until
// the client gives up or the emulator closes). Delayed requests count as in
// flight.
func (e *TTSEmulator) SetDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.delay = d
}

// InFlight is the number of requests admitted and not yet answered.
func (e *TTSEmulator) InFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inFlight
}

// MaxSeen is the highest number of requests ever in flight at once.
func (e *TTSEmulator) MaxSeen() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxSeen
}

// TooManyRequests counts the 429 answers sent, for the concurrency limit or
// injected by FailNext.
func (e *TTSEmulator) TooManyRequests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tooMany
}

// Calls returns every request received so far, in arrival order.
func (e *TTSEmulator) Calls() []TTSCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]TTSCall, len(e.calls))
	copy(out, e.calls)
	return out
}

// ttsBody is the request body; pointers tell absent from empty.
type ttsBody struct {
	Text               *string  `json:"text"`
	ModelID            string   `json:"model_id"`
	LanguageCode       string   `json:"language_code"`
	PreviousText       string   `json:"previous_text"`
	NextText           string   `json:"next_text"`
	PreviousRequestIDs []string `json:"previous_request_ids"`
	NextRequestIDs     []string `json:"next_request_ids"`
}

func (e *TTSEmulator) serve(w http.ResponseWriter, r *http.Request, withTimestamps bool) {
	raw, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	var body ttsBody
	decodeErr := readErr
	if decodeErr == nil {
		decodeErr = json.Unmarshal(raw, &body)
	}
	format := r.URL.Query().Get("output_format")
	if format == "" {
		format = elevenlabs.DefaultOutputFormat
	}
	call := TTSCall{
		VoiceID: r.PathValue("voice"), WithTimestamps: withTimestamps, OutputFormat: format,
		ModelID: body.ModelID, LanguageCode: body.LanguageCode,
		PreviousText: body.PreviousText, NextText: body.NextText,
		PreviousRequestIDs: body.PreviousRequestIDs, NextRequestIDs: body.NextRequestIDs,
	}
	if body.Text != nil {
		call.Text = *body.Text
	}
	sw := e.begin(w, call)
	defer sw.end()

	if !authorized(sw, r, e.APIKey) {
		return
	}

	current, limit, ok := sw.admit()
	if !ok {
		writeError(sw, http.StatusTooManyRequests, "too_many_concurrent_requests", fmt.Sprintf(
			"You have too many concurrent requests: %d are in progress and your plan allows %d. Please wait for one to finish, or upgrade your plan.", current, limit))
		return
	}
	sw.Header().Set("current-concurrent-requests", strconv.Itoa(current))
	sw.Header().Set("maximum-concurrent-requests", strconv.Itoa(limit))

	e.mu.Lock()
	delay := e.delay
	e.mu.Unlock()
	if delay > 0 && !hold(r, e.done, delay) {
		return
	}
	if f, ok := e.nextFailure(); ok {
		writeError(sw, f.status, f.detail, f.message)
		return
	}
	if !e.validate(sw, call, body, decodeErr) {
		return
	}

	frames := SpeechFrames(call.Text)
	audio := audiotest.MP3Frames(frames)
	e.mu.Lock()
	e.seq++
	requestID := "req_" + strconv.Itoa(e.seq)
	var bad TTSMalformation
	if len(e.malformed) > 0 {
		bad, e.malformed = e.malformed[0], e.malformed[1:]
	}
	e.mu.Unlock()
	if bad == 0 {
		// What speech to text will hear in this audio (stt.go).
		e.rememberSpeech(call, frames, requestID)
	}
	sw.Header().Set("request-id", requestID)
	sw.Header().Set("character-cost", strconv.Itoa(utf8.RuneCountInString(call.Text)))

	if !withTimestamps {
		switch bad {
		case TTSEmptyAudio:
			audio = nil
		case TTSNotJSON, TTSBadBase64, TTSMisaligned:
			audio = []byte("<html><body>Service Unavailable</body></html>")
		}
		sw.Header().Set("Content-Type", "audio/mpeg")
		sw.Header().Set("Content-Length", strconv.Itoa(len(audio)))
		sw.WriteHeader(http.StatusOK)
		sw.Write(audio)
		return
	}

	seconds := float64(int64(frames)*audiotest.MP3FrameSamples) / audiotest.MP3SampleRate
	reply := map[string]any{
		"audio_base64":         base64.StdEncoding.EncodeToString(audio),
		"alignment":            alignment(call.Text, seconds),
		"normalized_alignment": alignment(call.Text, seconds),
	}
	switch bad {
	case TTSNotJSON:
		sw.Header().Set("Content-Type", "text/html")
		sw.WriteHeader(http.StatusOK)
		fmt.Fprint(sw, "<html><body>502 Bad Gateway</body></html>")
		return
	case TTSBadBase64:
		reply["audio_base64"] = "not base64!"
	case TTSEmptyAudio:
		reply["audio_base64"] = ""
	case TTSMisaligned:
		a := alignment(call.Text, seconds)
		a.End = a.End[:len(a.End)-1]
		reply["alignment"] = a
	}
	sw.Header().Set("Content-Type", "application/json")
	sw.WriteHeader(http.StatusOK)
	json.NewEncoder(sw).Encode(reply)
}

// validate answers the request's 4xx, if it has one, and reports whether
// it is valid.
func (e *TTSEmulator) validate(w http.ResponseWriter, call TTSCall, body ttsBody, decodeErr error) bool {
	switch {
	case decodeErr != nil:
		writeValidation(w, []any{"body", 0}, "Expecting value: "+decodeErr.Error(), "value_error.jsondecode")
		return false
	case body.Text == nil:
		writeValidation(w, []any{"body", "text"}, "field required", "value_error.missing")
		return false
	case strings.TrimSpace(*body.Text) == "":
		writeValidation(w, []any{"body", "text"}, "ensure this value has at least 1 characters", "value_error.any_str.min_length")
		return false
	}
	if !strings.HasPrefix(call.OutputFormat, "mp3_") {
		if known(call.OutputFormat) {
			writeError(w, http.StatusBadRequest, "invalid_output_format",
				"emulator: output_format "+call.OutputFormat+" is not emulated; use an mp3_* format")
		} else {
			writeValidation(w, []any{"query", "output_format"}, "value is not a valid enumeration member; permitted: 'mp3_22050_32', 'mp3_44100_128', …", "type_error.enum")
		}
		return false
	}
	if !mp3Formats[call.OutputFormat] {
		writeValidation(w, []any{"query", "output_format"}, "value is not a valid enumeration member; permitted: 'mp3_22050_32', 'mp3_44100_128', …", "type_error.enum")
		return false
	}
	e.mu.Lock()
	voiceOK := e.voices == nil || e.voices[call.VoiceID]
	e.mu.Unlock()
	if !voiceOK {
		writeError(w, http.StatusBadRequest, "voice_not_found", "A voice with the voice_id "+call.VoiceID+" was not found.")
		return false
	}
	model := call.ModelID
	if model == "" {
		model = elevenlabs.DefaultModel
	}
	if n, limit := utf8.RuneCountInString(call.Text), elevenlabs.CharacterLimit(model); n > limit {
		writeError(w, http.StatusBadRequest, "max_character_limit_exceeded", fmt.Sprintf(
			"Text is %d characters long, over the maximum of %d characters for model %s.", n, limit, model))
		return false
	}
	return true
}

// mp3Formats are ElevenLabs' MP3 output formats. The emulator answers all
// of them with the same 44.1 kHz, 128 kbit/s stream.
var mp3Formats = map[string]bool{
	"mp3_22050_32": true, "mp3_24000_48": true, "mp3_44100_32": true, "mp3_44100_64": true,
	"mp3_44100_96": true, "mp3_44100_128": true, "mp3_44100_192": true,
}

// known reports a real non-MP3 ElevenLabs output format.
func known(format string) bool {
	for _, p := range []string{"pcm_", "ulaw_", "alaw_", "opus_", "wav_"} {
		if strings.HasPrefix(format, p) {
			return true
		}
	}
	return false
}

// alignment spreads text's characters evenly over seconds: character i
// spans [i×d, (i+1)×d), and the last one ends exactly at seconds.
func alignment(text string, seconds float64) *elevenlabs.Alignment {
	chars := strings.Split(text, "")
	a := &elevenlabs.Alignment{
		Characters: chars,
		Start:      make([]float64, len(chars)),
		End:        make([]float64, len(chars)),
	}
	d := seconds / float64(len(chars))
	for i := range chars {
		a.Start[i] = float64(i) * d
		a.End[i] = float64(i+1) * d
	}
	if len(chars) > 0 {
		a.End[len(chars)-1] = seconds
	}
	return a
}

func (e *TTSEmulator) nextFailure() (ttsFailure, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.failures) == 0 {
		return ttsFailure{}, false
	}
	f := e.failures[0]
	e.failures = e.failures[1:]
	if f.status == http.StatusTooManyRequests {
		e.tooMany++
	}
	return f, true
}

// writeValidation answers 422 in FastAPI's format, as ElevenLabs does for
// requests that do not fit its schema.
func writeValidation(w http.ResponseWriter, loc []any, msg, typ string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnprocessableEntity)
	json.NewEncoder(w).Encode(map[string]any{
		"detail": []map[string]any{{"loc": loc, "msg": msg, "type": typ}},
	})
}

// exchange is one request's ResponseWriter. The moment it writes the
// status, it records the answer in the call log and frees the request's
// concurrency slot: a client that sends its next request as soon as it has
// an answer must not find the slot still taken.
type exchange struct {
	http.ResponseWriter
	e        *TTSEmulator
	index    int // in e.calls
	admitted bool
	status   int
}

// begin logs the call (in arrival order) and wraps w.
func (e *TTSEmulator) begin(w http.ResponseWriter, call TTSCall) *exchange {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, call)
	return &exchange{ResponseWriter: w, e: e, index: len(e.calls) - 1}
}

// admit takes a concurrency slot if the limit allows; current counts this
// request.
func (x *exchange) admit() (current, limit int, ok bool) {
	e := x.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.limit > 0 && e.inFlight >= e.limit {
		e.tooMany++
		return e.inFlight, e.limit, false
	}
	e.inFlight++
	e.maxSeen = max(e.maxSeen, e.inFlight)
	x.admitted = true
	return e.inFlight, e.limit, true
}

func (x *exchange) WriteHeader(status int) {
	if x.status == 0 {
		x.status = status
		e := x.e
		e.mu.Lock()
		e.calls[x.index].Status = status
		if status == http.StatusOK {
			e.calls[x.index].RequestID = x.Header().Get("request-id")
		}
		if x.admitted {
			e.inFlight--
			x.admitted = false
		}
		e.mu.Unlock()
	}
	x.ResponseWriter.WriteHeader(status)
}

func (x *exchange) Write(b []byte) (int, error) {
	if x.status == 0 {
		x.WriteHeader(http.StatusOK)
	}
	return x.ResponseWriter.Write(b)
}

// end frees the slot of a request that was never answered (its client
// went away, or the emulator closed).
func (x *exchange) end() {
	if x.admitted {
		x.e.mu.Lock()
		x.e.inFlight--
		x.e.mu.Unlock()
		x.admitted = false
	}
}

// serveUser answers GET /v1/user: the real API's user id and subscription
// fields (a Free plan), with the characters generated so far.
func (e *TTSEmulator) serveUser(w http.ResponseWriter, r *http.Request) {
	if !authorized(w, r, e.APIKey) {
		return
	}
	e.mu.Lock()
	used := 0
	for _, c := range e.calls {
		if c.Status == http.StatusOK {
			used += utf8.RuneCountInString(c.Text)
		}
	}
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"user_id": "emulated_user",
		"subscription": map[string]any{
			"tier": "free", "status": "active", "character_count": used, "character_limit": 10000,
		},
	})
}
