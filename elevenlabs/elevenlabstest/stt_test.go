package elevenlabstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/audiotest"
)

const sttSecret = "wsec_stt_test"

// speak has the emulator's TTS say text and returns the MP3.
func speak(t *testing.T, em *elevenlabstest.TTSEmulator, text string) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"text": text})
	r := mustPost(t, em, "/v1/text-to-speech/voice1", string(body))
	if r.status != http.StatusOK {
		t.Fatalf("TTS %q: %d %s", text, r.status, r.body)
	}
	return r.body
}

// transcribe posts a speech-to-text request: fields as form values and,
// unless file is nil, file as the file part.
func transcribe(t *testing.T, ctx context.Context, em *elevenlabstest.TTSEmulator, apiKey string, fields map[string]string, file []byte) (reply, error) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	}) {
		mw.WriteField(k, fields[k])
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", "voiceover.mp3")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, em.URL+"/v1/speech-to-text", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
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

func mustTranscribe(t *testing.T, em *elevenlabstest.TTSEmulator, fields map[string]string, file []byte) reply {
	t.Helper()
	r, err := transcribe(t, t.Context(), em, key, fields, file)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func decodeTranscript(t *testing.T, b []byte) voicehook.Transcript {
	t.Helper()
	var tr voicehook.Transcript
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("transcript %s: %v", b, err)
	}
	return tr
}

// withSpacing interleaves words with the spacing tokens a transcript puts
// between them: " " from one word's end to the next one's start.
func withSpacing(words []voicehook.TranscriptWord) []voicehook.TranscriptWord {
	var out []voicehook.TranscriptWord
	for i, w := range words {
		if i > 0 {
			out = append(out, voicehook.TranscriptWord{
				Text: " ", Start: words[i-1].End, End: w.Start, Type: "spacing", SpeakerID: "speaker_0",
			})
		}
		out = append(out, w)
	}
	return out
}

// seconds is how long the emulator's speech of text plays, computed as
// the TTS alignment does.
func seconds(text string) float64 {
	return float64(int64(elevenlabstest.SpeechFrames(text))*audiotest.MP3FrameSamples) / audiotest.MP3SampleRate
}

func TestSTTWords(t *testing.T) {
	t.Parallel()
	text := "Hi  there, you!" // 15 runes; two spaces after "Hi"
	d := seconds(text) / 15
	want := []voicehook.TranscriptWord{
		{Text: "Hi", Start: 0, End: 2 * d, Type: "word", SpeakerID: "speaker_0"},
		{Text: "there,", Start: 4 * d, End: 10 * d, Type: "word", SpeakerID: "speaker_0"},
		{Text: "you!", Start: 11 * d, End: seconds(text), Type: "word", SpeakerID: "speaker_0"},
	}
	if diff := cmp.Diff(want, elevenlabstest.STTWords(text), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("STTWords (-want +got):\n%s", diff)
	}
	if got := elevenlabstest.STTWords("   "); len(got) != 0 {
		t.Errorf("STTWords of spaces = %v", got)
	}
}

func TestSTTSyncHearsTTS(t *testing.T) {
	t.Parallel()
	em := start(t)
	text := "Hello there, brave new world."
	audio := speak(t, em, text)
	tagged := append(audiotest.ID3v2("voiceover", false), audio...)

	for i, file := range [][]byte{audio, tagged} {
		r := mustTranscribe(t, em, map[string]string{"model_id": "scribe_v1"}, file)
		if r.status != http.StatusOK {
			t.Fatalf("file %d: status %d: %s", i, r.status, r.body)
		}
		if r.header.Get("request-id") == "" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("file %d: headers %v", i, r.header)
		}
		want := voicehook.Transcript{
			LanguageCode: "en", LanguageProbability: 0.98, Text: text,
			Words: withSpacing(elevenlabstest.STTWords(text)),
		}
		// Word times are exactly those of STTWords: no tolerance.
		if diff := cmp.Diff(want, decodeTranscript(t, r.body)); diff != "" {
			t.Errorf("file %d: transcript (-want +got):\n%s", i, diff)
		}
	}

	calls := em.STTCalls()
	if len(calls) != 2 {
		t.Fatalf("%d calls", len(calls))
	}
	for _, c := range calls {
		if c.RequestID == "" || c.Heard != text {
			t.Errorf("call %+v", c)
		}
	}
	want := elevenlabstest.STTCall{ModelID: "scribe_v1", HadFile: true, FileBytes: len(audio), Status: 200, RequestID: calls[0].RequestID, Heard: text}
	if diff := cmp.Diff(want, calls[0]); diff != "" {
		t.Errorf("call (-want +got):\n%s", diff)
	}
	if calls[0].RequestID == calls[1].RequestID {
		t.Errorf("two requests share request id %q", calls[0].RequestID)
	}
}

func TestSTTNewestSpeechWins(t *testing.T) {
	t.Parallel()
	em := start(t)
	speak(t, em, "abc def")
	audio := speak(t, em, "xyz uvw") // as many runes, so as many frames
	r := mustTranscribe(t, em, map[string]string{"model_id": "scribe_v1_experimental", "language_code": "fr"}, audio)
	tr := decodeTranscript(t, r.body)
	if r.status != 200 || tr.Text != "xyz uvw" || tr.LanguageCode != "fr" {
		t.Errorf("status %d, transcript %+v", r.status, tr)
	}
}

func TestSTTHearsJoinedParts(t *testing.T) {
	t.Parallel()
	em := start(t)
	parts := []string{"First part here.", "Then the second part follows,", "and a third."}
	var clips [][]byte
	for _, p := range parts {
		clips = append(clips, speak(t, em, p))
	}
	speak(t, em, "Something else entirely, said later.")
	joined, _, err := fetch.ConcatMP3(clips)
	if err != nil {
		t.Fatal(err)
	}
	r := mustTranscribe(t, em, map[string]string{"model_id": "scribe_v1"}, joined)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var words []voicehook.TranscriptWord
	offset := 0.0
	for _, p := range parts {
		for _, w := range elevenlabstest.STTWords(p) {
			w.Start += offset
			w.End += offset
			words = append(words, w)
		}
		offset += seconds(p)
	}
	want := voicehook.Transcript{
		LanguageCode: "en", LanguageProbability: 0.98, Text: strings.Join(parts, " "), Words: withSpacing(words),
	}
	if diff := cmp.Diff(want, decodeTranscript(t, r.body), cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

// Parts stitched with previous_request_ids are heard together even when
// another job's speech came between them.
func TestSTTHearsChainedParts(t *testing.T) {
	t.Parallel()
	em := start(t)
	first := speak(t, em, "Chapter one begins.") // req_1
	speak(t, em, "Meanwhile, another job speaks at length.")
	r := mustPost(t, em, "/v1/text-to-speech/voice1", `{"text":"And it ends.","previous_request_ids":["req_1"]}`)
	if r.status != 200 {
		t.Fatalf("TTS: %d %s", r.status, r.body)
	}
	joined, _, err := fetch.ConcatMP3([][]byte{first, r.body})
	if err != nil {
		t.Fatal(err)
	}
	got := decodeTranscript(t, mustTranscribe(t, em, map[string]string{"model_id": "scribe_v1"}, joined).body)
	if got.Text != "Chapter one begins. And it ends." {
		t.Errorf("heard %q", got.Text)
	}
}

// A TTS answer that was broken on purpose said nothing.
func TestSTTForgetsMalformedSpeech(t *testing.T) {
	t.Parallel()
	em := start(t)
	em.MalformNext(elevenlabstest.TTSBadBase64)
	if r := mustPost(t, em, "/v1/text-to-speech/voice1/with-timestamps", `{"text":"lost words"}`); r.status != 200 {
		t.Fatalf("TTS: %d %s", r.status, r.body)
	}
	audio := audiotest.MP3Frames(elevenlabstest.SpeechFrames("lost words"))
	if got := decodeTranscript(t, mustTranscribe(t, em, map[string]string{"model_id": "scribe_v1"}, audio).body); got.Text != "" {
		t.Errorf("heard %q", got.Text)
	}
}

func TestSTTHearsNothingUnknown(t *testing.T) {
	t.Parallel()
	em := start(t)
	speak(t, em, "Something said.")
	for name, file := range map[string][]byte{
		"unspoken length": audiotest.MP3Frames(777),
		"not audio":       []byte("<html>nope</html>"),
	} {
		r := mustTranscribe(t, em, map[string]string{"model_id": "scribe_v1"}, file)
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", name, r.status, r.body)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(r.body, &raw); err != nil {
			t.Fatal(err)
		}
		if string(raw["text"]) != `""` || string(raw["words"]) != `[]` {
			t.Errorf("%s: heard %s", name, r.body)
		}
	}
}

// sttReceiver is a webhook endpoint that records deliveries and answers
// the statuses queued in answers (then 200).
type sttReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	answers []int
	bodies  [][]byte
	sigs    []string
}

func newSTTReceiver(t *testing.T, answers ...int) *sttReceiver {
	rc := &sttReceiver{answers: answers}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, b)
		rc.sigs = append(rc.sigs, r.Header.Get(elevenlabs.HeaderName))
		status := 200
		if len(rc.answers) > 0 {
			status, rc.answers = rc.answers[0], rc.answers[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *sttReceiver) got() ([][]byte, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.bodies), slices.Clone(rc.sigs)
}

type accepted struct {
	Message         string `json:"message"`
	RequestID       string `json:"request_id"`
	TranscriptionID string `json:"transcription_id"`
}

// submit asks for a webhook transcription of audio and returns the
// acceptance.
func submit(t *testing.T, em *elevenlabstest.TTSEmulator, audio []byte, metadata string) accepted {
	t.Helper()
	fields := map[string]string{"model_id": "scribe_v1", "webhook": "true"}
	if metadata != "" {
		fields["webhook_metadata"] = metadata
	}
	r := mustTranscribe(t, em, fields, audio)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var a accepted
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	if a.Message != "Request accepted. Transcription will be delivered to your webhook." || a.RequestID == "" || a.TranscriptionID == "" {
		t.Errorf("acceptance %s", r.body)
	}
	if r.header.Get("request-id") != a.RequestID {
		t.Errorf("request-id header %q, body %q", r.header.Get("request-id"), a.RequestID)
	}
	return a
}

func verify(t *testing.T, sig string, body []byte) {
	t.Helper()
	v := elevenlabs.Verifier{Secrets: []string{sttSecret}}
	if err := v.Verify(sig, body); err != nil {
		t.Errorf("signature %q: %v", sig, err)
	}
}

func TestSTTWebhookEnvelope(t *testing.T) {
	t.Parallel()
	em := start(t)
	rc := newSTTReceiver(t)
	em.SetSTTWebhook(rc.URL+"/webhooks/elevenlabs", sttSecret)
	em.SetSTTWebhookDelay(5 * time.Millisecond)
	text := "Deliver me to the hook."
	audio := speak(t, em, text)
	before := time.Now().Unix()
	a := submit(t, em, audio, `{"job_id":"job_1","segment_id":"seg_1","extra":{"n":1}}`)
	em.WaitSTTDeliveries()

	bodies, sigs := rc.got()
	if len(bodies) != 1 {
		t.Fatalf("%d deliveries", len(bodies))
	}
	verify(t, sigs[0], bodies[0])
	var env struct {
		Type           string `json:"type"`
		EventTimestamp int64  `json:"event_timestamp"`
		Data           struct {
			RequestID       string               `json:"request_id"`
			WebhookMetadata map[string]any       `json:"webhook_metadata"`
			Transcription   voicehook.Transcript `json:"transcription"`
		} `json:"data"`
	}
	if err := json.Unmarshal(bodies[0], &env); err != nil {
		t.Fatalf("%s: %v", bodies[0], err)
	}
	if env.Type != "speech_to_text_transcription" || env.EventTimestamp < before || env.EventTimestamp > time.Now().Unix() {
		t.Errorf("envelope type %q at %d", env.Type, env.EventTimestamp)
	}
	if env.Data.RequestID != a.RequestID {
		t.Errorf("request_id %q, accepted %q", env.Data.RequestID, a.RequestID)
	}
	wantMeta := map[string]any{"job_id": "job_1", "segment_id": "seg_1", "extra": map[string]any{"n": 1.0}}
	if diff := cmp.Diff(wantMeta, env.Data.WebhookMetadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	wantTr := voicehook.Transcript{LanguageCode: "en", LanguageProbability: 0.98, Text: text, Words: withSpacing(elevenlabstest.STTWords(text))}
	if diff := cmp.Diff(wantTr, env.Data.Transcription); diff != "" {
		t.Errorf("transcription (-want +got):\n%s", diff)
	}

	wantDel := []elevenlabstest.STTDelivery{{RequestID: a.RequestID, Body: bodies[0], Signature: sigs[0], Statuses: []int{200}}}
	if diff := cmp.Diff(wantDel, em.STTDeliveries()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	calls := em.STTCalls()
	wantCall := elevenlabstest.STTCall{
		ModelID: "scribe_v1", HadFile: true, FileBytes: len(audio), Webhook: true,
		Metadata:  map[string]string{"job_id": "job_1", "segment_id": "seg_1", "extra": `{"n":1}`},
		RequestID: a.RequestID, Status: 200, Heard: text,
	}
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	if diff := cmp.Diff(wantCall, calls[0]); diff != "" {
		t.Errorf("call (-want +got):\n%s", diff)
	}
}

func TestSTTWebhookWaitsForDelay(t *testing.T) {
	t.Parallel()
	em := start(t)
	rc := newSTTReceiver(t)
	em.SetSTTWebhook(rc.URL, sttSecret)
	em.SetSTTWebhookDelay(300 * time.Millisecond)
	begin := time.Now()
	submit(t, em, speak(t, em, "Wait for it."), "")
	if bodies, _ := rc.got(); len(bodies) != 0 {
		t.Fatal("delivered before the answer")
	}
	em.WaitSTTDeliveries()
	if waited := time.Since(begin); waited < 300*time.Millisecond {
		t.Errorf("delivered after %v", waited)
	}
	bodies, _ := rc.got()
	if len(bodies) != 1 || !bytes.Contains(bodies[0], []byte(`"webhook_metadata":null`)) {
		t.Errorf("deliveries %q", bodies)
	}
}

func TestSTTBareWebhook(t *testing.T) {
	t.Parallel()
	em := start(t)
	rc := newSTTReceiver(t)
	em.SetSTTWebhook(rc.URL, sttSecret)
	em.SetSTTWebhookDelay(0)
	em.SetSTTBareWebhook(true)
	text := "Bare as can be."
	submit(t, em, speak(t, em, text), `{"job_id":"j"}`)
	em.WaitSTTDeliveries()
	bodies, sigs := rc.got()
	if len(bodies) != 1 {
		t.Fatalf("%d deliveries", len(bodies))
	}
	verify(t, sigs[0], bodies[0])
	var keys map[string]json.RawMessage
	json.Unmarshal(bodies[0], &keys)
	if _, ok := keys["type"]; ok {
		t.Errorf("bare body has a type: %s", bodies[0])
	}
	want := voicehook.Transcript{LanguageCode: "en", LanguageProbability: 0.98, Text: text, Words: withSpacing(elevenlabstest.STTWords(text))}
	if diff := cmp.Diff(want, decodeTranscript(t, bodies[0])); diff != "" {
		t.Errorf("bare transcription (-want +got):\n%s", diff)
	}
}

func TestSTTMishearing(t *testing.T) {
	t.Parallel()
	em := start(t)
	text := "The quick brown fox."
	audio := speak(t, em, text)
	em.SetMishearing(elevenlabstest.Mishearing{Drop: []string{"QUICK"}, Substitute: map[string]string{"fox": "box"}})

	r := mustTranscribe(t, em, map[string]string{"model_id": "scribe_v1"}, audio)
	w := elevenlabstest.STTWords(text) // The quick brown fox.
	sp := func(from, to float64) voicehook.TranscriptWord {
		return voicehook.TranscriptWord{Text: " ", Start: from, End: to, Type: "spacing", SpeakerID: "speaker_0"}
	}
	box := w[3]
	box.Text = "box"
	want := voicehook.Transcript{
		LanguageCode: "en", LanguageProbability: 0.98, Text: "The brown box",
		// "quick" and the space after it are a gap: the space after "The"
		// ends where "quick" started.
		Words: []voicehook.TranscriptWord{w[0], sp(w[0].End, w[1].Start), w[2], sp(w[2].End, w[3].Start), box},
	}
	if diff := cmp.Diff(want, decodeTranscript(t, r.body)); diff != "" {
		t.Errorf("misheard transcript (-want +got):\n%s", diff)
	}

	em.SetMishearing(elevenlabstest.Mishearing{})
	r = mustTranscribe(t, em, map[string]string{"model_id": "scribe_v1"}, audio)
	if got := decodeTranscript(t, r.body).Text; got != text {
		t.Errorf("after reset heard %q", got)
	}
}

func TestSTTDuplicateDelivery(t *testing.T) {
	t.Parallel()
	em := start(t)
	rc := newSTTReceiver(t)
	em.SetSTTWebhook(rc.URL, sttSecret)
	em.SetSTTWebhookDelay(0)
	em.DuplicateNextDelivery()
	audio := speak(t, em, "Twice over.")
	a := submit(t, em, audio, "")
	em.WaitSTTDeliveries()
	bodies, sigs := rc.got()
	if len(bodies) != 2 || !bytes.Equal(bodies[0], bodies[1]) || sigs[0] != sigs[1] {
		t.Fatalf("deliveries %q, signatures %q", bodies, sigs)
	}
	verify(t, sigs[1], bodies[1])
	want := []elevenlabstest.STTDelivery{
		{RequestID: a.RequestID, Body: bodies[0], Signature: sigs[0], Statuses: []int{200}},
		{RequestID: a.RequestID, Body: bodies[0], Signature: sigs[0], Statuses: []int{200}, Duplicate: true},
	}
	if diff := cmp.Diff(want, em.STTDeliveries()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}

	// Only the next one.
	submit(t, em, audio, "")
	em.WaitSTTDeliveries()
	if bodies, _ := rc.got(); len(bodies) != 3 {
		t.Errorf("%d deliveries after a second request, want 3", len(bodies))
	}
}

func TestSTTDeliveryRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		answers []int
		want    []int
	}{
		{"500 once", []int{500}, []int{500, 200}},
		{"429 then 503", []int{429, 503}, []int{429, 503, 200}},
		{"always 500", []int{500, 500, 500, 500, 500}, []int{500, 500, 500, 500}},
		// ElevenLabs does not retry a 4xx refusal.
		{"401", []int{401}, []int{401}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			em := start(t)
			rc := newSTTReceiver(t, tc.answers...)
			em.SetSTTWebhook(rc.URL, sttSecret)
			em.SetSTTWebhookDelay(0)
			submit(t, em, speak(t, em, "Try again."), "")
			em.WaitSTTDeliveries()
			del := em.STTDeliveries()
			if len(del) != 1 {
				t.Fatalf("%d deliveries", len(del))
			}
			if diff := cmp.Diff(tc.want, del[0].Statuses); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			bodies, sigs := rc.got()
			if len(bodies) != len(tc.want) {
				t.Fatalf("receiver got %d attempts", len(bodies))
			}
			for i := range bodies {
				if !bytes.Equal(bodies[i], bodies[0]) || sigs[i] != sigs[0] {
					t.Errorf("attempt %d differs from the first", i)
				}
			}
		})
	}
}

func TestSTTDeliveryUnreachable(t *testing.T) {
	t.Parallel()
	em := start(t)
	rc := newSTTReceiver(t)
	url := rc.URL
	rc.Close() // nothing listens there any more
	em.SetSTTWebhook(url, sttSecret)
	em.SetSTTWebhookDelay(0)
	submit(t, em, speak(t, em, "Nobody home."), "")
	em.WaitSTTDeliveries()
	del := em.STTDeliveries()
	if len(del) != 1 || !cmp.Equal(del[0].Statuses, []int{0, 0, 0, 0}) || del[0].Err == "" {
		t.Errorf("deliveries %+v", del)
	}
}

func TestSTTRefusesNonLoopbackWebhook(t *testing.T) {
	t.Parallel()
	em := start(t)
	em.SetSTTWebhook("http://192.0.2.1/hook", sttSecret) // TEST-NET: never dialled
	em.SetSTTWebhookDelay(0)
	submit(t, em, speak(t, em, "Stay home."), "")
	em.WaitSTTDeliveries()
	del := em.STTDeliveries()
	if len(del) != 1 || !cmp.Equal(del[0].Statuses, []int{0}) || !strings.Contains(del[0].Err, "loopback") {
		t.Errorf("deliveries %+v", del)
	}
}

func TestSTTRefusals(t *testing.T) {
	t.Parallel()
	audio := audiotest.MP3Frames(10)
	deep := `{"a":{"b":{"c":1}}}`
	big := `{"pad":"` + strings.Repeat("x", 16*1024) + `"}`
	for _, tc := range []struct {
		name       string
		apiKey     string
		fields     map[string]string
		file       []byte
		webhook    bool // configure a webhook first
		status     int
		detail     string // detail.status, or "validation" for 422
		messageHas string
	}{
		{"wrong key", "sk_wrong", map[string]string{"model_id": "scribe_v1"}, audio, false, 401, "invalid_api_key", ""},
		{"no key", "", map[string]string{"model_id": "scribe_v1"}, audio, false, 401, "needs_authorization", ""},
		{"no model", key, map[string]string{}, audio, false, 422, "validation", "model_id"},
		{"unknown model", key, map[string]string{"model_id": "eleven_multilingual_v2"}, audio, false, 400, "invalid_model_id", "scribe_v1"},
		{"neither file nor url", key, map[string]string{"model_id": "scribe_v1"}, nil, false, 400, "invalid_parameters", "exactly one"},
		{"file and url", key, map[string]string{"model_id": "scribe_v1", "cloud_storage_url": "https://127.0.0.1/a.mp3"}, audio, false, 400, "invalid_parameters", "exactly one"},
		{"http url", key, map[string]string{"model_id": "scribe_v1", "cloud_storage_url": "http://127.0.0.1/a.mp3"}, nil, false, 400, "invalid_cloud_storage_url", "https"},
		{"non-loopback url", key, map[string]string{"model_id": "scribe_v1", "cloud_storage_url": "https://192.0.2.1/a.mp3"}, nil, false, 400, "invalid_cloud_storage_url", "loopback"},
		{"bad webhook flag", key, map[string]string{"model_id": "scribe_v1", "webhook": "maybe"}, audio, true, 422, "validation", "webhook"},
		{"metadata too big", key, map[string]string{"model_id": "scribe_v1", "webhook": "true", "webhook_metadata": big}, audio, true, 400, "invalid_webhook_metadata", "16"},
		{"metadata too deep", key, map[string]string{"model_id": "scribe_v1", "webhook": "true", "webhook_metadata": deep}, audio, true, 400, "invalid_webhook_metadata", "depth"},
		{"metadata not JSON", key, map[string]string{"model_id": "scribe_v1", "webhook": "true", "webhook_metadata": "{job"}, audio, true, 400, "invalid_webhook_metadata", "JSON"},
		{"metadata not an object", key, map[string]string{"model_id": "scribe_v1", "webhook": "true", "webhook_metadata": `["a"]`}, audio, true, 400, "invalid_webhook_metadata", "object"},
		{"no webhook configured", key, map[string]string{"model_id": "scribe_v1", "webhook": "true"}, audio, false, 400, "webhook_not_configured", "webhook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			em := start(t)
			if tc.webhook {
				rc := newSTTReceiver(t)
				em.SetSTTWebhook(rc.URL, sttSecret)
			}
			r, err := transcribe(t, t.Context(), em, tc.apiKey, tc.fields, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			var body struct {
				Detail json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatalf("%s: %v", r.body, err)
			}
			if tc.detail == "validation" {
				var v []struct {
					Loc []any  `json:"loc"`
					Msg string `json:"msg"`
				}
				if err := json.Unmarshal(body.Detail, &v); err != nil || len(v) != 1 || !strings.Contains(strings.ToLower(string(body.Detail)), tc.messageHas) {
					t.Errorf("validation detail %s", body.Detail)
				}
			} else {
				var d struct{ Status, Message string }
				if err := json.Unmarshal(body.Detail, &d); err != nil || d.Status != tc.detail || d.Message == "" ||
					!strings.Contains(strings.ToLower(d.Message), strings.ToLower(tc.messageHas)) {
					t.Errorf("detail %s, want status %q and a message with %q", body.Detail, tc.detail, tc.messageHas)
				}
			}
			calls := em.STTCalls()
			if len(calls) != 1 || calls[0].Status != tc.status || calls[0].RequestID != "" {
				t.Errorf("calls %+v", calls)
			}
			if del := em.STTDeliveries(); len(del) != 0 {
				t.Errorf("a refused request was delivered: %+v", del)
			}
		})
	}
}

func TestSTTCloudStorageURL(t *testing.T) {
	t.Parallel()
	em := start(t)
	text := "Fetched from the cloud."
	audio := speak(t, em, text)
	var gets sync.Map
	cloud := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Store(r.URL.Path, r.Method)
		if r.URL.Path != "/bucket/voiceover.mp3" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write(audio)
	}))
	t.Cleanup(cloud.Close)
	fields := func(path string) map[string]string {
		return map[string]string{"model_id": "scribe_v1", "cloud_storage_url": cloud.URL + path}
	}

	// Until told to trust the test server's certificate, the download
	// fails like any TLS failure.
	r := mustTranscribe(t, em, fields("/bucket/voiceover.mp3"), nil)
	if r.status != 400 || !strings.Contains(string(r.body), "cloud_storage_url") {
		t.Errorf("untrusted: %d %s", r.status, r.body)
	}

	em.TrustCloudStorage(cloud.Certificate())
	r = mustTranscribe(t, em, fields("/bucket/voiceover.mp3"), nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got := decodeTranscript(t, r.body).Text; got != text {
		t.Errorf("heard %q", got)
	}
	if m, _ := gets.Load("/bucket/voiceover.mp3"); m != http.MethodGet {
		t.Errorf("download used %v", m)
	}

	r = mustTranscribe(t, em, fields("/bucket/missing.mp3"), nil)
	if r.status != 400 || !strings.Contains(string(r.body), "404") {
		t.Errorf("missing object: %d %s", r.status, r.body)
	}

	calls := em.STTCalls()
	if len(calls) != 3 {
		t.Fatalf("%d calls", len(calls))
	}
	want := elevenlabstest.STTCall{ModelID: "scribe_v1", CloudStorageURL: cloud.URL + "/bucket/voiceover.mp3", Status: 200, RequestID: calls[1].RequestID, Heard: text}
	if diff := cmp.Diff(want, calls[1]); diff != "" {
		t.Errorf("call (-want +got):\n%s", diff)
	}
}

func TestSTTInjectedFailures(t *testing.T) {
	t.Parallel()
	em := start(t)
	audio := speak(t, em, "Fail first.")
	fields := map[string]string{"model_id": "scribe_v1"}

	em.FailSTTNext(429, "system_busy", "We are experiencing heavy traffic.")
	em.MalformSTTNext()
	r := mustTranscribe(t, em, fields, audio)
	if r.status != 429 || !strings.Contains(string(r.body), `"status":"system_busy"`) {
		t.Errorf("injected failure: %d %s", r.status, r.body)
	}
	r = mustTranscribe(t, em, fields, audio)
	if r.status != 200 || json.Valid(r.body) {
		t.Errorf("malformed: %d %s", r.status, r.body)
	}
	r = mustTranscribe(t, em, fields, audio)
	if r.status != 200 || decodeTranscript(t, r.body).Text != "Fail first." {
		t.Errorf("after the failures: %d %s", r.status, r.body)
	}
	var statuses []int
	for _, c := range em.STTCalls() {
		statuses = append(statuses, c.Status)
	}
	if diff := cmp.Diff([]int{429, 200, 200}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestSTTDelay(t *testing.T) {
	t.Parallel()
	em := start(t)
	audio := speak(t, em, "Slowly now.")
	em.SetSTTDelay(5 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if _, err := transcribe(t, ctx, em, key, map[string]string{"model_id": "scribe_v1"}, audio); err == nil {
		t.Fatal("answered despite the delay")
	}
	if waited := time.Since(begin); waited > 2*time.Second {
		t.Errorf("gave up after %v", waited)
	}
	// The handler notices the client left and records no answer.
	deadline := time.Now().Add(2 * time.Second)
	for {
		calls := em.STTCalls()
		if len(calls) == 1 && calls[0].Status == 0 && calls[0].RequestID == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls %+v", calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
	em.SetSTTDelay(0)
	if r := mustTranscribe(t, em, map[string]string{"model_id": "scribe_v1"}, audio); r.status != 200 {
		t.Errorf("without delay: %d", r.status)
	}
}

func TestSTTMethodNotAllowed(t *testing.T) {
	t.Parallel()
	em := start(t)
	resp, err := http.Get(em.URL + "/v1/speech-to-text")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d", resp.StatusCode)
	}
}
