package process

// Generation: a job with a script is spoken by ElevenLabs text to speech,
// which answers with the audio and sends no webhook. The order of the
// steps is what keeps "never pay twice":
//
//  1. Each part of the script (split at the model's character limit) is
//     generated once: its audio is written to disk and fsynced, then the
//     part is recorded. A retry skips every recorded part; a crash between
//     ElevenLabs' answer and the record costs at most that one part again.
//  2. The parts are joined, checked and stored with their captions, and the
//     generation is marked stored before the records move.
//  3. The job and segment finish through Records.FinishJob, exactly as a
//     callback finishes them (conditional, safe to repeat).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/captions"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/metrics"
	"github.com/voicehook/voicehook/internal/tracing"
)

// Generator runs generation attempts.
type Generator struct {
	Generations voicehook.Generations
	Records     voicehook.Records
	Storage     voicehook.Storage
	TTS         *elevenlabs.TTS
	// Studio creates the Studio projects of jobs that ask for one.
	Studio  *elevenlabs.Studio
	Limiter *Limiter
	// QA, if set (--qa stt), checks every generated voiceover.
	QA *Checker
	// PartsDir keeps generated parts until the whole voiceover is stored:
	// in the data dir, so they outlive a crash.
	PartsDir      string
	MaxAudioBytes int64
	Clock         voicehook.Clock
	Logger        *slog.Logger
	Metrics       *metrics.Metrics
	// Tracing, if on, makes each attempt a trace of its own; nil is off.
	Tracing *tracing.Tracing
}

var _ voicehook.Generator = (*Generator)(nil)

// sequenceWait is how long a segment waits for the one before it in its
// sequence before looking again.
const sequenceWait = 2 * time.Second

// Generate runs one attempt of a job's generation.
func (g *Generator) Generate(ctx context.Context, run voicehook.GenerationRun) voicehook.RunResult {
	if !g.Tracing.On() {
		return g.generate(ctx, run)
	}
	ctx, span := g.Tracing.StartRoot(ctx, "generation", trace.WithAttributes(
		attribute.String("voicehook.job_id", run.JobID), attribute.Int("voicehook.attempt", run.Attempt)))
	res := g.generate(ctx, run)
	endRun(span, res)
	return res
}

func (g *Generator) generate(ctx context.Context, run voicehook.GenerationRun) voicehook.RunResult {
	log := g.Logger.With("job_id", run.JobID, "attempt", run.Attempt)
	gen, err := g.Generations.Generation(ctx, run.JobID)
	if errors.Is(err, voicehook.ErrNotFound) {
		log.ErrorContext(ctx, "queued generation is not in the store", "err", err)
		return voicehook.RunResult{}
	}
	if err != nil {
		return voicehook.RunResult{Retry: err}
	}
	if gen.State == voicehook.GenerationDone || gen.State == voicehook.GenerationFailed {
		return voicehook.RunResult{}
	}
	log = log.With("segment_id", gen.SegmentID)
	job, err := readJob(ctx, g.Records, run.JobID)
	if err != nil {
		return voicehook.RunResult{Retry: fmt.Errorf("reading job: %w", err)}
	}
	if job.Status.Finished() {
		// Finished elsewhere (a callback, or the user in Airtable).
		g.end(ctx, log, gen, voicehook.GenerationDone, "job already "+string(job.Status))
		return voicehook.RunResult{}
	}
	if gen.Script.Studio {
		return g.submitStudio(ctx, log, gen, job, run)
	}
	if gen.Audio == nil {
		res, err := g.produce(ctx, log, &gen)
		switch {
		case voicehook.IsPermanent(err):
			return g.fail(ctx, log, gen, job, err)
		case err != nil && run.Attempt >= run.MaxAttempts:
			return g.fail(ctx, log, gen, job, fmt.Errorf("gave up after %d attempts: %w", run.Attempt, err))
		case err != nil:
			log.WarnContext(ctx, "generation failed; will retry", "err", err)
			return voicehook.RunResult{Retry: err}
		case res.Wait > 0:
			return res
		}
	}
	if err := g.QA.QueueQA(ctx, job, gen.Script.Text, *gen.Audio); err != nil {
		return voicehook.RunResult{Retry: err}
	}
	end := voicehook.Completed(*gen.Audio, g.Clock.Now().UTC())
	end.Captions = gen.Captions
	if err := finishJob(ctx, g.Records, job, end); err != nil {
		if voicehook.IsPermanent(err) {
			return g.fail(ctx, log, gen, job, err)
		}
		return voicehook.RunResult{Retry: fmt.Errorf("completing job: %w", err)}
	}
	g.end(ctx, log, gen, voicehook.GenerationDone, "")
	log.InfoContext(ctx, "voiceover generated", "url", gen.Audio.URL, "duration_ms", gen.Audio.DurationMS, "parts", len(gen.Parts))
	return voicehook.RunResult{}
}

// submitStudio creates the job's Studio project, which converts and then
// calls the job's callback URL: the job finishes through that callback, as
// any Studio job does. The project is recorded as the generation's one part
// before the generation ends, so a retry never creates a second one (a
// crash between ElevenLabs' answer and the record may, once).
func (g *Generator) submitStudio(ctx context.Context, log *slog.Logger, gen voicehook.Generation, job voicehook.Job, run voicehook.GenerationRun) voicehook.RunResult {
	if len(gen.Parts) == 0 {
		sc := gen.Script
		if g.QA != nil {
			// The project's callback completes the job: QA then checks it
			// against this text.
			if err := g.QA.QA.ExpectScript(ctx, job, sc.Text); err != nil {
				return voicehook.RunResult{Retry: fmt.Errorf("recording the script for QA: %w", err)}
			}
		}
		cctx, span := tracing.Start(ctx, "elevenlabs.studio_create")
		project, err := g.Studio.CreateProject(cctx, elevenlabs.ProjectRequest{Name: "voicehook " + gen.SegmentID, ModelID: sc.ModelID,
			VoiceID: sc.VoiceID, Text: sc.Text, CallbackURL: sc.CallbackURL})
		tracing.End(span, err)
		switch {
		case voicehook.IsPermanent(err):
			return g.fail(ctx, log, gen, job, err)
		case err != nil && run.Attempt >= run.MaxAttempts:
			return g.fail(ctx, log, gen, job, fmt.Errorf("gave up after %d attempts: %w", run.Attempt, err))
		case err != nil:
			log.WarnContext(ctx, "creating the Studio project failed; will retry", "err", err)
			return voicehook.RunResult{Retry: err}
		}
		part := voicehook.GenerationPart{RequestID: project, Characters: utf8.RuneCountInString(sc.Text)}
		if err := g.Generations.SavePart(ctx, gen.JobID, part); err != nil {
			return voicehook.RunResult{Retry: fmt.Errorf("recording the Studio project: %w", err)}
		}
		log.InfoContext(ctx, "Studio project created; the job finishes through its callback", "project_id", project)
	}
	g.end(ctx, log, gen, voicehook.GenerationDone, "")
	return voicehook.RunResult{}
}

// produce generates the parts not yet generated, then stores the whole
// voiceover and its captions; on success gen holds them.
func (g *Generator) produce(ctx context.Context, log *slog.Logger, gen *voicehook.Generation) (voicehook.RunResult, error) {
	sc := gen.Script
	texts := elevenlabs.SplitScript(sc.Text, elevenlabs.CharacterLimit(sc.ModelID))
	if len(texts) == 0 {
		return voicehook.RunResult{}, voicehook.Permanent("the script is empty", nil)
	}
	done := map[int]voicehook.GenerationPart{}
	var requestIDs []string
	for _, p := range gen.Parts {
		done[p.Index] = p
	}
	if sc.Sequence != nil {
		prev, err := g.Generations.SequenceBefore(ctx, *sc.Sequence)
		switch {
		case errors.Is(err, voicehook.ErrNotFound):
		case err != nil:
			return voicehook.RunResult{}, err
		case prev.State == voicehook.GenerationQueued:
			log.InfoContext(ctx, "waiting for the previous segment of the sequence", "previous_job", prev.JobID)
			return voicehook.RunResult{Wait: sequenceWait}, nil
		default:
			if info := prev.Info(); info != nil {
				requestIDs = append(requestIDs, info.RequestID)
			}
		}
	}
	for i, text := range texts {
		// A part whose file is gone (another replica generated it, or the
		// data dir was cleaned) is generated again: the only case that pays
		// twice for a part.
		if p, ok := done[i]; ok && fileExists(p.Path) {
			requestIDs = append(requestIDs, p.RequestID)
			continue
		}
		part, res, err := g.speak(ctx, gen.JobID, i, len(texts), text, sc, lastN(requestIDs, 3))
		if err != nil || res.Wait > 0 {
			return res, err
		}
		if err := g.recordPart(ctx, gen.JobID, part); err != nil {
			return voicehook.RunResult{}, fmt.Errorf("recording part %d: %w", i, err)
		}
		gen.Parts = setPart(gen.Parts, part)
		requestIDs = append(requestIDs, part.RequestID)
	}
	return voicehook.RunResult{}, g.store(ctx, gen)
}

// recordPart records a part ElevenLabs has answered. Its audio is paid for
// and on disk here, but a part not recorded is generated again by the next
// attempt: so while the store cannot answer (busy, or stalled past its
// operation deadline) it keeps trying, for as long as the attempt may run.
func (g *Generator) recordPart(ctx context.Context, jobID string, part voicehook.GenerationPart) error {
	delay := 50 * time.Millisecond
	for {
		err := g.Generations.SavePart(ctx, jobID, part)
		if err == nil || !errors.Is(err, voicehook.ErrUnavailable) {
			return err
		}
		g.Logger.WarnContext(ctx, "recording a paid part; trying again", "job_id", jobID, "part", part.Index, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// speak generates part i of n and keeps its audio on disk.
func (g *Generator) speak(ctx context.Context, jobID string, i, n int, text string, sc voicehook.Script, previous []string) (voicehook.GenerationPart, voicehook.RunResult, error) {
	req := elevenlabs.SpeechRequest{VoiceID: sc.VoiceID, OutputFormat: sc.OutputFormat, Text: text, ModelID: sc.ModelID,
		LanguageCode: sc.LanguageCode, VoiceSettings: sc.VoiceSettings, Seed: sc.Seed, PreviousRequestIDs: previous}
	if i == 0 {
		req.PreviousText = sc.PreviousText
	}
	if i == n-1 {
		req.NextText = sc.NextText
	}
	if err := g.Limiter.Acquire(ctx); err != nil {
		return voicehook.GenerationPart{}, voicehook.RunResult{}, err
	}
	started := time.Now()
	tctx, span := tracing.Start(ctx, "elevenlabs.tts", attribute.Int("voicehook.part", i+1), attribute.Int("voicehook.parts", n))
	sp, err := g.TTS.Generate(tctx, req)
	tracing.End(span, err)
	latency := time.Since(started)
	g.Limiter.Release()
	g.Limiter.Observe(sp.MaxConcurrent)
	g.observe(latency, sp.CharacterCost, err)
	var apiErr *elevenlabs.APIError
	if errors.As(err, &apiErr) && apiErr.RateLimited() {
		// Over the plan's concurrency, or ElevenLabs is busy: wait and try
		// again without counting an attempt.
		wait := max(apiErr.RetryAfter, time.Second) + rand.N(2*time.Second)
		return voicehook.GenerationPart{}, voicehook.RunResult{Wait: wait}, nil
	}
	if err != nil {
		return voicehook.GenerationPart{}, voicehook.RunResult{}, fmt.Errorf("text to speech, part %d of %d: %w", i+1, n, err)
	}
	dir := filepath.Join(g.PartsDir, safeName(jobID))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return voicehook.GenerationPart{}, voicehook.RunResult{}, fmt.Errorf("creating parts dir: %w", err)
	}
	f, err := fetch.Save(bytes.NewReader(sp.Audio), dir, g.MaxAudioBytes)
	if err != nil {
		// ElevenLabs answered something that is not audio: a glitch worth
		// one more try, bounded by the attempts.
		return voicehook.GenerationPart{}, voicehook.RunResult{}, fmt.Errorf("part %d of %d: %w", i+1, n, transient(err))
	}
	if f.Format != fetch.FormatMP3 {
		os.Remove(f.Path)
		return voicehook.GenerationPart{}, voicehook.RunResult{}, voicehook.Permanent("generated audio is "+f.Format+", not MP3; use an mp3_* output_format", nil)
	}
	if err := syncFile(f.Path); err != nil {
		return voicehook.GenerationPart{}, voicehook.RunResult{}, err
	}
	part := voicehook.GenerationPart{Index: i, RequestID: sp.RequestID, Characters: sp.CharacterCost, Path: f.Path,
		SHA256: f.SHA256, Bytes: f.Bytes, DurationMS: f.DurationMS, Latency: latency.Seconds()}
	if a := sp.Alignment; a != nil {
		cues, err := captions.Words(a.Characters, a.Start, a.End)
		if err != nil {
			return voicehook.GenerationPart{}, voicehook.RunResult{}, fmt.Errorf("part %d alignment: %w", i+1, transient(err))
		}
		part.Cues = cues
	}
	return part, voicehook.RunResult{}, nil
}

// store joins the parts, stores the voiceover and its captions, and
// records that they are stored.
func (g *Generator) store(ctx context.Context, gen *voicehook.Generation) error {
	datas := make([][]byte, len(gen.Parts))
	for i, p := range gen.Parts {
		b, err := os.ReadFile(p.Path)
		if err != nil {
			// The part's file is gone (the data dir was cleaned): it must
			// be generated again.
			return fmt.Errorf("reading part %d: %w", p.Index+1, err)
		}
		datas[i] = b
	}
	joined, durations, err := fetch.ConcatMP3(datas)
	if err != nil {
		return voicehook.Permanent("joining the generated parts", err)
	}
	var cues []voicehook.Cue
	var offset time.Duration
	for i, p := range gen.Parts {
		cues = append(cues, captions.Offset(p.Cues, offset)...)
		offset += durations[i]
	}
	dir := filepath.Join(g.PartsDir, safeName(gen.JobID))
	f, err := fetch.Save(bytes.NewReader(joined), dir, g.MaxAudioBytes)
	if err != nil {
		return fmt.Errorf("checking the joined voiceover: %w", err)
	}
	defer removeQuietly(f.Path)
	audio, err := putStorage(ctx, g.Storage, voicehook.AudioObject{Key: voicehook.AudioKey(gen.SegmentID, f.SHA256, f.Format), Path: f.Path,
		ContentType: f.ContentType, SHA256: f.SHA256, Bytes: f.Bytes, DurationMS: f.DurationMS, Temporary: true})
	if err != nil {
		return fmt.Errorf("storing audio: %w", err)
	}
	var vtt strings.Builder
	if err := captions.WriteVTT(&vtt, cues); err != nil {
		return voicehook.Permanent("writing captions", err)
	}
	capURL, err := g.putText(ctx, dir, voicehook.AudioKey(gen.SegmentID, f.SHA256, "vtt") /* beside the audio it captions */, vtt.String())
	if err != nil {
		return fmt.Errorf("storing captions: %w", err)
	}
	if err := g.Generations.SaveStored(ctx, gen.JobID, audio, capURL, cues); err != nil {
		return fmt.Errorf("recording the stored voiceover: %w", err)
	}
	gen.Audio, gen.Captions, gen.Cues, gen.State = &audio, capURL, cues, voicehook.GenerationStored
	return nil
}

// putText stores a small text object (captions) through Storage.
func (g *Generator) putText(ctx context.Context, dir, key, text string) (string, error) {
	tmp, err := os.CreateTemp(dir, "captions-*")
	if err != nil {
		return "", err
	}
	defer removeQuietly(tmp.Name())
	_, werr := tmp.WriteString(text)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", werr
	}
	sum := sha256.Sum256([]byte(text))
	st, err := putStorage(ctx, g.Storage, voicehook.AudioObject{Key: key, Path: tmp.Name(), ContentType: voicehook.ContentTypeOf(key),
		SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(text))})
	return st.URL, err
}

// fail fails the job with ElevenLabs' own message and ends the generation.
func (g *Generator) fail(ctx context.Context, log *slog.Logger, gen voicehook.Generation, job voicehook.Job, cause error) voicehook.RunResult {
	reason := cause.Error()
	if err := finishJob(ctx, g.Records, job, voicehook.Failed(reason, g.Clock.Now().UTC())); err != nil {
		return voicehook.RunResult{Retry: fmt.Errorf("failing job: %w", err)}
	}
	g.end(ctx, log, gen, voicehook.GenerationFailed, reason)
	log.ErrorContext(ctx, "generation failed", "reason", reason)
	return voicehook.RunResult{}
}

// end records the generation's end and drops its parts.
func (g *Generator) end(ctx context.Context, log *slog.Logger, gen voicehook.Generation, state voicehook.GenerationState, reason string) {
	if err := g.Generations.EndGeneration(ctx, gen.JobID, state, reason); err != nil {
		log.WarnContext(ctx, "recording the generation's end", "err", err)
		return
	}
	if g.Metrics != nil {
		outcome := "completed"
		switch {
		case state == voicehook.GenerationFailed:
			outcome = "failed"
		case gen.Script.Studio:
			outcome = "studio_submitted" // the job completes through Studio's callback
		}
		g.Metrics.Generations.WithLabelValues(outcome).Inc()
	}
	_ = os.RemoveAll(filepath.Join(g.PartsDir, safeName(gen.JobID)))
}

func (g *Generator) observe(latency time.Duration, chars int, err error) {
	if g.Metrics == nil {
		return
	}
	var apiErr *elevenlabs.APIError
	result := "ok"
	switch {
	case errors.As(err, &apiErr) && apiErr.RateLimited():
		result = "rate_limited"
	case voicehook.IsPermanent(err):
		result = "permanent_error"
	case err != nil:
		result = "transient_error"
	}
	g.Metrics.GenerationCalls.WithLabelValues(result).Inc()
	g.Metrics.ElevenLabsSeconds.Observe(latency.Seconds())
	g.Metrics.Characters.Add(float64(chars))
}

// transient strips the permanence from err: what ElevenLabs answered may be
// better on the next try.
func transient(err error) error {
	var pe *voicehook.PermanentError
	if errors.As(err, &pe) {
		return errors.New(pe.Error())
	}
	return err
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// setPart puts part at its index in parts, replacing one of the same index.
func setPart(parts []voicehook.GenerationPart, part voicehook.GenerationPart) []voicehook.GenerationPart {
	for i, p := range parts {
		if p.Index == part.Index {
			parts[i] = part
			return parts
		}
	}
	parts = append(parts, part)
	slices.SortFunc(parts, func(a, b voicehook.GenerationPart) int { return a.Index - b.Index })
	return parts
}

func lastN(ids []string, n int) []string {
	if len(ids) > n {
		return ids[len(ids)-n:]
	}
	return ids
}

// safeName makes an id a plain file name.
func safeName(id string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == '.' {
			return '_'
		}
		return r
	}, id)
}
