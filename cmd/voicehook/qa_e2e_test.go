package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
)

// qaSegmentView is a segment with its QA, as the API shows it.
type qaSegmentView struct {
	segmentView
	QAStatus      string                   `json:"qa_status"`
	QAWER         *float64                 `json:"qa_wer"`
	QADifferences []voicehook.QADifference `json:"qa_differences"`
	QANotes       string                   `json:"qa_notes"`
	QAJob         string                   `json:"qa_job"`
}

// waitQA waits for the segment's QA verdict (passed or flagged) on job.
func (h *harness) waitQA(segment, job string, d time.Duration) qaSegmentView {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var seg qaSegmentView
		h.do("GET", "/api/segments/"+segment, nil, nil, &seg)
		if seg.QAJob == job && (seg.QAStatus == "passed" || seg.QAStatus == "flagged") {
			return seg
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("segment %s: no QA verdict on job %s after %s: %+v", segment, job, d, seg)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Scripts of different lengths: the emulator hears a voiceover by its
// length (its audio is silence).
const (
	qaScriptPass = "Welcome back to the channel, today we look at twelve tiny houses."
	qaScriptFlag = "The quick brown fox jumps over the lazy dog."
)

// TestQAThroughBinary: a generated voiceover whose transcript matches its
// script passes; one where speech to text drops a word and mishears another
// is flagged with WER exactly 2/N and both differences at the audio times
// where they happen. The transcript comes back on the signed webhook.
func TestQAThroughBinary(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	p := startServe(t, "--data-dir", t.TempDir(), "--elevenlabs-secret", testSecret,
		"--elevenlabs-api-key", ttsKey, "--elevenlabs-api-url", em.URL, "--qa", "stt")
	h := &harness{t: t, base: p.base}
	em.SetSTTWebhook(p.base+"/webhooks/elevenlabs", testSecret)
	em.SetSTTWebhookDelay(50 * time.Millisecond)

	job := h.createGenerated(map[string]any{"segment_id": "seg_pass", "text": qaScriptPass, "voice_id": "v1"})
	if got := h.waitJob(job.ID, 30*time.Second); got.Status != "completed" {
		t.Fatalf("job %s: %+v", job.ID, got)
	}
	seg := h.waitQA("seg_pass", job.ID, 30*time.Second)
	if seg.QAStatus != "passed" || seg.QAWER == nil || *seg.QAWER != 0 || len(seg.QADifferences) != 0 {
		t.Fatalf("matching transcript: %+v; want passed with WER 0", seg)
	}
	if seg.Status != "voiceover_ready" {
		t.Fatalf("segment status %s; QA must not change it", seg.Status)
	}

	em.SetMishearing(elevenlabstest.Mishearing{Drop: []string{"quick"}, Substitute: map[string]string{"lazy": "hazy"}})
	job = h.createGenerated(map[string]any{"segment_id": "seg_flag", "text": qaScriptFlag, "voice_id": "v1"})
	if got := h.waitJob(job.ID, 30*time.Second); got.Status != "completed" {
		t.Fatalf("job %s: %+v", job.ID, got)
	}
	seg = h.waitQA("seg_flag", job.ID, 30*time.Second)
	if seg.QAStatus != "flagged" || seg.QAWER == nil || *seg.QAWER != 2.0/9 {
		t.Fatalf("misheard transcript: %+v; want flagged with WER exactly 2/9", seg)
	}
	w := elevenlabstest.STTWords(qaScriptFlag) // The quick brown fox jumps over the lazy dog.
	want := []voicehook.QADifference{
		{Kind: voicehook.DiffDeletion, Expected: "quick", At: w[0].End, End: w[2].Start, ScriptIndex: 1},
		{Kind: voicehook.DiffSubstitution, Expected: "lazy", Heard: "hazy", At: w[7].Start, End: w[7].End, ScriptIndex: 7},
	}
	if diff := cmp.Diff(want, seg.QADifferences); diff != "" {
		t.Fatalf("differences (-want +got):\n%s", diff)
	}
	if seg.Status != "voiceover_ready" || seg.Jobs[0].Status != "completed" {
		t.Fatalf("segment %s, job %s: QA must not change them", seg.Status, seg.Jobs[0].Status)
	}

	// Each voiceover was sent once, as a file (the media URL is not public
	// HTTPS), with the ids as metadata, on the webhook.
	calls := em.STTCalls()
	if len(calls) != 2 {
		t.Fatalf("speech-to-text calls: %d; want 2", len(calls))
	}
	for _, c := range calls {
		if !c.HadFile || c.FileBytes == 0 || !c.Webhook || c.ModelID != "scribe_v1" || c.Metadata["job_id"] == "" || c.Metadata["segment_id"] == "" {
			t.Errorf("call %+v; want the file, webhook, scribe_v1 and the job and segment ids", c)
		}
	}

	// /qa lists the flagged segment, worst first.
	var list struct {
		Checks []struct {
			JobID     string  `json:"job_id"`
			SegmentID string  `json:"segment_id"`
			WER       float64 `json:"qa_wer"`
		} `json:"checks"`
	}
	if code := h.do("GET", "/api/qa?status=flagged", nil, nil, &list); code != http.StatusOK || len(list.Checks) != 1 || list.Checks[0].SegmentID != "seg_flag" {
		t.Fatalf("GET /api/qa?status=flagged: %d %+v", code, list)
	}
	if code := h.do("GET", "/api/qa?status=bad", nil, nil, nil); code != http.StatusBadRequest {
		t.Fatalf("GET /api/qa?status=bad: %d; want 400", code)
	}

	// Metrics count the outcomes and the WER.
	_, metrics := h.get("/metrics")
	for _, line := range []string{`voicehook_qa_checks_total{status="flagged"} 1`, `voicehook_qa_checks_total{status="passed"} 1`, "voicehook_qa_word_error_rate_count 2"} {
		if !strings.Contains(metrics, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	// Regenerate makes a new job with the same script (a different seed).
	var regen genJobView
	if code := h.do("POST", "/api/jobs/"+job.ID+"/regenerate", nil, []byte(`{"seed":7}`), &regen); code != http.StatusCreated || regen.SegmentID != "seg_flag" || regen.ID == job.ID {
		t.Fatalf("regenerate: %d %+v", code, regen)
	}
	em.SetMishearing(elevenlabstest.Mishearing{})
	if got := h.waitJob(regen.ID, 30*time.Second); got.Status != "completed" {
		t.Fatalf("regenerated job: %+v", got)
	}
	if seg := h.waitQA("seg_flag", regen.ID, 30*time.Second); seg.QAStatus != "passed" {
		t.Fatalf("regenerated voiceover: %+v; want passed", seg)
	}
	if tts := em.Calls(); tts[len(tts)-1].Text != qaScriptFlag {
		t.Fatalf("regenerated with text %q; want the same script", tts[len(tts)-1].Text)
	}
}

// TestQASyncMode: --qa-mode sync waits for the transcript in the answer, for
// setups without a speech-to-text webhook; a callback job created with its
// text is checked against it. On both stores.
func TestQASyncMode(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		em := elevenlabstest.StartTTS(ttsKey)
		t.Cleanup(em.Close)
		h := setup(t, store, withTTS(em, 2), func(c *config) { c.QA, c.QAMode = "stt", "sync" })
		em.SetMishearing(elevenlabstest.Mishearing{Substitute: map[string]string{"houses": "horses"}})
		job := h.createGenerated(map[string]any{"segment_id": "seg_1", "text": qaScriptPass, "voice_id": "v1"})
		if got := h.waitJob(job.ID, 30*time.Second); got.Status != "completed" {
			t.Fatalf("job: %+v", got)
		}
		seg := h.waitQA("seg_1", job.ID, 30*time.Second)
		// 12 words, one misheard: 1/12 = 0.083 is over the default 0.08.
		if seg.QAStatus != "flagged" || *seg.QAWER != 1.0/12 || len(seg.QADifferences) != 1 || seg.QADifferences[0].Heard != "horses" {
			t.Fatalf("sync QA: %+v; want flagged, WER 1/12, houses heard as horses", seg)
		}
		for _, c := range em.STTCalls() {
			if c.Webhook {
				t.Errorf("sync mode asked for a webhook: %+v", c)
			}
		}
		if len(em.STTDeliveries()) != 0 {
			t.Errorf("sync mode: %d webhook deliveries; want none", len(em.STTDeliveries()))
		}

		// A callback job created with its text ("generate": false) is
		// checked against it when the callback brings the audio.
		var cb jobView
		req := fmt.Sprintf(`{"segment_id":"seg_cb","external_id":"conv_cb","text":%q,"generate":false}`, qaScriptFlag)
		if code := h.do("POST", "/api/jobs", nil, []byte(req), &cb); code != http.StatusCreated {
			t.Fatalf("creating a callback job with text: %d", code)
		}
		audio := speak(t, em, qaScriptFlag)
		body := fmt.Sprintf(`{"type":"post_call_audio","event_timestamp":%d,"data":{"conversation_id":"conv_cb","full_audio":%q}}`,
			time.Now().Unix(), base64.StdEncoding.EncodeToString(audio))
		if code, _ := h.deliver("", []byte(body)); code != http.StatusOK {
			t.Fatalf("callback: %d", code)
		}
		seg = h.waitQA("seg_cb", cb.ID, 30*time.Second)
		if seg.QAStatus != "passed" || *seg.QAWER != 0 || em.STTCalls()[1].FileBytes != len(audio) {
			t.Fatalf("callback job's QA: %+v; want passed, WER 0, its audio sent whole", seg)
		}
	})
}

// speak asks the emulator's text to speech for text's audio, as an outside
// pipeline would before calling back with it.
func speak(t *testing.T, em *elevenlabstest.TTSEmulator, text string) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"text": text})
	req, _ := http.NewRequest("POST", em.URL+"/v1/text-to-speech/v1", bytes.NewReader(body))
	req.Header.Set("xi-api-key", ttsKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	audio, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("text to speech: %d %v", resp.StatusCode, err)
	}
	return audio
}

// TestQAOffChangesNothing: without --qa no speech to text is called and a
// transcript webhook is recorded and ignored, as before.
func TestQAOffChangesNothing(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	h := setup(t, "sqlite", withTTS(em, 2))
	job := h.createGenerated(map[string]any{"segment_id": "seg_1", "text": qaScriptPass, "voice_id": "v1"})
	if got := h.waitJob(job.ID, 30*time.Second); got.Status != "completed" {
		t.Fatalf("job: %+v", got)
	}
	body := []byte(fmt.Sprintf(`{"type":"speech_to_text_transcription","event_timestamp":%d,"data":{"request_id":"req_x","webhook_metadata":{"job_id":%q},"transcription":{"text":"hi","words":[]}}}`,
		time.Now().Unix(), job.ID))
	code, a := h.deliver("", body)
	if code != http.StatusOK {
		t.Fatalf("transcript delivery: %d", code)
	}
	ev := h.waitEvent(a.EventID)
	if ev.Status != "ignored" || !strings.Contains(ev.ErrorDetails, "--qa stt") {
		t.Fatalf("transcript with QA off: %+v; want ignored, naming --qa stt", ev)
	}
	var seg qaSegmentView
	h.do("GET", "/api/segments/seg_1", nil, nil, &seg)
	if seg.QAStatus != "" || len(em.STTCalls()) != 0 {
		t.Fatalf("QA off: qa_status %q, %d speech-to-text calls; want none", seg.QAStatus, len(em.STTCalls()))
	}
	if code := h.do("GET", "/api/qa", nil, nil, nil); code != http.StatusNotFound {
		t.Fatalf("GET /api/qa with QA off: %d; want 404", code)
	}
}

// TestQAWebhookDedupedAndEarly: a transcript delivered twice is one event
// and one verdict; one naming a job voicehook has no check for waits the
// grace like any early event, then fails saying why.
func TestQAWebhookDedupedAndEarly(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		em := elevenlabstest.StartTTS(ttsKey)
		t.Cleanup(em.Close)
		h := setup(t, store, withTTS(em, 2), func(c *config) { c.QA, c.JobMatchGrace = "stt", 2*time.Second })
		em.SetSTTWebhook(h.base+"/webhooks/elevenlabs", testSecret)
		em.DuplicateNextDelivery()
		job := h.createGenerated(map[string]any{"segment_id": "seg_1", "text": qaScriptFlag, "voice_id": "v1"})
		h.waitJob(job.ID, 30*time.Second)
		h.waitQA("seg_1", job.ID, 30*time.Second)
		em.WaitSTTDeliveries()
		deliveries := em.STTDeliveries()
		if len(deliveries) != 2 || !deliveries[1].Duplicate {
			t.Fatalf("deliveries %+v; want the transcript twice", deliveries)
		}
		var events struct {
			Events []eventView `json:"events"`
		}
		h.do("GET", "/api/events?limit=50", nil, nil, &events)
		transcripts := 0
		for _, ev := range events.Events {
			if ev.Type == "speech_to_text_transcription" {
				transcripts++
				if ev = h.waitEvent(ev.ID); ev.Status != "succeeded" || ev.RelatedJob != job.ID {
					t.Errorf("transcript event %+v; want succeeded for %s", ev, job.ID)
				}
			}
		}
		if transcripts != 1 {
			t.Fatalf("%d transcript events; want 1 (the second delivery is a duplicate)", transcripts)
		}

		// A transcript for a check voicehook does not have (yet).
		body, _ := json.Marshal(map[string]any{"type": "speech_to_text_transcription", "event_timestamp": time.Now().Unix(),
			"data": map[string]any{"request_id": "req_unknown", "webhook_metadata": map[string]string{"job_id": "job_unknown"},
				"transcription": map[string]any{"text": "hello", "words": []any{}}}})
		_, a := h.deliver("", body)
		ev := h.waitEventLong(a.EventID, 20*time.Second)
		if ev.Status != "failed" || !strings.Contains(ev.ErrorDetails, "req_unknown") || !strings.Contains(ev.ErrorDetails, "--job-match-grace") {
			t.Fatalf("early transcript after the grace: %+v; want failed naming the request and the grace", ev)
		}
		if ev.Attempts < 2 {
			t.Fatalf("early transcript: %d attempts; want it to have waited", ev.Attempts)
		}
	})
}

// TestQASurvivesCrash: the server is killed while speech to text holds the
// request; the transcript arrives at the restarted server, which matches it
// to the check it kept and gives the verdict.
func TestQASurvivesCrash(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	args := []string{"--data-dir", t.TempDir(), "--elevenlabs-secret", testSecret,
		"--elevenlabs-api-key", ttsKey, "--elevenlabs-api-url", em.URL, "--qa", "stt"}
	p := startServe(t, args...)
	h := &harness{t: t, base: p.base}
	em.SetSTTWebhook(p.base+"/webhooks/elevenlabs", testSecret)
	em.SetSTTWebhookDelay(3 * time.Second)
	job := h.createGenerated(map[string]any{"segment_id": "seg_1", "text": qaScriptPass, "voice_id": "v1"})
	deadline := time.Now().Add(30 * time.Second)
	for len(em.STTCalls()) == 0 || em.STTCalls()[0].Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("no speech-to-text request within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill()
	p2 := startServe(t, args...)
	em.SetSTTWebhook(p2.base+"/webhooks/elevenlabs", testSecret)
	h2 := &harness{t: t, base: p2.base}
	seg := h2.waitQA("seg_1", job.ID, 30*time.Second)
	if seg.QAStatus != "passed" {
		t.Fatalf("after the crash: %+v; want passed", seg)
	}
	em.WaitSTTDeliveries()
	for _, d := range em.STTDeliveries() {
		if got := d.Statuses[len(d.Statuses)-1]; got != http.StatusOK {
			t.Errorf("delivery of %s ended with %d; want 200", d.RequestID, got)
		}
	}
}
