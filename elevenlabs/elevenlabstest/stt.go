package elevenlabstest

// Speech to text, served by the TTS emulator (voicehook has one
// --elevenlabs-api-url for both).
//
// Design: the TTS emulator's audio is silence, so the emulator "hears" by
// remembering what it said. Every successful TTS answer records its text
// and its MP3 frame count; a transcription counts the frames of the audio
// it receives (after ID3 tags, across joined parts, as fetch.ConcatMP3
// walks them) and hears the newest answer of that length. Failing that it
// hears a run of answers whose lengths add up to it: first a chain linked
// by previous_request_ids, as voicehook stitches a long script's parts,
// then any consecutive answers. Word times come from the same even
// alignment the TTS answer carried (see alignment in tts.go), each part
// shifted by the parts played before it; so a test can predict them
// exactly with STTWords.
//
// Webhook transcriptions are answered at once and delivered later by a
// goroutine per request, counted in a WaitGroup so tests can wait for
// them; they reach loopback addresses only (loopbackURL, loopbackClient).

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// DefaultSTTWebhookDelay is how long a webhook transcription takes before
// it is delivered.
const DefaultSTTWebhookDelay = 200 * time.Millisecond

const (
	// sttLanguageProbability is what every transcript claims.
	sttLanguageProbability = 0.98
	sttSpeaker             = "speaker_0"
	sttDefaultLanguage     = "en"
	// maxMetadataBytes and maxMetadataDepth are ElevenLabs' documented
	// webhook_metadata limits.
	maxMetadataBytes = 16 << 10
	maxMetadataDepth = 2
	// maxSTTAudio bounds what the emulator reads (ElevenLabs takes up to
	// 2 GB; tests send kilobytes).
	maxSTTAudio = 64 << 20
	// sttAttempts is one delivery and up to three retries, sttBackoff the
	// wait before the first retry (doubling after).
	sttAttempts = 4
	sttBackoff  = 25 * time.Millisecond
)

// sttModels are the models that transcribe.
var sttModels = map[string]bool{"scribe_v1": true, "scribe_v1_experimental": true}

// Mishearing makes speech to text get words wrong on purpose. Words are
// compared case-insensitively, ignoring trailing punctuation ("Fox." is
// "fox"). A dropped word vanishes from the text and the words (its time
// becomes a gap); a substituted word keeps its times and gets the new
// text.
type Mishearing struct {
	Drop       []string
	Substitute map[string]string
}

// STTCall is one speech-to-text request as the emulator saw it.
type STTCall struct {
	ModelID string
	// HadFile: the audio came as the file part, of FileBytes bytes.
	HadFile         bool
	FileBytes       int
	CloudStorageURL string
	LanguageCode    string
	// TimestampsGranularity and WebhookID are recorded as sent; the
	// emulator always answers word timestamps and has one webhook.
	TimestampsGranularity string
	Webhook               bool
	WebhookID             string
	// Metadata is webhook_metadata decoded, its values as text (a
	// string as is, anything else as its JSON).
	Metadata map[string]string
	// RequestID and Heard (the transcript's text) are set when Status is
	// 200.
	RequestID string
	Heard     string
	// Status is the HTTP status answered; 0 if the client went away first.
	Status int
}

// STTDelivery is one webhook delivery of a transcription (a duplicate made
// by DuplicateNextDelivery is a delivery of its own).
type STTDelivery struct {
	RequestID string
	// Body and Signature (the elevenlabs.HeaderName value) are the same
	// on every attempt.
	Body      []byte
	Signature string
	// Statuses has one entry per attempt: the HTTP status answered, or 0
	// when there was no answer.
	Statuses []int
	// Err is why the last attempt got no answer, if it got none.
	Err       string
	Duplicate bool
}

// spoken is one successful TTS answer: what speech to text can hear.
type spoken struct {
	text      string
	frames    int
	requestID string
	previous  string // the last of its previous_request_ids
}

// sttState is a TTSEmulator's speech-to-text state. It lives beside the
// emulator rather than in it so that tts.go only registers the route and
// reports what it said.
type sttState struct {
	mu           sync.Mutex
	said         []spoken
	calls        []STTCall
	deliveries   []STTDelivery
	failures     []ttsFailure
	malform      int
	delay        time.Duration
	webhookURL   string
	secret       string
	webhookDelay time.Duration
	bare         bool
	duplicate    bool
	drop         map[string]bool
	substitute   map[string]string
	cloud        *http.Client
	seq          int
	inFlight     sync.WaitGroup
}

var sttStates sync.Map // *TTSEmulator → *sttState

func (e *TTSEmulator) stt() *sttState {
	s, _ := sttStates.LoadOrStore(e, &sttState{webhookDelay: DefaultSTTWebhookDelay, cloud: loopbackClient})
	return s.(*sttState)
}

// routeSTT registers POST /v1/speech-to-text.
func (e *TTSEmulator) routeSTT(mux *http.ServeMux) {
	e.stt()
	mux.HandleFunc("POST /v1/speech-to-text", e.serveSTT)
	mux.HandleFunc("/v1/speech-to-text", methodNotAllowed)
}

// rememberSpeech records a successful TTS answer of frames frames.
func (e *TTSEmulator) rememberSpeech(call TTSCall, frames int, requestID string) {
	sp := spoken{text: call.Text, frames: frames, requestID: requestID}
	if n := len(call.PreviousRequestIDs); n > 0 {
		sp.previous = call.PreviousRequestIDs[n-1]
	}
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.said = append(s.said, sp)
}

// SetSTTWebhook sets the workspace's speech-to-text webhook: where
// transcriptions requested with webhook=true are delivered, signed with
// secret. The URL must be on a loopback address (deliveries elsewhere
// fail without dialling). An empty url removes the webhook.
func (e *TTSEmulator) SetSTTWebhook(url, secret string) {
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.secret = url, secret
}

// SetSTTWebhookDelay sets how long after its acceptance a webhook
// transcription is delivered (DefaultSTTWebhookDelay until set).
func (e *TTSEmulator) SetSTTWebhookDelay(d time.Duration) {
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookDelay = d
}

// SetSTTBareWebhook makes deliveries carry the bare transcription object,
// as one ElevenLabs cookbook page shows, instead of the
// speech_to_text_transcription envelope.
func (e *TTSEmulator) SetSTTBareWebhook(bare bool) {
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bare = bare
}

// DuplicateNextDelivery makes the next webhook transcription be delivered
// twice, with the same body and signature.
func (e *TTSEmulator) DuplicateNextDelivery() {
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.duplicate = true
}

// SetMishearing applies m to every transcript from now on; the zero
// Mishearing hears right again.
func (e *TTSEmulator) SetMishearing(m Mishearing) {
	drop := map[string]bool{}
	for _, w := range m.Drop {
		drop[normalWord(w)] = true
	}
	sub := map[string]string{}
	for from, to := range m.Substitute {
		sub[normalWord(from)] = to
	}
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop, s.substitute = drop, sub
}

// FailSTTNext queues a failure: the next speech-to-text request with the
// right key answers status with
// {"detail":{"status":detailStatus,"message":message}}.
func (e *TTSEmulator) FailSTTNext(status int, detailStatus, message string) {
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, ttsFailure{status, detailStatus, message})
}

// MalformSTTNext makes the next speech-to-text request that would succeed
// answer 200 with a body that is not JSON. A webhook transcription is
// still delivered: the request was accepted, only its answer was mangled.
func (e *TTSEmulator) MalformSTTNext() {
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.malform++
}

// SetSTTDelay holds every synchronous transcription for d before it is
// answered (until the client gives up or the emulator closes).
func (e *TTSEmulator) SetSTTDelay(d time.Duration) {
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// TrustCloudStorage makes cloud_storage_url downloads trust certs (say, an
// httptest TLS server's Certificate()) instead of the system roots.
// Downloads still reach loopback addresses only.
func (e *TTSEmulator) TrustCloudStorage(certs ...*x509.Certificate) {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	t := loopbackClient.Transport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool}
	client := &http.Client{Transport: t, CheckRedirect: loopbackClient.CheckRedirect}
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cloud = client
}

// STTCalls returns every speech-to-text request received so far, in
// arrival order.
func (e *TTSEmulator) STTCalls() []STTCall {
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]STTCall, len(s.calls))
	copy(out, s.calls)
	return out
}

// STTDeliveries returns the webhook deliveries begun so far, in order.
func (e *TTSEmulator) STTDeliveries() []STTDelivery {
	s := e.stt()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]STTDelivery, len(s.deliveries))
	for i, d := range s.deliveries {
		d.Statuses = append([]int(nil), d.Statuses...)
		out[i] = d
	}
	return out
}

// WaitSTTDeliveries waits for every webhook transcription accepted so far
// to be delivered (retries included), or abandoned when the emulator
// closes.
func (e *TTSEmulator) WaitSTTDeliveries() { e.stt().inFlight.Wait() }

// STTWords is the word tokens speech to text hears in the emulator's TTS
// audio for text, when that audio is the whole file: each word from its
// first character's start to its last character's end, in seconds.
func STTWords(text string) []voicehook.TranscriptWord {
	var out []voicehook.TranscriptWord
	for _, w := range speechWords(text, 0, speechSeconds(SpeechFrames(text))) {
		out = append(out, voicehook.TranscriptWord{Text: w.text, Start: w.start, End: w.end, Type: "word", SpeakerID: sttSpeaker})
	}
	return out
}

// sttTranscript is the transcription object; unlike voicehook.Transcript
// it always has words, [] when nothing was heard.
type sttTranscript struct {
	LanguageCode        string                     `json:"language_code"`
	LanguageProbability float64                    `json:"language_probability"`
	Text                string                     `json:"text"`
	Words               []voicehook.TranscriptWord `json:"words"`
}

// sttRequest is a request's fields, as far as they could be read.
type sttRequest struct {
	call     STTCall
	audio    []byte
	metadata json.RawMessage // webhook_metadata as sent, nil if absent
}

// sttWriter notes the status answered.
type sttWriter struct {
	http.ResponseWriter
	status int
}

func (w *sttWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *sttWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (e *TTSEmulator) serveSTT(rw http.ResponseWriter, r *http.Request) {
	s := e.stt()
	s.mu.Lock()
	index := len(s.calls)
	s.calls = append(s.calls, STTCall{})
	s.mu.Unlock()
	w := &sttWriter{ResponseWriter: rw}
	var req sttRequest
	defer func() {
		c := req.call
		c.Status = w.status
		if c.Status != http.StatusOK {
			c.RequestID, c.Heard = "", ""
		}
		s.mu.Lock()
		s.calls[index] = c
		s.mu.Unlock()
	}()

	if !authorized(w, r, e.APIKey) {
		return
	}
	s.mu.Lock()
	fail, failing := ttsFailure{}, len(s.failures) > 0
	if failing {
		fail, s.failures = s.failures[0], s.failures[1:]
	}
	s.mu.Unlock()
	if failing {
		writeError(w, fail.status, fail.detail, fail.message)
		return
	}
	if !e.readSTT(w, r, &req) {
		return
	}
	c := &req.call

	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if !c.Webhook && delay > 0 && !hold(r, e.done, delay) {
		return
	}

	language := c.LanguageCode
	if language == "" {
		language = sttDefaultLanguage
	}
	frames := countFrames(req.audio)
	s.mu.Lock()
	parts := findSpeech(s.said, frames)
	tr := transcript(parts, language, s.drop, s.substitute)
	s.seq++
	c.RequestID = "stt_req_" + strconv.Itoa(s.seq)
	transcriptionID := "stt_tr_" + strconv.Itoa(s.seq)
	malformed := s.malform > 0
	if malformed {
		s.malform--
	}
	if c.Webhook {
		s.inFlight.Add(1) // before answering, so WaitSTTDeliveries sees it
		go e.deliverSTT(s, c.RequestID, req.metadata, tr)
	}
	s.mu.Unlock()
	c.Heard = tr.Text

	w.Header().Set("request-id", c.RequestID)
	if malformed {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if c.Webhook {
		json.NewEncoder(w).Encode(map[string]string{
			"message":          "Request accepted. Transcription will be delivered to your webhook.",
			"request_id":       c.RequestID,
			"transcription_id": transcriptionID,
		})
		return
	}
	json.NewEncoder(w).Encode(tr)
}

// readSTT reads and checks the request's fields into req and fetches its
// audio; it answers the 4xx and reports false when the request is refused.
func (e *TTSEmulator) readSTT(w http.ResponseWriter, r *http.Request, req *sttRequest) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxSTTAudio+1<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		writeValidation(w, []any{"body"}, "emulator: the body must be multipart/form-data: "+err.Error(), "value_error")
		return false
	}
	defer r.MultipartForm.RemoveAll()
	form := r.MultipartForm
	value := func(name string) string {
		if v := form.Value[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	c := &req.call
	c.ModelID = value("model_id")
	c.CloudStorageURL = value("cloud_storage_url")
	c.LanguageCode = value("language_code")
	c.TimestampsGranularity = value("timestamps_granularity")
	c.WebhookID = value("webhook_id")
	if _, ok := form.Value["file"]; ok {
		writeValidation(w, []any{"body", "file"}, "Expected UploadFile, received: <class 'str'>", "value_error")
		return false
	}
	if files := form.File["file"]; len(files) > 0 {
		audio, err := readPart(files[0])
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_file", "emulator: reading the file part: "+err.Error())
			return false
		}
		c.HadFile, c.FileBytes, req.audio = true, len(audio), audio
	}

	switch {
	case c.ModelID == "":
		writeValidation(w, []any{"body", "model_id"}, "field required", "value_error.missing")
		return false
	case !sttModels[c.ModelID]:
		writeError(w, http.StatusBadRequest, "invalid_model_id",
			"Model "+strconv.Quote(c.ModelID)+" cannot transcribe speech; use scribe_v1 or scribe_v1_experimental.")
		return false
	case c.HadFile == (c.CloudStorageURL != ""):
		writeError(w, http.StatusBadRequest, "invalid_parameters", "Exactly one of file or cloud_storage_url must be provided.")
		return false
	}
	switch c.TimestampsGranularity {
	case "", "none", "word", "character":
	default:
		writeValidation(w, []any{"body", "timestamps_granularity"}, "value is not a valid enumeration member; permitted: 'none', 'word', 'character'", "type_error.enum")
		return false
	}
	if v := value("webhook"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeValidation(w, []any{"body", "webhook"}, "value could not be parsed to a boolean", "type_error.bool")
			return false
		}
		c.Webhook = b
	}
	if raw := value("webhook_metadata"); raw != "" {
		meta, err := parseMetadata(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_webhook_metadata", err.Error())
			return false
		}
		req.metadata, c.Metadata = json.RawMessage(raw), meta
	}
	if c.Webhook {
		s := e.stt()
		s.mu.Lock()
		configured := s.webhookURL != ""
		s.mu.Unlock()
		if !configured {
			writeError(w, http.StatusBadRequest, "webhook_not_configured",
				"No speech-to-text webhook is configured for this workspace: add a webhook for speech_to_text_transcription events, or send webhook=false.")
			return false
		}
	}
	if c.CloudStorageURL != "" {
		audio, status, msg := e.download(r.Context(), c.CloudStorageURL)
		if status != 0 {
			writeError(w, status, "invalid_cloud_storage_url", msg)
			return false
		}
		req.audio = audio
	}
	return true
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("opening: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return b, nil
}

// download fetches a cloud_storage_url; on failure it returns the status
// and message to answer.
func (e *TTSEmulator) download(ctx context.Context, raw string) ([]byte, int, string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, http.StatusBadRequest, "cloud_storage_url must be a valid HTTPS URL."
	}
	if err := loopbackURL(raw); err != nil {
		return nil, http.StatusBadRequest, "emulator: cloud_storage_url " + strconv.Quote(raw) +
			" is not on a loopback address; the emulator fetches nothing else"
	}
	s := e.stt()
	s.mu.Lock()
	client := s.cloud
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, http.StatusBadRequest, "cloud_storage_url must be a valid HTTPS URL."
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, http.StatusBadRequest, "Could not download the file at cloud_storage_url: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, http.StatusBadRequest, fmt.Sprintf("Could not download the file at cloud_storage_url: HTTP %d", resp.StatusCode)
	}
	audio, err := io.ReadAll(io.LimitReader(resp.Body, maxSTTAudio+1))
	switch {
	case err != nil:
		return nil, http.StatusBadRequest, "Could not download the file at cloud_storage_url: " + err.Error()
	case len(audio) > maxSTTAudio:
		return nil, http.StatusBadRequest, fmt.Sprintf("emulator: the file at cloud_storage_url is over %d bytes", maxSTTAudio)
	}
	return audio, 0, ""
}

// parseMetadata checks webhook_metadata against ElevenLabs' limits and
// decodes it, its values as text.
func parseMetadata(raw string) (map[string]string, error) {
	if len(raw) > maxMetadataBytes {
		return nil, fmt.Errorf("webhook_metadata is %d bytes, over the limit of 16 KB (%d bytes)", len(raw), maxMetadataBytes)
	}
	if !json.Valid([]byte(raw)) {
		return nil, errors.New("webhook_metadata is not valid JSON")
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber() // keeps numbers as sent when they are turned back into text
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("webhook_metadata is not valid JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("webhook_metadata must be a JSON object")
	}
	if d := depth(v); d > maxMetadataDepth {
		return nil, fmt.Errorf("webhook_metadata is nested %d deep; the maximum depth is %d", d, maxMetadataDepth)
	}
	out := make(map[string]string, len(obj))
	for k, val := range obj {
		if str, ok := val.(string); ok {
			out[k] = str
			continue
		}
		b, err := json.Marshal(val)
		if err != nil {
			return nil, fmt.Errorf("webhook_metadata %q: %w", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}

// depth counts nested objects and arrays: a flat object is 1.
func depth(v any) int {
	deepest := 0
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			deepest = max(deepest, depth(x))
		}
	case []any:
		for _, x := range v {
			deepest = max(deepest, depth(x))
		}
	default:
		return 0
	}
	return 1 + deepest
}

// countFrames counts audio's MP3 frames as the pipeline walks them (ID3
// tags, Xing frames and junk left out); 0 if it is not MP3.
func countFrames(audio []byte) int {
	_, durations, err := fetch.ConcatMP3([][]byte{audio})
	if err != nil {
		return 0
	}
	// The duration is whole samples over the sample rate, so this is exact
	// after rounding.
	return int(math.Round(durations[0].Seconds() * audiotest.MP3SampleRate / audiotest.MP3FrameSamples))
}

// speechSeconds is how long frames of the TTS emulator's audio play,
// computed exactly as the TTS alignment's total.
func speechSeconds(frames int) float64 {
	return float64(int64(frames)*audiotest.MP3FrameSamples) / audiotest.MP3SampleRate
}

// findSpeech is the TTS answers heard in audio of frames frames, in the
// order they play: the newest answer of that length; else the newest
// chain of answers linked by previous_request_ids whose lengths add up;
// else the newest run of consecutive answers that does. Nil if none.
func findSpeech(said []spoken, frames int) []spoken {
	if frames <= 0 {
		return nil
	}
	for i := len(said) - 1; i >= 0; i-- {
		if said[i].frames == frames {
			return []spoken{said[i]}
		}
	}
	byID := make(map[string]int, len(said))
	for i, sp := range said {
		if sp.requestID != "" {
			byID[sp.requestID] = i
		}
	}
	for k := len(said) - 1; k >= 0; k-- {
		chain := []spoken{said[k]}
		sum := said[k].frames
		for j := k; sum < frames; {
			i, ok := byID[said[j].previous]
			if !ok || i >= j {
				break
			}
			chain = append(chain, said[i])
			sum += said[i].frames
			j = i
		}
		if sum == frames && len(chain) > 1 {
			for a, b := 0, len(chain)-1; a < b; a, b = a+1, b-1 {
				chain[a], chain[b] = chain[b], chain[a]
			}
			return chain
		}
	}
	for k := len(said) - 1; k > 0; k-- {
		sum := said[k].frames
		for i := k - 1; i >= 0 && sum < frames; i-- {
			sum += said[i].frames
			if sum == frames {
				return append([]spoken(nil), said[i:k+1]...)
			}
		}
	}
	return nil
}

// heardWord is a word of speech with its time in the audio.
type heardWord struct {
	text       string
	start, end float64
}

// speechWords splits text into words (runs of non-space characters) timed
// by the TTS alignment over seconds, shifted by offset.
func speechWords(text string, offset, seconds float64) []heardWord {
	a := alignment(text, seconds)
	var out []heardWord
	inWord := false
	for i, ch := range a.Characters {
		switch {
		case strings.TrimFunc(ch, unicode.IsSpace) == "":
			inWord = false
		case !inWord:
			out = append(out, heardWord{ch, a.Start[i] + offset, a.End[i] + offset})
			inWord = true
		default:
			last := &out[len(out)-1]
			last.text += ch
			last.end = a.End[i] + offset
		}
	}
	return out
}

// transcript is what speech to text hears in parts played back to back,
// misheard as drop and substitute say.
func transcript(parts []spoken, language string, drop map[string]bool, substitute map[string]string) sttTranscript {
	var words []heardWord
	offset := 0.0
	for _, p := range parts {
		seconds := speechSeconds(p.frames)
		words = append(words, speechWords(p.text, offset, seconds)...)
		offset += seconds
	}
	tr := sttTranscript{LanguageCode: language, LanguageProbability: sttLanguageProbability, Words: []voicehook.TranscriptWord{}}
	var text strings.Builder
	prev := -1 // the last word kept
	for i, w := range words {
		norm := normalWord(w.text)
		if drop[norm] {
			continue
		}
		if to, ok := substitute[norm]; ok {
			w.text = to
		}
		if prev >= 0 {
			// The space after the previous kept word, as it was spoken:
			// dropped words after it leave a gap.
			tr.Words = append(tr.Words, voicehook.TranscriptWord{
				Text: " ", Start: words[prev].end, End: words[prev+1].start, Type: "spacing", SpeakerID: sttSpeaker,
			})
			text.WriteByte(' ')
		}
		tr.Words = append(tr.Words, voicehook.TranscriptWord{Text: w.text, Start: w.start, End: w.end, Type: "word", SpeakerID: sttSpeaker})
		text.WriteString(w.text)
		prev = i
	}
	tr.Text = text.String()
	return tr
}

// normalWord is how mishearing compares words.
func normalWord(w string) string {
	return strings.ToLower(strings.TrimRightFunc(w, unicode.IsPunct))
}

// sttEvent is the speech_to_text_transcription envelope.
type sttEvent struct {
	Type           string  `json:"type"`
	EventTimestamp int64   `json:"event_timestamp"`
	Data           sttData `json:"data"`
}

type sttData struct {
	RequestID string `json:"request_id"`
	// WebhookMetadata is null when none was sent.
	WebhookMetadata json.RawMessage `json:"webhook_metadata"`
	Transcription   sttTranscript   `json:"transcription"`
}

// deliverSTT waits for the transcription delay, then delivers it (twice if
// a duplicate was asked for), each time with retries.
func (e *TTSEmulator) deliverSTT(s *sttState, requestID string, metadata json.RawMessage, tr sttTranscript) {
	defer s.inFlight.Done()
	s.mu.Lock()
	delay := s.webhookDelay
	s.mu.Unlock()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.done:
		return
	}

	// The webhook as it is now, since a test may change it meanwhile.
	s.mu.Lock()
	target, secret, bare, twice := s.webhookURL, s.secret, s.bare, s.duplicate
	s.duplicate = false
	s.mu.Unlock()
	now := time.Now()
	var body []byte
	var err error
	if bare {
		body, err = json.Marshal(tr)
	} else {
		body, err = json.Marshal(sttEvent{
			Type: "speech_to_text_transcription", EventTimestamp: now.Unix(),
			Data: sttData{RequestID: requestID, WebhookMetadata: metadata, Transcription: tr},
		})
	}
	if err != nil {
		panic(fmt.Sprintf("elevenlabstest: encoding a transcription: %v", err)) // the types always encode
	}
	sig := elevenlabs.Sign(secret, now, body)
	copies := 1
	if twice {
		copies = 2
	}
	for n := range copies {
		s.mu.Lock()
		index := len(s.deliveries)
		s.deliveries = append(s.deliveries, STTDelivery{RequestID: requestID, Body: body, Signature: sig, Duplicate: n > 0})
		s.mu.Unlock()
		if !e.attemptDelivery(s, index, target, body, sig) {
			return
		}
	}
}

// errNotLoopback refuses a webhook the emulator must not call.
var errNotLoopback = errors.New("emulator: the speech-to-text webhook is not on a loopback address; the emulator calls nothing else")

// attemptDelivery posts one delivery until it is answered 2xx or refused
// for good, recording every attempt; false if the emulator closed.
func (e *TTSEmulator) attemptDelivery(s *sttState, index int, target string, body []byte, sig string) bool {
	backoff := sttBackoff
	for attempt := range sttAttempts {
		if attempt > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-e.done:
				t.Stop()
				return false
			}
			backoff *= 2
		}
		status, err := e.postSigned(target, body, sig)
		s.mu.Lock()
		d := &s.deliveries[index]
		d.Statuses = append(d.Statuses, status)
		d.Err = ""
		if err != nil {
			d.Err = err.Error()
		}
		s.mu.Unlock()
		if !retryDelivery(status, err) {
			return true
		}
	}
	return true
}

// retryDelivery: a delivery is tried again after no answer, a 5xx, 408 or
// 429; ElevenLabs does not retry other 4xx refusals, and an address the
// emulator will not call stays refused.
func retryDelivery(status int, err error) bool {
	switch {
	case errors.Is(err, errNotLoopback):
		return false
	case err != nil:
		return true
	}
	return status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

// postSigned posts a signed webhook to a loopback address only; it gives
// up when the emulator closes.
func (e *TTSEmulator) postSigned(target string, body []byte, sig string) (int, error) {
	if loopbackURL(target) != nil {
		return 0, errNotLoopback
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-e.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("building the webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(elevenlabs.HeaderName, sig)
	resp, err := loopbackClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("posting the webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, nil
}
