package process

// Voiceover QA: once a job whose script is known has its voiceover stored,
// a QA check is queued (QueueQA, before the records move, so a crash
// between the two cannot lose it). The Checker waits for the job to
// complete, then asks ElevenLabs speech to text for a transcript:
//
//   - with --qa-mode webhook (the default) the request carries the job and
//     segment ids as webhook_metadata and the answer only a request id; the
//     transcript arrives later on the webhook as a speech_to_text_transcription
//     event, which the Processor hands to Receive;
//   - with --qa-mode sync the answer is the transcript itself.
//
// Either way the transcript is compared with the script (package qa) and
// the verdict saved once: a check only moves forward, so a transcript
// delivered twice or a retried request leaves one verdict. QA never
// changes a job or its voiceover.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/metrics"
	"github.com/voicehook/voicehook/internal/tracing"
	"github.com/voicehook/voicehook/qa"
)

// Transcriber is ElevenLabs speech to text (elevenlabs.STT).
type Transcriber interface {
	Transcribe(ctx context.Context, req elevenlabs.TranscribeRequest) (elevenlabs.TranscribeResult, error)
}

// Checker runs QA checks.
type Checker struct {
	QA      voicehook.QAChecks
	Records voicehook.Records
	// Shown, if set, shows each verdict in the records themselves
	// (Airtable's optional QA fields).
	Shown voicehook.QARecords
	STT   Transcriber
	// Audio reads back stored voiceovers whose URL speech to text cannot
	// fetch itself (nil: only public HTTPS URLs can be checked).
	Audio voicehook.AudioReader
	// Sync asks for the transcript in the answer instead of on the
	// webhook (--qa-mode sync).
	Sync   bool
	Model  string
	MaxWER float64
	// JobWait is how long a check waits for its job to complete before
	// giving up (default 10 minutes).
	JobWait time.Duration
	Clock   voicehook.Clock
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Tracing, if on, makes each check attempt a trace of its own; nil is
	// off. (A transcript's event runs in its own delivery's trace.)
	Tracing *tracing.Tracing
}

var _ voicehook.QAChecker = (*Checker)(nil)

// errNoCheck means no QA check matches a transcript yet: the event waits
// within the grace, as an event whose job is not recorded yet does.
var errNoCheck = errors.New("no QA check matches the transcript")

// jobPoll is how often a check looks again for its job's completion: the
// check is queued just before the records move, so it is normally one look.
const jobPoll = time.Second

// QueueQA queues the check of a stored voiceover before the records move:
// script is the generated text, or "" for a callback job (checked only if
// created with its text). Safe to repeat.
func (c *Checker) QueueQA(ctx context.Context, job voicehook.Job, script string, audio voicehook.StoredAudio) error {
	if c == nil {
		return nil
	}
	if _, err := c.QA.QueueQA(ctx, job, script, audio); err != nil {
		return fmt.Errorf("queueing voiceover QA: %w", err)
	}
	return nil
}

// Check runs one attempt of a job's QA check.
func (c *Checker) Check(ctx context.Context, run voicehook.QARun) voicehook.RunResult {
	if !c.Tracing.On() {
		return c.check(ctx, run)
	}
	ctx, span := c.Tracing.StartRoot(ctx, "qa.check", trace.WithAttributes(
		attribute.String("voicehook.job_id", run.JobID), attribute.Int("voicehook.attempt", run.Attempt)))
	res := c.check(ctx, run)
	endRun(span, res)
	return res
}

func (c *Checker) check(ctx context.Context, run voicehook.QARun) voicehook.RunResult {
	log := c.Logger.With("job_id", run.JobID, "attempt", run.Attempt)
	chk, err := c.QA.QA(ctx, run.JobID)
	if errors.Is(err, voicehook.ErrNotFound) {
		log.ErrorContext(ctx, "queued QA check is not in the store", "err", err)
		return voicehook.RunResult{}
	}
	if err != nil {
		return voicehook.RunResult{Retry: err}
	}
	log = log.With("segment_id", chk.SegmentID)
	switch {
	case chk.State.Final():
		// A retry after the verdict was saved: make sure the records show
		// it (their write may be what failed).
		if err := c.showInRecords(ctx, chk); err != nil && !voicehook.IsPermanent(err) {
			return voicehook.RunResult{Retry: err}
		} else if err != nil {
			refusedByRecords(ctx, log, err)
		}
		return voicehook.RunResult{}
	case chk.State != voicehook.QAQueued:
		return voicehook.RunResult{} // submitted: the webhook brings the transcript
	}
	job, err := readJob(ctx, c.Records, run.JobID)
	if err != nil {
		return voicehook.RunResult{Retry: fmt.Errorf("reading job: %w", err)}
	}
	switch job.Status {
	case voicehook.JobProcessing:
		if c.Clock.Now().Sub(chk.Created) < c.jobWait() {
			return voicehook.RunResult{Wait: jobPoll}
		}
		chk.State, chk.Notes = voicehook.QACancelled, fmt.Sprintf("job still processing after %s; nothing checked", c.jobWait())
		return c.save(ctx, log, chk)
	case voicehook.JobFailed:
		chk.State, chk.Notes = voicehook.QACancelled, "job failed: there is no voiceover to check"
		return c.save(ctx, log, chk)
	}

	res, err := c.submit(ctx, chk)
	switch {
	case voicehook.IsPermanent(err):
		c.count("permanent_error")
		chk.State, chk.Notes = voicehook.QAErrored, "speech to text refused the voiceover: "+err.Error()
		return c.save(ctx, log, chk)
	case err != nil && run.Attempt >= run.MaxAttempts:
		c.count("transient_error")
		chk.State, chk.Notes = voicehook.QAErrored, fmt.Sprintf("speech to text failed %d times: %v", run.Attempt, err)
		return c.save(ctx, log, chk)
	case err != nil:
		c.count("transient_error")
		log.WarnContext(ctx, "speech to text failed; will retry", "err", err)
		return voicehook.RunResult{Retry: err}
	}
	c.count("ok")
	chk.RequestID = res.RequestID
	if res.Transcript != nil {
		return c.save(ctx, log, c.verdict(chk, *res.Transcript))
	}
	chk.State, chk.Notes = voicehook.QASubmitted, "transcription requested; waiting for the speech-to-text webhook"
	if err := c.QA.SaveQA(ctx, chk); err != nil && !errors.Is(err, voicehook.ErrFinished) {
		// Retrying asks for the transcript again (billed again); the first
		// one, if it comes, still matches by its metadata.
		return voicehook.RunResult{Retry: fmt.Errorf("recording the speech-to-text request: %w", err)}
	}
	log.InfoContext(ctx, "transcription requested", "request_id", res.RequestID)
	return voicehook.RunResult{}
}

func (c *Checker) jobWait() time.Duration {
	if c.JobWait > 0 {
		return c.JobWait
	}
	return 10 * time.Minute
}

func (c *Checker) count(result string) {
	if c.Metrics != nil {
		c.Metrics.QARequests.WithLabelValues(result).Inc()
	}
}

// submit asks speech to text for the transcript of the check's voiceover:
// by URL when speech to text can fetch it, else with the file itself.
func (c *Checker) submit(ctx context.Context, chk voicehook.QACheck) (elevenlabs.TranscribeResult, error) {
	if chk.Audio == nil {
		return elevenlabs.TranscribeResult{}, voicehook.Permanent("the check names no stored voiceover", nil)
	}
	req := elevenlabs.TranscribeRequest{ModelID: c.Model, Webhook: !c.Sync}
	if !c.Sync {
		// What the webhook's transcript is matched by.
		req.WebhookMetadata = map[string]string{"job_id": chk.JobID, "segment_id": chk.SegmentID}
	}
	if fetch.PublicHTTPS(chk.Audio.URL) {
		req.CloudStorageURL = chk.Audio.URL
		return c.transcribe(ctx, req)
	}
	if c.Audio == nil {
		return elevenlabs.TranscribeResult{}, voicehook.Permanent(
			"the voiceover's URL is not public HTTPS and this storage cannot read it back to upload it", nil)
	}
	rctx, span := tracing.Start(ctx, "storage.read", attribute.String("voicehook.key", chk.Audio.Key))
	f, err := c.Audio.OpenAudio(rctx, chk.Audio.Key)
	tracing.End(span, err)
	if errors.Is(err, voicehook.ErrNotFound) {
		return elevenlabs.TranscribeResult{}, voicehook.Permanent("the stored voiceover is gone", err)
	}
	if err != nil {
		return elevenlabs.TranscribeResult{}, fmt.Errorf("reading the voiceover back: %w", err)
	}
	defer f.Close()
	req.File, req.FileName, req.ContentType = io.Reader(f), path.Base(chk.Audio.Key), chk.Audio.ContentType
	return c.transcribe(ctx, req)
}

func (c *Checker) transcribe(ctx context.Context, req elevenlabs.TranscribeRequest) (elevenlabs.TranscribeResult, error) {
	ctx, span := tracing.Start(ctx, "elevenlabs.stt", attribute.Bool("voicehook.stt.webhook", req.Webhook))
	res, err := c.STT.Transcribe(ctx, req)
	tracing.End(span, err)
	return res, err
}

// maxAlignCells bounds the word alignment's table (one byte a cell): a
// script of about 7,000 words against its transcript.
const maxAlignCells = 50_000_000

// verdict compares the transcript with the script.
func (c *Checker) verdict(chk voicehook.QACheck, t voicehook.Transcript) voicehook.QACheck {
	if n := len(qa.Normalize(chk.Script)); n*len(t.Words) > maxAlignCells {
		chk.State, chk.Status, chk.Transcript = voicehook.QAErrored, voicehook.QAUnchecked, &t
		chk.Notes = fmt.Sprintf("the script (%d words) is too long to compare word by word; split it into shorter segments", n)
		return chk
	}
	result, passed := qa.Compare(chk.Script, t.Words, c.MaxWER)
	if len(t.Words) == 0 && t.Text != "" {
		// A transcript without word timings still has its text.
		result, passed = qa.Compare(chk.Script, []voicehook.TranscriptWord{{Text: t.Text, Type: "word"}}, c.MaxWER)
	}
	chk.State, chk.Transcript, chk.Result = voicehook.QAChecked, &t, &result
	chk.Status = voicehook.QAFlagged
	if passed {
		chk.Status = voicehook.QAPassed
	}
	chk.Notes = fmt.Sprintf("WER %.3f (%d of %d words differ; limit %.3f)", result.WER, len(result.Differences), result.ScriptWords, c.MaxWER)
	return chk
}

// save stores a check's new state; a final one is also counted and shown in
// the records.
func (c *Checker) save(ctx context.Context, log *slog.Logger, chk voicehook.QACheck) voicehook.RunResult {
	if err := c.QA.SaveQA(ctx, chk); err != nil {
		if errors.Is(err, voicehook.ErrFinished) {
			return voicehook.RunResult{}
		}
		return voicehook.RunResult{Retry: fmt.Errorf("saving QA check: %w", err)}
	}
	c.finished(ctx, log, chk)
	if err := c.showInRecords(ctx, chk); err != nil && !voicehook.IsPermanent(err) {
		return voicehook.RunResult{Retry: err}
	} else if err != nil {
		refusedByRecords(ctx, log, err)
	}
	return voicehook.RunResult{}
}

// refusedByRecords is the note for records that refuse the QA fields for
// good (a field missing, a select option not allowed): the verdict stands
// in voicehook, and retrying cannot help.
func refusedByRecords(ctx context.Context, log *slog.Logger, err error) string {
	log.ErrorContext(ctx, "the records refuse the QA fields; the verdict is kept in voicehook only", "err", err)
	return "; the records refused the QA fields: " + err.Error()
}

// finished counts and logs a check that just got its final state.
func (c *Checker) finished(ctx context.Context, log *slog.Logger, chk voicehook.QACheck) {
	if chk.State == voicehook.QACancelled {
		log.InfoContext(ctx, "QA check cancelled", "reason", chk.Notes)
		return
	}
	status := chk.Status
	if chk.State == voicehook.QAErrored {
		status = voicehook.QAUnchecked
	}
	if c.Metrics != nil {
		c.Metrics.QAOutcomes.WithLabelValues(string(status)).Inc()
		if chk.Result != nil {
			c.Metrics.QAWER.Observe(chk.Result.WER)
		}
	}
	switch status {
	case voicehook.QAFlagged:
		log.WarnContext(ctx, "voiceover QA flagged", "notes", chk.Notes, "request_id", chk.RequestID)
	case voicehook.QAPassed:
		log.InfoContext(ctx, "voiceover QA passed", "notes", chk.Notes)
	default:
		log.WarnContext(ctx, "voiceover QA unchecked", "notes", chk.Notes)
	}
}

// showInRecords writes a final check into records that show QA themselves
// (Airtable's optional fields).
func (c *Checker) showInRecords(ctx context.Context, chk voicehook.QACheck) error {
	if c.Shown == nil || chk.State == voicehook.QACancelled {
		return nil
	}
	ctx, span := tracing.Start(ctx, "records.segment_qa")
	err := c.Shown.SetSegmentQA(ctx, chk.SegmentID, chk)
	tracing.End(span, err)
	if err != nil {
		return fmt.Errorf("writing QA to the records: %w", err)
	}
	return nil
}

// Receive handles a speech_to_text_transcription event: it finds the check
// the transcript answers (by the job id in its metadata, then by request
// id) and saves the verdict. errNoCheck (wrapped) means no check matches
// yet.
func (c *Checker) Receive(ctx context.Context, eventID string, tr voicehook.Transcription) (voicehook.EventFinish, error) {
	chk, err := c.match(ctx, tr)
	if err != nil {
		return voicehook.EventFinish{}, err
	}
	log := c.Logger.With("event_id", eventID, "job_id", chk.JobID, "segment_id", chk.SegmentID)
	if !chk.State.Final() && chk.State != voicehook.QAQueued && chk.State != voicehook.QASubmitted {
		return voicehook.EventFinish{}, fmt.Errorf("%w: the check of job %s is %s", errNoCheck, chk.JobID, chk.State)
	}
	if !chk.State.Final() {
		v := c.verdict(chk, tr.Transcript)
		v.EventID = eventID
		if tr.RequestID != "" {
			v.RequestID = tr.RequestID
		}
		err := c.QA.SaveQA(ctx, v)
		switch {
		case err == nil:
			c.finished(ctx, log, v)
			chk = v
		case errors.Is(err, voicehook.ErrFinished):
			if chk, err = c.QA.QA(ctx, chk.JobID); err != nil {
				return voicehook.EventFinish{}, fmt.Errorf("reading QA check: %w", err)
			}
		default:
			return voicehook.EventFinish{}, fmt.Errorf("saving QA check: %w", err)
		}
	}
	if chk.EventID != eventID {
		return voicehook.EventFinish{Status: voicehook.EventIgnored, RelatedJob: chk.JobID,
			ErrorDetails: fmt.Sprintf("QA check of job %s already has its verdict (%s, from event %s); a repeated transcript changes nothing",
				chk.JobID, chk.Status, chk.EventID)}, nil
	}
	details := "QA " + string(chk.Status) + ": " + chk.Notes
	if err := c.showInRecords(ctx, chk); err != nil && !voicehook.IsPermanent(err) {
		return voicehook.EventFinish{}, err
	} else if err != nil {
		details += refusedByRecords(ctx, log, err)
	}
	return voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: chk.JobID, ErrorDetails: details}, nil
}

func (c *Checker) match(ctx context.Context, tr voicehook.Transcription) (voicehook.QACheck, error) {
	if jobID := tr.Metadata["job_id"]; jobID != "" {
		chk, err := c.QA.QA(ctx, jobID)
		switch {
		case err == nil && (tr.Metadata["segment_id"] == "" || tr.Metadata["segment_id"] == chk.SegmentID):
			return chk, nil
		case err != nil && !errors.Is(err, voicehook.ErrNotFound):
			return chk, fmt.Errorf("finding QA check: %w", err)
		}
	}
	chk, err := c.QA.QAByRequest(ctx, tr.RequestID)
	if errors.Is(err, voicehook.ErrNotFound) {
		return chk, fmt.Errorf("%w: none for speech-to-text request %q (metadata %v)", errNoCheck, tr.RequestID, tr.Metadata)
	}
	if err != nil {
		return chk, fmt.Errorf("finding QA check: %w", err)
	}
	return chk, nil
}
