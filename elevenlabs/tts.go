package elevenlabs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/voicehook/voicehook"
)

// DefaultOutputFormat is what Generate asks for when a request names no
// output format: MP3 at 44.1 kHz, 128 kbit/s.
const DefaultOutputFormat = "mp3_44100_128"

// DefaultMaxReplyBytes bounds a text-to-speech reply: 40,000 characters
// (the largest request any model takes) make well under an hour of speech,
// about 60 MB at 128 kbit/s once base64-encoded, plus the alignments.
const DefaultMaxReplyBytes = 64 << 20

// ErrMalformedReply is wrapped by Generate's error when ElevenLabs answered
// 200 with something unusable (not JSON, bad base64, no audio, alignment
// arrays of different lengths). Such a glitch is worth a retry.
var ErrMalformedReply = errors.New("malformed text-to-speech reply")

// ErrReplyTooLarge is wrapped by Generate's error when a reply exceeds
// TTS.MaxBytes. It is permanent: the same text would give the same audio,
// and each retry would be billed.
var ErrReplyTooLarge = errors.New("text-to-speech reply too large")

// TTS generates speech with ElevenLabs' synchronous text-to-speech endpoint,
// which answers with the audio itself (it sends no webhook).
type TTS struct {
	// BaseURL is required: there is deliberately no default, so that a
	// test or a misconfiguration can never spend real characters.
	BaseURL string
	// APIKey is sent as xi-api-key. It never appears in errors.
	APIKey string
	// HTTP defaults to http.DefaultClient; redirects are never followed
	// (they would carry the key elsewhere). Bound each call with ctx.
	HTTP *http.Client
	// MaxBytes caps the reply body; 0 means DefaultMaxReplyBytes.
	MaxBytes int64
}

// SpeechRequest is one text-to-speech request. It is also the request body,
// hence the JSON names (ElevenLabs' own).
type SpeechRequest struct {
	// VoiceID goes in the path; OutputFormat (default DefaultOutputFormat)
	// and EnableLogging in the query.
	VoiceID       string `json:"-"`
	OutputFormat  string `json:"-"`
	EnableLogging *bool  `json:"-"`

	Text                   string         `json:"text"`
	ModelID                string         `json:"model_id,omitempty"`
	LanguageCode           string         `json:"language_code,omitempty"`
	VoiceSettings          *VoiceSettings `json:"voice_settings,omitempty"`
	Seed                   *int           `json:"seed,omitempty"`
	PreviousText           string         `json:"previous_text,omitempty"`
	NextText               string         `json:"next_text,omitempty"`
	PreviousRequestIDs     []string       `json:"previous_request_ids,omitempty"`
	NextRequestIDs         []string       `json:"next_request_ids,omitempty"`
	ApplyTextNormalization string         `json:"apply_text_normalization,omitempty"` // auto, on or off
}

// VoiceSettings override the voice's stored settings; nil fields keep them.
// They are the domain's voicehook.VoiceSettings, which a job's script holds.
type VoiceSettings = voicehook.VoiceSettings

// Speech is a generated clip.
type Speech struct {
	Audio []byte
	// Alignment times each character of the text as sent; the normalized
	// one, of the text as spoken ("3" → "three"). Either may be nil.
	Alignment           *Alignment
	NormalizedAlignment *Alignment
	// RequestID is the reply's request-id: give it as PreviousRequestIDs
	// to the next part of the same script so its prosody follows on.
	RequestID string
	// CharacterCost is what the request was billed (character-cost).
	CharacterCost int
	// CurrentConcurrent and MaxConcurrent report the plan's concurrency
	// (current-concurrent-requests, maximum-concurrent-requests).
	CurrentConcurrent, MaxConcurrent int
}

// Alignment gives each character's start and end, in seconds from the
// start of the clip; the three slices have the same length.
type Alignment struct {
	Characters []string  `json:"characters"`
	Start      []float64 `json:"character_start_times_seconds"`
	End        []float64 `json:"character_end_times_seconds"`
}

// Generate asks for speech of req.Text. Errors:
//   - a non-200 answer is an *APIError (use errors.As); its Temporary,
//     RateLimited and Permanent methods say what to do, and permanent ones
//     come wrapped in a *voicehook.PermanentError too;
//   - a bad request (no voice, no text, no BaseURL) is a
//     *voicehook.PermanentError, and nothing is sent;
//   - a 200 reply that is unusable wraps ErrMalformedReply (temporary);
//   - network errors, timeouts and cancellations are returned wrapped, and
//     are temporary.
func (t *TTS) Generate(ctx context.Context, req SpeechRequest) (Speech, error) {
	sp, err := t.generate(ctx, req)
	if err != nil {
		return Speech{}, fmt.Errorf("ElevenLabs text to speech: %w", err)
	}
	return sp, nil
}

func (t *TTS) generate(ctx context.Context, req SpeechRequest) (Speech, error) {
	endpoint, err := t.endpoint(req)
	if err != nil {
		return Speech{}, err
	}
	key := strings.TrimSpace(t.APIKey)
	if key == "" {
		return Speech{}, voicehook.Permanent("no ElevenLabs API key to generate speech with", nil)
	}
	if strings.TrimSpace(req.Text) == "" {
		return Speech{}, voicehook.Permanent("no text to generate speech from", nil)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Speech{}, voicehook.Permanent("encoding the text-to-speech request", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return Speech{}, voicehook.Permanent("building the text-to-speech request", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("xi-api-key", key)

	resp, err := noRedirects(t.HTTP).Do(hreq)
	if err != nil {
		return Speech{}, err // the *url.Error names the URL: ids, never the key
	}
	defer resp.Body.Close()
	raw, err := readAnswer(resp, key, t.MaxBytes, DefaultMaxReplyBytes, ErrReplyTooLarge)
	if err != nil {
		return Speech{}, err
	}
	sp, err := decodeSpeech(raw)
	if err != nil {
		return Speech{}, err
	}
	sp.RequestID = resp.Header.Get("request-id")
	sp.CharacterCost = headerInt(resp.Header, "character-cost")
	sp.CurrentConcurrent = headerInt(resp.Header, "current-concurrent-requests")
	sp.MaxConcurrent = headerInt(resp.Header, "maximum-concurrent-requests")
	return sp, nil
}

// endpoint builds …/v1/text-to-speech/{voice_id}/with-timestamps?output_format=….
func (t *TTS) endpoint(req SpeechRequest) (string, error) {
	if strings.TrimSpace(t.BaseURL) == "" {
		return "", voicehook.Permanent("no ElevenLabs base URL configured", nil)
	}
	base, err := checkBaseURL(t.BaseURL)
	if err != nil {
		return "", err
	}
	voice := strings.TrimSpace(req.VoiceID)
	if voice == "" || voice == "." || voice == ".." {
		return "", voicehook.Permanent(fmt.Sprintf("invalid voice id %q", req.VoiceID), nil)
	}
	q := url.Values{}
	q.Set("output_format", cmp.Or(req.OutputFormat, DefaultOutputFormat))
	if req.EnableLogging != nil {
		q.Set("enable_logging", strconv.FormatBool(*req.EnableLogging))
	}
	return base + "/v1/text-to-speech/" + url.PathEscape(voice) + "/with-timestamps?" + q.Encode(), nil
}

// decodeSpeech checks a 200 reply's body.
func decodeSpeech(raw []byte) (Speech, error) {
	var body struct {
		AudioBase64         *string    `json:"audio_base64"`
		Alignment           *Alignment `json:"alignment"`
		NormalizedAlignment *Alignment `json:"normalized_alignment"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return Speech{}, fmt.Errorf("%w: not JSON (%s): %s", ErrMalformedReply, err, clean(string(raw), 120))
	}
	if body.AudioBase64 == nil {
		return Speech{}, fmt.Errorf("%w: no audio_base64", ErrMalformedReply)
	}
	audio, err := base64.StdEncoding.DecodeString(*body.AudioBase64)
	if err != nil {
		return Speech{}, fmt.Errorf("%w: audio_base64: %v", ErrMalformedReply, err)
	}
	if len(audio) == 0 {
		return Speech{}, fmt.Errorf("%w: empty audio", ErrMalformedReply)
	}
	for _, c := range []struct {
		name string
		a    *Alignment
	}{{"alignment", body.Alignment}, {"normalized_alignment", body.NormalizedAlignment}} {
		if a, name := c.a, c.name; a != nil && (len(a.Start) != len(a.Characters) || len(a.End) != len(a.Characters)) {
			return Speech{}, fmt.Errorf("%w: %s has %d characters, %d start and %d end times",
				ErrMalformedReply, name, len(a.Characters), len(a.Start), len(a.End))
		}
	}
	return Speech{Audio: audio, Alignment: body.Alignment, NormalizedAlignment: body.NormalizedAlignment}, nil
}

// noRedirects copies c (default http.DefaultClient) with redirects turned
// off: Go forwards custom headers such as xi-api-key to wherever a redirect
// points, and these endpoints have no reason to redirect.
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// headerInt reads a numeric header, 0 if absent or not a number.
func headerInt(h http.Header, name string) int {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get(name)))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// ElevenLabs error codes (detail.status) whose meaning does not depend on
// the HTTP status they come with: quota_exceeded has come with both 401 and
// 402, so the code decides first and the HTTP status second.
var (
	rateLimitCodes = map[string]bool{
		"too_many_concurrent_requests": true, // over the plan's concurrency
		"system_busy":                  true, // ElevenLabs overloaded
	}
	permanentCodes = map[string]bool{
		"quota_exceeded":               true,
		"invalid_api_key":              true,
		"needs_authorization":          true,
		"max_character_limit_exceeded": true,
		"voice_not_found":              true,
		"only_for_creator+":            true,
		"model_not_found":              true,
	}
)

// RateLimited reports a refusal for load: a 429 (too_many_concurrent_requests,
// system_busy), or those codes with any status. The request was not
// attempted: retry it after a backoff and do not count it as a failure.
func (e *APIError) RateLimited() bool {
	switch {
	case rateLimitCodes[e.Code]:
		return true
	case permanentCodes[e.Code]:
		return false
	}
	return e.StatusCode == http.StatusTooManyRequests
}

// Temporary reports whether the same request may succeed later: rate
// limits (any 429), 408 and 5xx, unless the error code says otherwise.
func (e *APIError) Temporary() bool {
	switch {
	case e.RateLimited():
		return true
	case permanentCodes[e.Code]:
		return false
	}
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

// Permanent reports whether retrying the same request is pointless: bad key,
// quota used up, text too long, unknown voice, plan too small, validation
// errors, and every other 4xx.
func (e *APIError) Permanent() bool { return !e.Temporary() }

// refusal is the operator's reason for a permanent error, with a hint where
// one helps.
// readAnswer reads a 2xx answer of at most limit bytes (def when limit is
// 0); another status is the API's error, permanent when ElevenLabs means
// it, and an answer over the limit is tooLarge, permanent.
func readAnswer(resp *http.Response, key string, limit, def int64, tooLarge error) ([]byte, error) {
	if resp.StatusCode/100 != 2 {
		apiErr := parseAPIError(resp, key)
		if apiErr.Permanent() {
			return nil, voicehook.Permanent(refusal(apiErr), apiErr)
		}
		return nil, apiErr
	}
	if limit <= 0 {
		limit = def
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, voicehook.Permanent(fmt.Sprintf("the answer exceeds %d bytes; raise the limit", limit), tooLarge)
	}
	return raw, nil
}

func refusal(e *APIError) string {
	switch {
	case e.Code == "invalid_api_key" || e.Code == "needs_authorization":
		return "ElevenLabs refused the API key"
	case e.Code == "quota_exceeded":
		return "the ElevenLabs quota is used up"
	case e.Code == "max_character_limit_exceeded":
		return "the text is over the model's character limit"
	}
	return "ElevenLabs refused the request"
}

// parseAPIError reads a non-200 answer. Its body is one of
//
//	{"detail":{"status":"voice_not_found","message":"…"}}  (newer ones add type and code)
//	{"detail":[{"loc":["body","text"],"msg":"field required","type":"value_error.missing"}]}
//	{"detail":"…"}, {"message":"…"}, or anything at all (a proxy's page).
func parseAPIError(resp *http.Response, key string) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	body := readSnippet(resp.Body, key)
	var env struct {
		Detail  json.RawMessage `json:"detail"`
		Message string          `json:"message"`
	}
	if json.Unmarshal([]byte(body), &env) == nil {
		var obj struct {
			Status  string `json:"status"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		var str string
		var list []validationIssue
		switch {
		case json.Unmarshal(env.Detail, &obj) == nil && (obj.Status != "" || obj.Code != "" || obj.Message != ""):
			e.Code, e.Message = clean(cmp.Or(obj.Status, obj.Code), 60), clean(obj.Message, 300)
		case json.Unmarshal(env.Detail, &str) == nil && str != "":
			e.Message = clean(str, 300)
		case json.Unmarshal(env.Detail, &list) == nil && len(list) > 0:
			e.Message = validationMessage(list)
		case env.Message != "":
			e.Message = clean(env.Message, 300)
		}
	}
	if e.Message == "" {
		e.Message = cmp.Or(clean(body, 200), http.StatusText(resp.StatusCode))
	}
	return e
}

// validationIssue is one item of a 422 (FastAPI/pydantic) detail list.
type validationIssue struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// validationMessage turns a 422 list into one line:
// "invalid request: body.text: field required; query.output_format: …".
func validationMessage(list []validationIssue) string {
	const shown = 3
	var parts []string
	for i, v := range list {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(list)-shown))
			break
		}
		var loc []string
		for _, l := range v.Loc {
			loc = append(loc, fmt.Sprint(l))
		}
		msg := cmp.Or(v.Msg, v.Type, "invalid")
		if len(loc) > 0 {
			msg = strings.Join(loc, ".") + ": " + msg
		}
		parts = append(parts, msg)
	}
	return clean("invalid request: "+strings.Join(parts, "; "), 300)
}
