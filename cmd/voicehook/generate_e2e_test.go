package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
)

const ttsKey = "xi_test_key"

// genJobView is a job as the API shows a generated one.
type genJobView struct {
	jobView
	Generation *struct {
		RequestID  string `json:"request_id"`
		Characters int    `json:"characters"`
		Parts      int    `json:"parts"`
	} `json:"generation"`
}

type genSegmentView struct {
	segmentView
	Captions string `json:"captions"`
}

// withTTS points the server at a text-to-speech emulator.
func withTTS(em *elevenlabstest.TTSEmulator, concurrency int) func(*config) {
	return func(c *config) {
		c.ElevenLabsAPIKey, c.ElevenLabsAPIURL, c.ElevenLabsConc = ttsKey, em.URL, concurrency
		c.JobTimeout = 20 * time.Second
	}
}

func (h *harness) createGenerated(req map[string]any) genJobView {
	h.t.Helper()
	body, _ := json.Marshal(req)
	var job genJobView
	if code := h.do("POST", "/api/jobs", nil, body, &job); code != http.StatusCreated {
		h.t.Fatalf("creating a generated job: %d %+v", code, job)
	}
	return job
}

func (h *harness) waitJob(id string, d time.Duration) genJobView {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var job genJobView
		h.do("GET", "/api/jobs/"+id, nil, nil, &job)
		if job.Status != "processing" || time.Now().After(deadline) {
			return job
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) get(path string) (int, string) {
	h.t.Helper()
	resp, err := http.Get(h.base + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var vttCue = regexp.MustCompile(`(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)\n(.+)`)

type cue struct {
	start, end time.Duration
	text       string
}

func parseVTT(t *testing.T, vtt string) []cue {
	t.Helper()
	if !strings.HasPrefix(vtt, "WEBVTT") {
		t.Fatalf("not WebVTT: %q", vtt)
	}
	var out []cue
	for _, m := range vttCue.FindAllStringSubmatch(vtt, -1) {
		ts := func(h, m, s, ms string) time.Duration {
			// Atoi, not Sscan: Sscan reads "009" as a (bad) octal number.
			a, _ := strconv.Atoi(h)
			b, _ := strconv.Atoi(m)
			c, _ := strconv.Atoi(s)
			d, _ := strconv.Atoi(ms)
			return time.Duration(a)*time.Hour + time.Duration(b)*time.Minute + time.Duration(c)*time.Second + time.Duration(d)*time.Millisecond
		}
		out = append(out, cue{ts(m[1], m[2], m[3], m[4]), ts(m[5], m[6], m[7], m[8]), m[9]})
	}
	return out
}

// TestGenerateEndToEnd: a job with text is generated, stored and finished
// like a callback job, with captions timed to the alignment to the
// millisecond; ElevenLabs is called once.
func TestGenerateEndToEnd(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		em := elevenlabstest.StartTTS(ttsKey)
		t.Cleanup(em.Close)
		h := setup(t, store, withTTS(em, 2))
		checkGenerated(t, h, em)
	})
}

// TestGenerateThroughBinary runs the same generation through the built
// binary, as a user runs it.
func TestGenerateThroughBinary(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	p := startServe(t, "--data-dir", t.TempDir(), "--elevenlabs-api-key", ttsKey, "--elevenlabs-api-url", em.URL)
	checkGenerated(t, &harness{t: t, base: p.base}, em)
	p.stop(t)
}

// checkGenerated creates a job with text on h and checks everything the
// generation leaves: the job, the segment, the audio, captions timed to the
// alignment, and one call to ElevenLabs.
func checkGenerated(t *testing.T, h *harness, em *elevenlabstest.TTSEmulator) {
	t.Helper()
	const text = "Hello brave new world."
	job := h.createGenerated(map[string]any{"segment_id": "scene-1", "type": "voiceover_generation", "text": text, "voice_id": "voice_a"})
	if job.Status != "processing" {
		t.Fatalf("new job status %q", job.Status)
	}
	job = h.waitJob(job.ID, 20*time.Second)
	if job.Status != "completed" || job.Generation == nil || job.Generation.RequestID == "" || job.Generation.Characters != len(text) {
		t.Fatalf("job after generation: %+v generation %+v", job, job.Generation)
	}
	var seg genSegmentView
	h.do("GET", "/api/segments/scene-1", nil, nil, &seg)
	wantDur := elevenlabstest.SpeechDuration(text)
	if seg.Status != "voiceover_ready" || seg.Voiceover == "" || len(seg.SHA256) != 64 || seg.Bytes == 0 || seg.Captions == "" ||
		seg.DurationMS != wantDur.Milliseconds() {
		t.Fatalf("segment %+v, want ready with audio, sha256, %d ms and captions", seg, wantDur.Milliseconds())
	}
	// The media URL names --public-url's host; ask this server for its path.
	if u, err := url.Parse(seg.Voiceover); err != nil {
		t.Errorf("voiceover URL %q: %v", seg.Voiceover, err)
	} else if code, body := h.get(u.Path); code != http.StatusOK || int64(len(body)) != seg.Bytes {
		t.Errorf("voiceover URL answered %d with %d bytes, want %d", code, len(body), seg.Bytes)
	}
	code, vtt := h.get("/api/segments/scene-1/captions.vtt")
	if code != http.StatusOK {
		t.Fatalf("captions.vtt: %d %s", code, vtt)
	}
	// The emulator times character i at [i·d, (i+1)·d) with d = the
	// audio's duration / characters: each word's cue runs from its
	// first character's start to its last one's end, to the ms.
	runes := []rune(text)
	d := wantDur.Seconds() / float64(len(runes))
	ms := func(i int) time.Duration {
		return time.Duration(math.Round(float64(i)*d*1000)) * time.Millisecond
	}
	want := []cue{{ms(0), ms(5), "Hello"}, {ms(6), ms(11), "brave"}, {ms(12), ms(15), "new"}, {ms(16), ms(22), "world."}}
	got := parseVTT(t, vtt)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("VTT cues\n got %v\nwant %v\n%s", got, want, vtt)
	}
	code, srt := h.get("/api/segments/scene-1/captions.srt")
	if code != http.StatusOK || !strings.HasPrefix(srt, "1\n00:00:00,000 --> ") || strings.Count(srt, " --> ") != 4 {
		t.Errorf("captions.srt: %d %q", code, srt)
	}
	if calls := em.Calls(); len(calls) != 1 || calls[0].Text != text || calls[0].VoiceID != "voice_a" {
		t.Errorf("emulator calls = %+v, want exactly one for the text", calls)
	}
}

// TestGenerateConcurrency runs 50 generations with --elevenlabs-concurrency
// 3 against a plan limit of 3, lowered to 2 mid-run: all complete, the
// emulator never sees more than 3 at once, and its 429s only delay.
func TestGenerateConcurrency(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	em.SetConcurrencyLimit(3)
	em.SetDelay(40 * time.Millisecond)
	h := setup(t, "sqlite", withTTS(em, 3))
	const n = 50
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = h.createGenerated(map[string]any{"segment_id": fmt.Sprintf("seg-%02d", i), "text": fmt.Sprintf("Line number %d of the script.", i),
				"voice_id": "voice_a"}).ID
		}()
	}
	wg.Wait()
	time.Sleep(150 * time.Millisecond)
	em.SetConcurrencyLimit(2) // the plan changes under a running pipeline
	for _, id := range ids {
		if job := h.waitJob(id, 60*time.Second); job.Status != "completed" {
			t.Fatalf("job %s: %+v", id, job)
		}
	}
	if em.MaxSeen() > 3 {
		t.Errorf("emulator saw %d requests at once, over the limit of 3", em.MaxSeen())
	}
	ok := 0
	for _, c := range em.Calls() {
		if c.Status == http.StatusOK {
			ok++
		}
	}
	if ok != n {
		t.Errorf("%d successful calls for %d jobs: a generation was paid twice or lost", ok, n)
	}
	t.Logf("max concurrent %d, 429s %d", em.MaxSeen(), em.TooManyRequests())
}

// TestGenerateLongScript: 25,000 characters with eleven_multilingual_v2
// (limit 10,000) become one voiceover of 3 stitched parts whose captions run
// on across the joins.
func TestGenerateLongScript(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	// One attempt generates all three parts: under the race detector on a
	// loaded CI machine that has taken over withTTS's 20 s, and a timed-out
	// attempt pays for its parts again.
	h := setup(t, "sqlite", withTTS(em, 2), func(c *config) { c.JobTimeout = 2 * time.Minute })
	var b strings.Builder
	for i := 0; b.Len() < 25_000; i++ {
		fmt.Fprintf(&b, "Sentence %d goes on a little. ", i)
	}
	text := strings.TrimSpace(b.String()[:25_000])
	job := h.createGenerated(map[string]any{"segment_id": "chapter-1", "text": text, "voice_id": "voice_a", "model_id": "eleven_multilingual_v2"})
	job = h.waitJob(job.ID, 3*time.Minute)
	if job.Status != "completed" || job.Generation == nil || job.Generation.Parts < 3 {
		t.Fatalf("job %+v generation %+v, want completed in 3+ parts", job, job.Generation)
	}
	calls := em.Calls()
	if len(calls) != job.Generation.Parts {
		t.Fatalf("%d calls for %d parts", len(calls), job.Generation.Parts)
	}
	var total time.Duration
	for i, c := range calls {
		if len([]rune(c.Text)) > 10_000 {
			t.Errorf("part %d has %d characters", i, len([]rune(c.Text)))
		}
		if i > 0 && (len(c.PreviousRequestIDs) == 0 || c.PreviousRequestIDs[len(c.PreviousRequestIDs)-1] != calls[i-1].RequestID) {
			t.Errorf("part %d stitched to %v, want the previous part's %s", i, c.PreviousRequestIDs, calls[i-1].RequestID)
		}
		total += elevenlabstest.SpeechDuration(c.Text)
	}
	var seg genSegmentView
	h.do("GET", "/api/segments/chapter-1", nil, nil, &seg)
	if seg.DurationMS != total.Milliseconds() {
		t.Errorf("voiceover lasts %d ms, want the parts' %d ms", seg.DurationMS, total.Milliseconds())
	}
	_, vtt := h.get("/api/segments/chapter-1/captions.vtt")
	cues := parseVTT(t, vtt)
	if len(cues) < 4000 {
		t.Fatalf("only %d cues", len(cues))
	}
	for i := 1; i < len(cues); i++ {
		if cues[i].start < cues[i-1].end {
			t.Fatalf("cue %d starts at %s before cue %d ends at %s", i, cues[i].start, i-1, cues[i-1].end)
		}
	}
	if last := cues[len(cues)-1].end; last < total-50*time.Millisecond || last > total {
		t.Errorf("last cue ends at %s, the audio at %s", last, total)
	}
}

// TestGeneratePermanentError: an invalid key fails the job at once with
// ElevenLabs' own message.
func TestGeneratePermanentError(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	h := setup(t, "sqlite", withTTS(em, 2))
	em.FailNext(http.StatusUnauthorized, "invalid_api_key", "Invalid API key")
	job := h.createGenerated(map[string]any{"segment_id": "scene-x", "text": "Hi there.", "voice_id": "voice_a"})
	job = h.waitJob(job.ID, 20*time.Second)
	if job.Status != "failed" || !strings.Contains(job.ErrorDetails, "Invalid API key") {
		t.Fatalf("job %+v, want failed with ElevenLabs' message", job)
	}
	var seg genSegmentView
	h.do("GET", "/api/segments/scene-x", nil, nil, &seg)
	if seg.Status != "voiceover_failed" {
		t.Errorf("segment %+v", seg)
	}
	if len(em.Calls()) != 1 {
		t.Errorf("%d calls, want 1 (a permanent error is not retried)", len(em.Calls()))
	}
}

// TestGenerateRejectsBadRequests: every refusal says why.
func TestGenerateRejectsBadRequests(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	h := setup(t, "sqlite", withTTS(em, 2))
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"segment_id": "s", "text": "Hi."}, "voice_id is required"},
		{map[string]any{"segment_id": "s", "text": "  ", "voice_id": "v"}, "text is blank"},
		{map[string]any{"segment_id": "s", "text": "Hi.", "voice_id": "v", "output_format": "pcm_16000"}, "mp3_"},
		{map[string]any{"segment_id": "s", "voice_id": "v"}, "text is required"},
		{map[string]any{"segment_id": "s", "text": "Hi.", "voice_id": "v", "studio": true, "sequence": map[string]any{"group": "g", "position": 1}}, "no sequence"},
		{map[string]any{"segment_id": "s", "voice_id": "v", "studio": true}, "text is required"},
	} {
		body, _ := json.Marshal(c.body)
		var reply struct{ Status, Message string }
		if code := h.do("POST", "/api/jobs", nil, body, &reply); code != http.StatusBadRequest || !strings.Contains(reply.Message, c.want) {
			t.Errorf("%v: %d %+v, want 400 saying %q", c.body, code, reply, c.want)
		}
	}
}

// TestGenerateSurvivesKill kills the real binary with SIGKILL while
// ElevenLabs is answering, restarts it on the same data dir, and finds the
// job completed, ElevenLabs having been asked at most once more.
func TestGenerateSurvivesKill(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	em.SetDelay(5 * time.Second)
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--elevenlabs-api-key", ttsKey, "--elevenlabs-api-url", em.URL,
		"--job-timeout", "2s", "--retry-base", "50ms", "--retry-max", "500ms"}
	p := startServe(t, args...)
	h := &harness{t: t, base: p.base}
	const text = "A voiceover interrupted by a crash."
	job := h.createGenerated(map[string]any{"segment_id": "scene-k", "text": text, "voice_id": "voice_a"})
	deadline := time.Now().Add(20 * time.Second)
	for em.InFlight() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the generation never reached ElevenLabs")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.kill()
	em.SetDelay(0)

	p = startServe(t, args...)
	h.base = p.base
	got := h.waitJob(job.ID, 60*time.Second)
	if got.Status != "completed" {
		t.Fatalf("after the restart the job is %+v", got)
	}
	calls, ok := 0, 0
	for _, c := range em.Calls() {
		if c.Text == text {
			calls++
			if c.Status == http.StatusOK {
				ok++
			}
		}
	}
	if calls > 2 || ok != 1 {
		t.Errorf("ElevenLabs saw %d calls (%d answered) for the job, want at most one extra and one answer", calls, ok)
	}
	p.stop(t)
}

// TestGenerateSequence: segments of one script, created together and free
// to run at once, are generated in order, each stitched to the request id
// of the one before.
func TestGenerateSequence(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	em.SetConcurrencyLimit(0)
	em.SetDelay(100 * time.Millisecond)
	h := setup(t, "sqlite", withTTS(em, 3))
	texts := []string{"First part of the story.", "Second part of the story.", "Third part of the story."}
	var ids []string
	for i, text := range texts {
		job := h.createGenerated(map[string]any{"segment_id": fmt.Sprintf("story-%d", i), "text": text, "voice_id": "voice_a",
			"sequence": map[string]any{"group": "story", "position": i}})
		ids = append(ids, job.ID)
	}
	for _, id := range ids {
		if job := h.waitJob(id, 30*time.Second); job.Status != "completed" {
			t.Fatalf("job %s: %+v", id, job)
		}
	}
	calls := em.Calls()
	if len(calls) != len(texts) {
		t.Fatalf("%d calls, want %d", len(calls), len(texts))
	}
	for i, c := range calls {
		if c.Text != texts[i] {
			t.Fatalf("call %d spoke %q, want %q: not in sequence order", i, c.Text, texts[i])
		}
		if i > 0 && (len(c.PreviousRequestIDs) != 1 || c.PreviousRequestIDs[0] != calls[i-1].RequestID) {
			t.Errorf("call %d stitched to %v, want [%s]", i, c.PreviousRequestIDs, calls[i-1].RequestID)
		}
	}
	if len(calls[0].PreviousRequestIDs) != 0 {
		t.Errorf("the first segment stitched to %v", calls[0].PreviousRequestIDs)
	}
}

// TestGenerateStudio: "studio": true creates a Studio project from the text
// that converts and calls the job's own callback URL; the job completes
// through that callback with the project's audio.
func TestGenerateStudio(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.Start(ttsKey)
	t.Cleanup(em.Close)
	h := setup(t, "sqlite", func(c *config) {
		c.ElevenLabsAPIKey, c.ElevenLabsAPIURL = ttsKey, em.URL
	})
	const text = "Chapter one begins.\n\nAnd then it ends."
	job := h.createGenerated(map[string]any{"segment_id": "book-1", "text": text, "voice_id": "voice_a",
		"model_id": "eleven_multilingual_v2", "studio": true})
	if job.CallbackURL == "" {
		t.Fatalf("job %+v has no callback URL", job)
	}
	job = h.waitJob(job.ID, 30*time.Second)
	if job.Status != "completed" {
		t.Fatalf("studio job %+v", job)
	}
	projects := em.Projects()
	if len(projects) != 1 {
		t.Fatalf("%d Studio projects, want 1", len(projects))
	}
	p := projects[0]
	if !p.AutoConvert || p.CallbackURL != job.CallbackURL || p.DefaultModelID != "eleven_multilingual_v2" ||
		!strings.Contains(p.ContentJSON, `"voice_id":"voice_a"`) || !strings.Contains(p.ContentJSON, "And then it ends.") {
		t.Errorf("project %+v, want auto-converted with the job's callback URL, model and text", p)
	}
	if job.Generation == nil || job.Generation.RequestID != p.ProjectID {
		t.Errorf("job generation %+v, want the project id %s", job.Generation, p.ProjectID)
	}
	var seg genSegmentView
	h.do("GET", "/api/segments/book-1", nil, nil, &seg)
	// The emulator's project audio speaks the nodes' text run together.
	want := elevenlabstest.SpeechDuration("Chapter one begins.And then it ends.")
	if seg.Status != "voiceover_ready" || seg.DurationMS != want.Milliseconds() || len(seg.SHA256) != 64 {
		t.Errorf("segment %+v, want ready with the project's %d ms of audio", seg, want.Milliseconds())
	}
}
