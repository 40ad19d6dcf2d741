package process_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
	"github.com/voicehook/voicehook/process"
	"github.com/voicehook/voicehook/voicehooktest"
)

// memGenerations keeps generations in memory.
type memGenerations struct {
	voicehook.Generations // only the methods below are called
	mu                    sync.Mutex
	gens                  map[string]voicehook.Generation
	failSaves             int // SavePart fails this many more times, as a store that cannot answer
}

func (m *memGenerations) Generation(ctx context.Context, jobID string) (voicehook.Generation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.gens[jobID]
	if !ok {
		return g, voicehook.ErrNotFound
	}
	return g, nil
}

func (m *memGenerations) SavePart(ctx context.Context, jobID string, part voicehook.GenerationPart) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSaves > 0 {
		m.failSaves--
		return fmt.Errorf("%w: beginning transaction: context deadline exceeded", voicehook.ErrUnavailable)
	}
	g := m.gens[jobID]
	g.Parts = append(g.Parts, part)
	m.gens[jobID] = g
	return nil
}

func (m *memGenerations) SaveStored(ctx context.Context, jobID string, audio voicehook.StoredAudio, captions string, cues []voicehook.Cue) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.gens[jobID]
	g.Audio, g.Captions, g.Cues, g.State = &audio, captions, cues, voicehook.GenerationStored
	m.gens[jobID] = g
	return nil
}

func (m *memGenerations) EndGeneration(ctx context.Context, jobID string, state voicehook.GenerationState, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.gens[jobID]
	g.State, g.Error = state, reason
	m.gens[jobID] = g
	return nil
}

func (m *memStore) Job(ctx context.Context, id string) (voicehook.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return j, voicehook.ErrNotFound
	}
	return j, nil
}

func newGenerator(t *testing.T, em *elevenlabstest.TTSEmulator, text string) (*process.Generator, *memStore, *memStorage, *memGenerations) {
	t.Helper()
	store, storage := newMemStore(), &memStorage{}
	store.jobs["job_1"] = voicehook.Job{ID: "job_1", SegmentID: "seg_1", Type: voicehook.JobTypeVoiceover, Status: voicehook.JobProcessing}
	gens := &memGenerations{gens: map[string]voicehook.Generation{"job_1": {JobID: "job_1", SegmentID: "seg_1",
		Script: voicehook.Script{Text: text, VoiceID: "voice_a"}, State: voicehook.GenerationQueued}}}
	g := &process.Generator{Generations: gens, Records: store, Storage: storage,
		TTS:     &elevenlabs.TTS{BaseURL: em.URL, APIKey: em.APIKey, HTTP: &http.Client{Timeout: 10 * time.Second}},
		Limiter: process.NewLimiter(2), PartsDir: t.TempDir(), MaxAudioBytes: 10 << 20,
		Clock: voicehooktest.NewClock(), Logger: slog.New(slog.DiscardHandler)}
	return g, store, storage, gens
}

// TestGenerateRetryAfterStorageFailure: the audio is kept once ElevenLabs
// has answered, so an attempt that fails to store it is retried without a
// second call.
func TestGenerateRetryAfterStorageFailure(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS("k")
	t.Cleanup(em.Close)
	g, store, storage, gens := newGenerator(t, em, "Stored on the second try.")
	storage.err = errStorageDown
	if res := g.Generate(context.Background(), voicehook.GenerationRun{JobID: "job_1", Attempt: 1, MaxAttempts: 5}); res.Retry == nil {
		t.Fatalf("first attempt %+v, want a retry", res)
	}
	if parts := gens.gens["job_1"].Parts; len(parts) != 1 {
		t.Fatalf("parts after the failed store: %+v", parts)
	} else if _, err := os.Stat(parts[0].Path); err != nil {
		t.Fatalf("the part's audio is not kept: %v", err)
	}
	storage.err = nil
	if res := g.Generate(context.Background(), voicehook.GenerationRun{JobID: "job_1", Attempt: 2, MaxAttempts: 5}); res.Retry != nil || res.Wait != 0 {
		t.Fatalf("second attempt %+v", res)
	}
	if n := len(em.Calls()); n != 1 {
		t.Errorf("ElevenLabs called %d times, want 1", n)
	}
	if st := store.jobs["job_1"].Status; st != voicehook.JobCompleted {
		t.Errorf("job %s", st)
	}
	seg := store.segments["seg_1"]
	if seg.Status != voicehook.SegmentVoiceoverReady || seg.DurationMS == 0 {
		t.Errorf("segment %+v", seg)
	}
	if gens.gens["job_1"].State != voicehook.GenerationDone {
		t.Errorf("generation %s", gens.gens["job_1"].State)
	}
	// Audio and captions were stored once each on the successful attempt.
	if len(storage.puts) != 2 {
		t.Errorf("%d objects stored, want the audio and its captions", len(storage.puts))
	}
}

// TestGeneratePaidPartNotPaidTwice: a part ElevenLabs has answered is paid
// for; a store that cannot record it for a while (a stalled or busy
// database) must not make the next attempt pay for it again.
func TestGeneratePaidPartNotPaidTwice(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS("k")
	t.Cleanup(em.Close)
	g, store, _, gens := newGenerator(t, em, "Recorded after the store comes back.")
	gens.failSaves = 3
	if res := g.Generate(context.Background(), voicehook.GenerationRun{JobID: "job_1", Attempt: 1, MaxAttempts: 5}); res.Retry != nil || res.Wait != 0 {
		t.Fatalf("attempt: %+v, want it to finish", res)
	}
	if n := len(em.Calls()); n != 1 {
		t.Errorf("ElevenLabs called %d times, want 1", n)
	}
	if st := store.jobs["job_1"].Status; st != voicehook.JobCompleted {
		t.Errorf("job %s", st)
	}
}

// TestGenerateRateLimitedWaits: a 429 over the plan's concurrency waits
// without counting an attempt or failing the job.
func TestGenerateRateLimitedWaits(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS("k")
	t.Cleanup(em.Close)
	g, store, _, _ := newGenerator(t, em, "Busy now.")
	em.FailNext(http.StatusTooManyRequests, "too_many_concurrent_requests", "Too many concurrent requests")
	res := g.Generate(context.Background(), voicehook.GenerationRun{JobID: "job_1", Attempt: 10, MaxAttempts: 10})
	if res.Wait <= 0 || res.Retry != nil {
		t.Fatalf("after a 429: %+v, want a wait", res)
	}
	if st := store.jobs["job_1"].Status; st != voicehook.JobProcessing {
		t.Errorf("job %s after a 429 on the last attempt, want still processing", st)
	}
}

// TestGeneratePermanentFailsJob: ElevenLabs' own message fails the job.
func TestGeneratePermanentFailsJob(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS("k")
	t.Cleanup(em.Close)
	g, store, _, gens := newGenerator(t, em, "Out of quota.")
	em.FailNext(http.StatusUnauthorized, "quota_exceeded", "This request exceeds your quota of 10000.")
	if res := g.Generate(context.Background(), voicehook.GenerationRun{JobID: "job_1", Attempt: 1, MaxAttempts: 10}); res.Retry != nil || res.Wait != 0 {
		t.Fatalf("after quota_exceeded: %+v, want done", res)
	}
	job := store.jobs["job_1"]
	if job.Status != voicehook.JobFailed || !strings.Contains(job.ErrorDetails, "exceeds your quota") {
		t.Errorf("job %+v", job)
	}
	if gens.gens["job_1"].State != voicehook.GenerationFailed {
		t.Errorf("generation %s", gens.gens["job_1"].State)
	}
}

// TestLimiterHonoursThePlan: the limiter never admits more than the
// configured number, and lowers itself to a plan's announced maximum.
func TestLimiterHonoursThePlan(t *testing.T) {
	t.Parallel()
	l := process.NewLimiter(3)
	l.Observe(5)
	if l.Limit() != 3 {
		t.Fatalf("limit %d after a higher plan maximum, want 3", l.Limit())
	}
	l.Observe(2)
	if l.Limit() != 2 {
		t.Fatalf("limit %d, want 2", l.Limit())
	}
	ctx := context.Background()
	_ = l.Acquire(ctx)
	_ = l.Acquire(ctx)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := l.Acquire(short); err == nil {
		t.Fatal("a third request was admitted over the limit of 2")
	}
	l.Release()
	if err := l.Acquire(ctx); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}
