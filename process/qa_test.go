package process_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/process"
)

// memQA keeps QA checks as the store does: they only move forward.
type memQA struct {
	clock  voicehook.Clock
	mu     sync.Mutex
	checks map[string]voicehook.QACheck
	queued []string
}

func newMemQA(clock voicehook.Clock) *memQA {
	return &memQA{clock: clock, checks: map[string]voicehook.QACheck{}}
}

func (m *memQA) ExpectScript(ctx context.Context, job voicehook.Job, script string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.checks[job.ID]; !ok {
		m.checks[job.ID] = voicehook.QACheck{JobID: job.ID, SegmentID: job.SegmentID, Script: script, State: voicehook.QAAwaitingAudio, Created: m.clock.Now()}
	}
	return nil
}

func (m *memQA) QueueQA(ctx context.Context, job voicehook.Job, script string, audio voicehook.StoredAudio) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.checks[job.ID]
	switch {
	case !ok && script == "":
		return false, nil
	case !ok:
		c = voicehook.QACheck{JobID: job.ID, SegmentID: job.SegmentID, Script: script, Created: m.clock.Now()}
	case c.State != voicehook.QAAwaitingAudio:
		return false, nil
	}
	c.State, c.Status, c.Audio = voicehook.QAQueued, voicehook.QAUnchecked, &audio
	m.checks[job.ID] = c
	m.queued = append(m.queued, job.ID)
	return true, nil
}

func (m *memQA) QA(ctx context.Context, jobID string) (voicehook.QACheck, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.checks[jobID]
	if !ok {
		return c, voicehook.ErrNotFound
	}
	return c, nil
}

func (m *memQA) QAByRequest(ctx context.Context, requestID string) (voicehook.QACheck, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.checks {
		if requestID != "" && c.RequestID == requestID {
			return c, nil
		}
	}
	return voicehook.QACheck{}, voicehook.ErrNotFound
}

func (m *memQA) SegmentQA(ctx context.Context, segmentID string) (voicehook.QACheck, error) {
	return voicehook.QACheck{}, voicehook.ErrNotFound
}

func (m *memQA) SaveQA(ctx context.Context, c voicehook.QACheck) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.checks[c.JobID]
	if !ok {
		return voicehook.ErrNotFound
	}
	if cur.State.Final() {
		return voicehook.ErrFinished
	}
	m.checks[c.JobID] = c
	return nil
}

func (m *memQA) ListQA(ctx context.Context, f voicehook.QAFilter) ([]voicehook.QACheck, error) {
	return nil, errors.New("not used")
}

// fakeSTT answers speech-to-text requests as told and records them.
type fakeSTT struct {
	mu    sync.Mutex
	reqs  []elevenlabs.TranscribeRequest
	files [][]byte
	err   error
	heard *voicehook.Transcript // answered in sync mode
}

func (f *fakeSTT) Transcribe(ctx context.Context, req elevenlabs.TranscribeRequest) (elevenlabs.TranscribeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var file []byte
	if req.File != nil {
		b, err := io.ReadAll(req.File)
		if err != nil {
			return elevenlabs.TranscribeResult{}, err
		}
		file = b
	}
	req.File = nil
	f.reqs, f.files = append(f.reqs, req), append(f.files, file)
	if f.err != nil {
		return elevenlabs.TranscribeResult{}, f.err
	}
	res := elevenlabs.TranscribeResult{RequestID: fmt.Sprintf("req_%d", len(f.reqs))}
	if !req.Webhook {
		res.Transcript = f.heard
	}
	return res, nil
}

// memAudio reads back stored audio by key.
type memAudio map[string]string

func (m memAudio) OpenAudio(ctx context.Context, key string) (io.ReadCloser, error) {
	s, ok := m[key]
	if !ok {
		return nil, voicehook.ErrNotFound
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

type qaBundle struct {
	bundle
	qa      *memQA
	stt     *fakeSTT
	checker *process.Checker
}

func setupQA(t *testing.T) qaBundle {
	t.Helper()
	base := setup(t, true)
	b := qaBundle{bundle: base, qa: newMemQA(base.clock), stt: &fakeSTT{}}
	b.checker = &process.Checker{QA: b.qa, Records: b.store, STT: b.stt, Audio: memAudio{"seg_1/a.mp3": "mp3 bytes"},
		Model: "scribe_v1", MaxWER: 0.08, Clock: b.clock, Logger: slog.New(slog.DiscardHandler)}
	b.p.QA = b.checker
	return b
}

// words are transcript words, one per 0.5 s.
func words(text string) []voicehook.TranscriptWord {
	var out []voicehook.TranscriptWord
	for i, w := range strings.Fields(text) {
		out = append(out, voicehook.TranscriptWord{Text: w, Start: float64(i) * 0.5, End: float64(i)*0.5 + 0.4, Type: "word"})
	}
	return out
}

const qaScript = "The quick brown fox jumps over the lazy dog."

func sttEvent(requestID, jobID, text string) string {
	return fmt.Sprintf(`{"type":"speech_to_text_transcription","event_timestamp":1700000000,"data":{"request_id":%q,"webhook_metadata":{"job_id":%q,"segment_id":"seg_1"},"transcription":{"language_code":"en","text":%q,"words":[%s]}}}`,
		requestID, jobID, text, wordsJSON(text))
}

func wordsJSON(text string) string {
	var parts []string
	for _, w := range words(text) {
		parts = append(parts, fmt.Sprintf(`{"text":%q,"start":%g,"end":%g,"type":"word"}`, w.Text, w.Start, w.End))
	}
	return strings.Join(parts, ",")
}

func TestQAWebhookMode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupQA(t)
	b.addJob(voicehook.JobCompleted, b.clock.Now())
	job := b.store.jobs["job_1"]
	audio := voicehook.StoredAudio{URL: "http://127.0.0.1:8080/media/seg_1/a.mp3", Key: "seg_1/a.mp3", ContentType: "audio/mpeg"}
	if err := b.checker.QueueQA(ctx, job, qaScript, audio); err != nil {
		t.Fatal(err)
	}
	res := b.checker.Check(ctx, voicehook.QARun{JobID: "job_1", Attempt: 1, MaxAttempts: 5})
	if res != (voicehook.RunResult{}) {
		t.Fatalf("Check = %+v; want done", res)
	}
	// The file went up (the URL is not public HTTPS), with the ids as metadata.
	want := elevenlabs.TranscribeRequest{ModelID: "scribe_v1", Webhook: true, FileName: "a.mp3", ContentType: "audio/mpeg",
		WebhookMetadata: map[string]string{"job_id": "job_1", "segment_id": "seg_1"}}
	if diff := cmp.Diff([]elevenlabs.TranscribeRequest{want}, b.stt.reqs, cmp.AllowUnexported()); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	if string(b.stt.files[0]) != "mp3 bytes" {
		t.Fatalf("uploaded %q; want the stored audio", b.stt.files[0])
	}
	chk, _ := b.qa.QA(ctx, "job_1")
	if chk.State != voicehook.QASubmitted || chk.RequestID != "req_1" {
		t.Fatalf("after submitting: %s %q; want submitted req_1", chk.State, chk.RequestID)
	}

	// The transcript arrives: one word dropped, one misheard.
	b.addEventFor("evt_t", "", sttEvent("req_1", "job_1", "The quick brown fox jumps over the hazy"), b.clock.Now(), voicehook.EventReceived)
	got := b.result("evt_t", b.p.Process(ctx, voicehook.Run{EventID: "evt_t", Attempt: 1, MaxAttempts: 5}))
	if got.Event != voicehook.EventSucceeded || got.RelatedJob != "job_1" || !strings.Contains(got.Details, "QA flagged") {
		t.Fatalf("transcript event = %+v; want succeeded, related to job_1, QA flagged", got)
	}
	chk, _ = b.qa.QA(ctx, "job_1")
	if chk.Status != voicehook.QAFlagged || chk.Result == nil || chk.Result.WER != 2.0/9 || chk.EventID != "evt_t" {
		t.Fatalf("check = %+v; want flagged with WER 2/9 from evt_t", chk)
	}
	// The job and segment are untouched by QA.
	if got.Job != voicehook.JobCompleted {
		t.Fatalf("job %s; QA must not move it", got.Job)
	}

	// The same transcript again, as another event: nothing changes.
	b.addEventFor("evt_t2", "", sttEvent("req_1", "job_1", "The quick brown fox jumps over the lazy dog."), b.clock.Now(), voicehook.EventReceived)
	again := b.result("evt_t2", b.p.Process(ctx, voicehook.Run{EventID: "evt_t2", Attempt: 1, MaxAttempts: 5}))
	if again.Event != voicehook.EventIgnored || !strings.Contains(again.Details, "already has its verdict") {
		t.Fatalf("second transcript = %+v; want ignored, already has its verdict", again)
	}
	if chk2, _ := b.qa.QA(ctx, "job_1"); chk2.Status != voicehook.QAFlagged {
		t.Fatalf("the second transcript changed the verdict to %s", chk2.Status)
	}
}

func TestQASyncModePasses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupQA(t)
	b.checker.Sync = true
	b.stt.heard = &voicehook.Transcript{Text: "The quick brown fox", Words: words("the quick brown fox jumps over the lazy dog")}
	b.addJob(voicehook.JobCompleted, b.clock.Now())
	audio := voicehook.StoredAudio{URL: "https://cdn.voice.example.com/seg_1/a.mp3", Key: "seg_1/a.mp3"}
	if err := b.checker.QueueQA(ctx, b.store.jobs["job_1"], qaScript, audio); err != nil {
		t.Fatal(err)
	}
	if res := b.checker.Check(ctx, voicehook.QARun{JobID: "job_1", Attempt: 1, MaxAttempts: 5}); res != (voicehook.RunResult{}) {
		t.Fatalf("Check = %+v", res)
	}
	req := b.stt.reqs[0]
	if req.Webhook || req.CloudStorageURL != audio.URL || b.stt.files[0] != nil {
		t.Fatalf("request = %+v; want sync, by cloud_storage_url (public HTTPS), no file", req)
	}
	chk, _ := b.qa.QA(ctx, "job_1")
	if chk.State != voicehook.QAChecked || chk.Status != voicehook.QAPassed || chk.Result.WER != 0 {
		t.Fatalf("check = %+v; want checked, passed, WER 0", chk)
	}
}

func TestQACheckDecisions(t *testing.T) {
	t.Parallel()
	audio := voicehook.StoredAudio{URL: "http://127.0.0.1/media/seg_1/a.mp3", Key: "seg_1/a.mp3"}
	for _, tc := range []struct {
		name      string
		job       voicehook.JobStatus
		age       time.Duration
		sttErr    error
		key       string
		attempt   int
		wantWait  bool
		wantRetry bool
		wantState voicehook.QAState
		wantNotes string
	}{
		{name: "job still processing waits", job: voicehook.JobProcessing, wantWait: true, wantState: voicehook.QAQueued},
		{name: "job processing too long is cancelled", job: voicehook.JobProcessing, age: time.Hour, wantState: voicehook.QACancelled, wantNotes: "still processing"},
		{name: "failed job is cancelled", job: voicehook.JobFailed, wantState: voicehook.QACancelled, wantNotes: "job failed"},
		{name: "transient error retries", job: voicehook.JobCompleted, sttErr: errors.New("HTTP 503"), wantRetry: true, wantState: voicehook.QAQueued},
		{name: "last attempt gives up", job: voicehook.JobCompleted, sttErr: errors.New("HTTP 503"), attempt: 5, wantState: voicehook.QAErrored, wantNotes: "failed 5 times"},
		{name: "permanent error", job: voicehook.JobCompleted, sttErr: voicehook.Permanent("speech to text: HTTP 422: file too long", nil), wantState: voicehook.QAErrored, wantNotes: "file too long"},
		{name: "stored audio gone", job: voicehook.JobCompleted, key: "seg_1/gone.mp3", wantState: voicehook.QAErrored, wantNotes: "gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setupQA(t)
			b.stt.err = tc.sttErr
			b.addJob(tc.job, b.clock.Now())
			a := audio
			if tc.key != "" {
				a.Key = tc.key
			}
			if err := b.checker.QueueQA(ctx, b.store.jobs["job_1"], qaScript, a); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(tc.age)
			attempt := max(tc.attempt, 1)
			res := b.checker.Check(ctx, voicehook.QARun{JobID: "job_1", Attempt: attempt, MaxAttempts: 5})
			if (res.Wait > 0) != tc.wantWait || (res.Retry != nil) != tc.wantRetry {
				t.Fatalf("Check = %+v; want wait %v, retry %v", res, tc.wantWait, tc.wantRetry)
			}
			chk, _ := b.qa.QA(ctx, "job_1")
			if chk.State != tc.wantState || !strings.Contains(chk.Notes, tc.wantNotes) {
				t.Fatalf("check %s %q; want %s containing %q", chk.State, chk.Notes, tc.wantState, tc.wantNotes)
			}
			if got := b.store.jobs["job_1"].Status; got != tc.job {
				t.Fatalf("job moved to %s; QA never moves a job", got)
			}
		})
	}
}

func TestQATranscriptBeforeItsCheckWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupQA(t)
	b.addJob(voicehook.JobCompleted, b.clock.Now())
	b.addEventFor("evt_t", "", sttEvent("req_9", "job_9", "hello"), b.clock.Now(), voicehook.EventReceived)
	got := b.result("evt_t", b.p.Process(ctx, voicehook.Run{EventID: "evt_t", Attempt: 1, MaxAttempts: 5}))
	if !got.Wait || got.Event != voicehook.EventReceived {
		t.Fatalf("early transcript = %+v; want waiting", got)
	}
	b.clock.Advance(grace + time.Second)
	got = b.result("evt_t", b.p.Process(ctx, voicehook.Run{EventID: "evt_t", Attempt: 2, MaxAttempts: 5}))
	if got.Event != voicehook.EventFailed || !strings.Contains(got.Details, "req_9") || !strings.Contains(got.Details, "--job-match-grace") {
		t.Fatalf("after the grace = %+v; want failed naming the request and the grace", got)
	}
}

func TestQAOffIgnoresTranscripts(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.addEventFor("evt_t", "", sttEvent("req_1", "job_1", "hello"), b.clock.Now(), voicehook.EventReceived)
	got := b.result("evt_t", b.p.Process(context.Background(), voicehook.Run{EventID: "evt_t", Attempt: 1, MaxAttempts: 5}))
	if got.Event != voicehook.EventIgnored || !strings.Contains(got.Details, "--qa stt") {
		t.Fatalf("transcript with QA off = %+v; want ignored, naming --qa stt", got)
	}
}

func TestQACallbackJobWithScriptIsQueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupQA(t)
	b.addJob(voicehook.JobProcessing, time.Time{})
	if err := b.qa.ExpectScript(ctx, b.store.jobs["job_1"], qaScript); err != nil {
		t.Fatal(err)
	}
	b.addEvent("evt_1", inlineAudio, b.clock.Now(), voicehook.EventReceived)
	got := b.result("evt_1", b.p.Process(ctx, voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 5}))
	if got.Event != voicehook.EventSucceeded {
		t.Fatalf("callback = %+v", got)
	}
	chk, err := b.qa.QA(ctx, "job_1")
	if err != nil || chk.State != voicehook.QAQueued || chk.Script != qaScript || chk.Audio == nil {
		t.Fatalf("check = %+v, %v; want queued with the script and the stored audio", chk, err)
	}
	// A callback job created without text is not checked.
	c := setupQA(t)
	c.addJob(voicehook.JobProcessing, time.Time{})
	c.addEvent("evt_1", inlineAudio, c.clock.Now(), voicehook.EventReceived)
	c.p.Process(ctx, voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 5})
	if len(c.qa.queued) != 0 {
		t.Fatalf("queued %v for a job without a script", c.qa.queued)
	}
}
