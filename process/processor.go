// Package process turns a stored webhook event into its effect: it matches
// the event to its job, obtains and verifies the audio, stores it, and moves
// the job and segment to their final state.
//
// Design: every step is safe to repeat, because a crash can stop the
// process between any two of them and River runs the event again.
//   - Audio is stored under a key derived from the segment and the audio's
//     hash, so storing it again writes the same object.
//   - Before the records change, the event claims the job (a unique row in
//     the store). Only the claiming event changes the job and segment, so a
//     duplicate, a late event or a second replica never moves them twice;
//     and on a re-run the claimant finishes what it started.
//   - Records never move a finished job (CompleteJob/FailJob are
//     conditional), which is a second guard for the same rule.
package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/metrics"
	"github.com/voicehook/voicehook/internal/tracing"
)

// Processor runs one processing attempt of an event.
type Processor struct {
	Claims voicehook.Claims
	// Resolver ends an attempt that resolves a job: the SQL store itself
	// when it holds the records, else a StepResolver over Claims and
	// Records.
	Resolver voicehook.Resolver
	Records  voicehook.Records
	// Mirror, if set, receives every event that finishes (Airtable's
	// "Webhook Events" table).
	Mirror  voicehook.EventMirror
	Storage voicehook.Storage
	Fetcher *fetch.Fetcher
	Studio  *elevenlabs.Studio
	// Spool holds long calls' audio that the webhook spooled (nil: none).
	Spool voicehook.Spool
	// Voices, if set, records voice removal notices, which mark the
	// segments voiced with the voice.
	Voices voicehook.VoiceNotices
	// QA, if set (--qa stt), queues the check of every stored voiceover
	// whose script is known and receives speech-to-text transcripts.
	QA *Checker
	// Grace is how long an event with no matching job keeps waiting for
	// one: the callback often races the job's creation.
	Grace time.Duration
	// Waits, if set, parks such an event until its job is created or its
	// grace runs out (voicehook.Waits); nil polls for the job instead,
	// snoozing the queue job with a growing delay.
	Waits voicehook.Waits
	// MaxAudioBytes caps inline and streamed audio as Fetcher caps
	// downloads.
	MaxAudioBytes int64
	TempDir       string
	Clock         voicehook.Clock
	Logger        *slog.Logger
	Metrics       *metrics.Metrics
	// Tracing, if on, runs each attempt as a span of its event's trace
	// (trace.go); nil is off.
	Tracing *tracing.Tracing
}

// errNoJob means no job matches yet; the event waits within the grace.
var errNoJob = errors.New("no matching voiceover job")

var _ voicehook.EventProcessor = (*Processor)(nil)

// Process runs one attempt of an event and records it.
func (p *Processor) Process(ctx context.Context, run voicehook.Run) voicehook.RunResult {
	started := p.Clock.Now()
	log := p.Logger.With("event_id", run.EventID, "attempt", run.Attempt)
	ev, err := p.Claims.Event(ctx, run.EventID)
	if err != nil {
		if errors.Is(err, voicehook.ErrNotFound) {
			log.ErrorContext(ctx, "queued event is not in the store", "err", err)
			return voicehook.RunResult{}
		}
		return voicehook.RunResult{Retry: err}
	}
	if ev.Status != voicehook.EventReceived {
		// A finished event (a second queue job for it, or a replay that
		// raced): nothing to do.
		return voicehook.RunResult{}
	}
	log = log.With("segment_id", ev.SegmentID)
	ctx, span := p.startAttempt(ctx, ev, run)
	st := step{p: p, ev: ev, log: log, started: started}
	fin, res := st.run(ctx)

	outcome, errText := voicehook.OutcomeOf(fin.Status), fin.ErrorDetails
	switch {
	case st.park != nil:
		outcome, errText = voicehook.AttemptWaiting, fmt.Sprintf("waiting for a job for %s since %s (up to --job-match-grace %s)",
			st.query, ev.ReceivedAt.UTC().Format(time.RFC3339), p.Grace)
	case res.Wait > 0:
		outcome, errText = voicehook.AttemptWaiting, "no matching job yet"
	case res.Retry != nil:
		errText = res.Retry.Error()
		if run.Attempt >= run.MaxAttempts {
			fin = voicehook.EventFinish{Status: voicehook.EventDead, RelatedJob: st.job.ID,
				ErrorDetails: fmt.Sprintf("gave up after %d attempts: %v", run.Attempt, res.Retry)}
			outcome, res = voicehook.AttemptDead, voicehook.RunResult{}
		} else {
			outcome = voicehook.AttemptRetry
		}
	}
	log = log.With("job_id", st.job.ID)
	attempt := voicehook.Attempt{EventID: ev.ID, StartedAt: started, FinishedAt: p.Clock.Now(), Outcome: outcome, Error: errText}
	var finish *voicehook.EventFinish
	if fin.Status != "" {
		finish = &fin
	}
	// (When st.recorded, the Resolver stored the attempt with the job's
	// move.)
	if st.park != nil {
		if res = st.parkEvent(ctx, attempt); res.Retry != nil {
			outcome, errText = voicehook.AttemptRetry, res.Retry.Error()
		}
	} else if !st.recorded {
		if err := p.Claims.RecordAttempt(ctx, attempt, finish); err != nil {
			if finish == nil {
				log.WarnContext(ctx, "recording attempt", "err", err)
			} else {
				// The records may already have changed; running again
				// finishes the event through its claim.
				err = fmt.Errorf("finishing event: %w", err)
				endAttempt(span, voicehook.AttemptRetry, st.job.ID, err.Error())
				return voicehook.RunResult{Retry: err}
			}
		}
	}
	if p.Mirror != nil && finish != nil {
		if ev2, err := p.Claims.Event(ctx, ev.ID); err == nil {
			mctx, mspan := tracing.Start(ctx, "records.mirror_event")
			err := p.Mirror.MirrorEvent(mctx, ev2)
			tracing.End(mspan, err)
			if err != nil {
				log.WarnContext(ctx, "mirroring event", "err", err)
			}
		}
	}
	if p.Metrics != nil {
		p.Metrics.Outcomes.WithLabelValues(string(outcome)).Inc()
		p.Metrics.ProcessingSeconds.Observe(p.Clock.Now().Sub(started).Seconds())
	}
	switch outcome {
	case voicehook.AttemptRetry:
		log.WarnContext(ctx, "processing failed; will retry", "err", res.Retry)
	case voicehook.AttemptWaiting:
		log.InfoContext(ctx, "no matching job yet; waiting", "for", st.query.String(), "grace_left", p.Grace-p.Clock.Now().Sub(ev.ReceivedAt))
	case voicehook.AttemptDead, voicehook.AttemptFailed:
		log.ErrorContext(ctx, "event "+string(outcome), "reason", errText)
	default:
		log.InfoContext(ctx, "event "+string(outcome), "details", errText)
	}
	endAttempt(span, outcome, st.job.ID, errText)
	return res
}

// step carries one attempt's state.
type step struct {
	p       *Processor
	ev      voicehook.Event
	job     voicehook.Job
	spooled bool // the audio came from the spool (audio.go)
	log     *slog.Logger
	started time.Time
	// recorded: the attempt and the event's finish are already stored
	// (with the job's move, by the Resolver).
	recorded bool
	// query is what the event looks for its job by; park, when set, the
	// keys it waits on because none matches yet.
	query voicehook.JobQuery
	park  []string
}

func done(status voicehook.EventStatus, details string) (voicehook.EventFinish, voicehook.RunResult) {
	return voicehook.EventFinish{Status: status, ErrorDetails: details}, voicehook.RunResult{}
}

func (s *step) run(ctx context.Context) (voicehook.EventFinish, voicehook.RunResult) {
	parsed, err := elevenlabs.Parse(s.ev.RawPayload, s.ev.SegmentID)
	if err != nil {
		// Only a body that is not JSON; err says "malformed payload: …".
		return done(voicehook.EventFailed, err.Error())
	}
	out := parsed.Outcome
	if out.VoiceID != "" {
		return s.noteVoice(ctx, out)
	}
	switch out.Kind {
	case voicehook.OutcomeTranscript:
		return s.transcript(ctx, out)
	case voicehook.OutcomeIgnored:
		return done(voicehook.EventIgnored, out.Message)
	case voicehook.OutcomeProgress:
		return done(voicehook.EventIgnored, "progress: "+out.Message+" (nothing changes)")
	}

	job, err := s.match(ctx, out)
	if errors.Is(err, errNoJob) {
		if reason := unclaimable(out); reason != "" {
			// Not ours: a long call's spooled audio would otherwise stay
			// until retention (forever without it), for every agent.
			s.spooled = out.Audio.Spooled
			s.dropSpooled(ctx)
			return done(voicehook.EventIgnored, reason)
		}
		return s.waitOrGiveUp(err)
	}
	if voicehook.IsPermanent(err) {
		// The records refuse for good (a renamed table, a missing scope):
		// no retry can find the job.
		return done(voicehook.EventFailed, err.Error())
	}
	if err != nil {
		return voicehook.EventFinish{}, voicehook.RunResult{Retry: err}
	}
	s.job = job

	if out.Chapter && (out.ChapterID == "" || job.ExternalID != out.ChapterID) {
		// /convert converts the project and each of its chapters, and
		// every chapter reports to the same callback: the project's job
		// ends with the project's event.
		return voicehook.EventFinish{Status: voicehook.EventIgnored, RelatedJob: job.ID,
			ErrorDetails: fmt.Sprintf("progress: chapter %q conversion %s; job %s waits for its project's event (it was not created for this chapter)",
				out.ChapterID, chapterState(out), job.ID)}, voicehook.RunResult{}
	}
	if job.Status != voicehook.JobProcessing {
		return s.finishedJob(ctx)
	}
	if out.Kind == voicehook.OutcomeFailed {
		return s.fail(ctx, out.Message, voicehook.EventFailed)
	}
	audio, err := s.obtainAndStore(ctx, out.Audio)
	if voicehook.IsPermanent(err) {
		return s.fail(ctx, err.Error(), voicehook.EventFailed)
	}
	if err != nil {
		return voicehook.EventFinish{}, voicehook.RunResult{Retry: err}
	}
	// Queued before the records move, so a crash between the two cannot
	// leave a completed voiceover unchecked.
	if err := s.p.QA.QueueQA(ctx, s.job, "", audio); err != nil {
		return voicehook.EventFinish{}, voicehook.RunResult{Retry: err}
	}
	return s.complete(ctx, audio)
}

// transcript hands a speech-to-text transcript to QA; it changes no job.
func (s *step) transcript(ctx context.Context, out voicehook.Outcome) (voicehook.EventFinish, voicehook.RunResult) {
	if s.p.QA == nil {
		return done(voicehook.EventIgnored, "speech-to-text transcript: voiceover QA is off (--qa stt turns it on)")
	}
	fin, err := s.p.QA.Receive(ctx, s.ev.ID, *out.Transcription)
	if errors.Is(err, errNoCheck) {
		return s.waitOrGiveUp(err)
	}
	if err != nil {
		return voicehook.EventFinish{}, voicehook.RunResult{Retry: err}
	}
	return fin, voicehook.RunResult{}
}

func (s *step) match(ctx context.Context, out voicehook.Outcome) (voicehook.Job, error) {
	if out.SegmentID == "" && len(out.ExternalIDs) == 0 {
		return voicehook.Job{}, fmt.Errorf("%w: the callback names no segment (segment_id) and no id a job could hold", errNoJob)
	}
	fctx, span := tracing.Start(ctx, "records.find_job")
	q := voicehook.JobQuery{SegmentID: out.SegmentID, ExternalIDs: out.ExternalIDs}
	s.query = q
	job, err := s.p.Records.FindJob(fctx, q)
	tracing.End(span, ignoreNotFound(err))
	if errors.Is(err, voicehook.ErrNotFound) {
		return job, fmt.Errorf("%w for %s", errNoJob, q)
	}
	if err != nil {
		return job, fmt.Errorf("finding job: %w", err)
	}
	return job, nil
}

// unclaimable says why an event no job matches will never be claimed, or ""
// if one may still be created for it. Audio webhooks fire for every agent of
// the workspace: a post_call_audio that names no segment, and whose
// conversation and agent ids no job names (FindJob by the ids found none),
// belongs to someone else's agent.
func unclaimable(out voicehook.Outcome) string {
	if out.SegmentID != "" || !strings.EqualFold(out.EventType, elevenlabs.TypePostCallAudio) {
		return ""
	}
	return fmt.Sprintf("post_call_audio of ids %v: the delivery names no segment and no job names these ids (audio webhooks fire for every agent of the workspace)", out.ExternalIDs)
}

func chapterState(out voicehook.Outcome) string {
	switch out.Kind {
	case voicehook.OutcomeCompleted:
		return "succeeded"
	case voicehook.OutcomeFailed:
		return "failed: " + out.Message
	}
	return out.Message
}

// noteVoice records a voice notice, which marks the segments voiced with
// the voice; the event itself changes no job.
func (s *step) noteVoice(ctx context.Context, out voicehook.Outcome) (voicehook.EventFinish, voicehook.RunResult) {
	if s.p.Voices == nil {
		return done(voicehook.EventIgnored, out.Message)
	}
	n := voicehook.VoiceNotice{VoiceID: out.VoiceID, Kind: strings.ToLower(out.EventType), EventID: s.ev.ID, At: s.ev.ReceivedAt}
	segments, err := s.p.Voices.NoteVoice(ctx, n)
	if err != nil {
		return voicehook.EventFinish{}, voicehook.RunResult{Retry: fmt.Errorf("recording the notice on voice %s: %w", out.VoiceID, err)}
	}
	return done(voicehook.EventIgnored, fmt.Sprintf("%s (%d segment(s) voiced with it)", out.Message, segments))
}

func (s *step) waitOrGiveUp(err error) (voicehook.EventFinish, voicehook.RunResult) {
	waited := s.p.Clock.Now().Sub(s.ev.ReceivedAt)
	if keys := voicehook.WaitKeys(s.query); waited < s.p.Grace && s.p.Waits != nil && len(keys) > 0 {
		// (A transcript waits for its QA check, which no key names: it
		// polls as below.)
		s.park = keys
		return voicehook.EventFinish{}, voicehook.RunResult{}
	}
	if waited < s.p.Grace {
		// Wait a little longer each time: 1s, 2s, 4s … up to 30s.
		return voicehook.EventFinish{}, voicehook.RunResult{Wait: min(max(waited/4, time.Second), 30*time.Second, s.p.Grace-waited)}
	}
	return done(voicehook.EventFailed, fmt.Sprintf("%v after waiting %s (--job-match-grace)", err, s.p.Grace))
}

// parkEvent parks the event on its keys with a as its attempt. A job
// created between the event's look for it and the park would wake nothing
// (the wake found no wait yet), so it looks once more after the park has
// committed: whichever of the two came second sees the other.
func (s *step) parkEvent(ctx context.Context, a voicehook.Attempt) voicehook.RunResult {
	if err := s.p.Waits.Park(ctx, a, s.park, s.ev.ReceivedAt.Add(s.p.Grace)); err != nil {
		return voicehook.RunResult{Retry: err}
	}
	_, err := s.p.Records.FindJob(ctx, s.query)
	if errors.Is(err, voicehook.ErrNotFound) {
		return voicehook.RunResult{}
	}
	if err != nil {
		// Unknown: run again rather than risk sleeping past the job.
		return voicehook.RunResult{Retry: fmt.Errorf("looking for the job again after parking: %w", err)}
	}
	if _, err := s.p.Waits.Wake(ctx, s.park); err != nil {
		return voicehook.RunResult{Retry: fmt.Errorf("waking the event whose job appeared as it parked: %w", err)}
	}
	return voicehook.RunResult{}
}

// finishedJob handles a matched job that is no longer processing: either
// this event finished it before a crash (finish the event to match), or the
// event is late or repeated (it changes nothing).
func (s *step) finishedJob(ctx context.Context) (voicehook.EventFinish, voicehook.RunResult) {
	owner, err := s.p.Claims.ClaimOwner(ctx, s.job.ID)
	if err != nil && !errors.Is(err, voicehook.ErrNotFound) {
		return voicehook.EventFinish{}, voicehook.RunResult{Retry: err}
	}
	if owner == s.ev.ID {
		if s.job.Status == voicehook.JobCompleted {
			return voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: s.job.ID}, voicehook.RunResult{}
		}
		return voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: s.job.ID, ErrorDetails: s.job.ErrorDetails}, voicehook.RunResult{}
	}
	// A job that finished before this event arrived may be an older one of
	// the same segment while the newer job is still being created.
	finished := s.job.Timestamps.Completed
	if finished == nil {
		finished = s.job.Timestamps.Failed
	}
	if finished != nil && finished.Before(s.ev.ReceivedAt) && s.p.Clock.Now().Sub(s.ev.ReceivedAt) < s.p.Grace {
		return s.waitOrGiveUp(errNoJob)
	}
	return voicehook.EventFinish{Status: voicehook.EventIgnored, RelatedJob: s.job.ID,
		ErrorDetails: fmt.Sprintf("job %s is already %s; a late or repeated event changes nothing", s.job.ID, s.job.Status)}, voicehook.RunResult{}
}

// resolve ends the attempt through the Resolver: the job ends as end if
// this event owns its claim, and the event as fin; mine says whether it did.
func (s *step) resolve(ctx context.Context, what string, end voicehook.JobEnd, fin voicehook.EventFinish) (voicehook.EventFinish, bool, voicehook.RunResult) {
	r := voicehook.Resolution{EventID: s.ev.ID, Job: s.job, End: end, Started: s.started, Finished: s.p.Clock.Now(), Finish: fin}
	rctx, span := tracing.Start(ctx, "records.resolve")
	owner, err := s.p.Resolver.Resolve(rctx, r)
	tracing.End(span, err)
	if voicehook.IsPermanent(err) {
		// The records refuse the move for good (a field they do not have,
		// a value they do not take): the event fails with their message
		// and the job is left as it is, so that a replay once they are
		// fixed finishes it through the claim.
		return voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: s.job.ID,
			ErrorDetails: fmt.Sprintf("%s job: %v", what, err)}, false, voicehook.RunResult{}
	}
	if err != nil {
		return voicehook.EventFinish{}, false, voicehook.RunResult{Retry: fmt.Errorf("%s job: %w", what, err)}
	}
	s.recorded = true
	_, got := r.Outcome(owner)
	return got, owner == s.ev.ID, voicehook.RunResult{}
}

func (s *step) fail(ctx context.Context, reason string, status voicehook.EventStatus) (voicehook.EventFinish, voicehook.RunResult) {
	fin, _, res := s.resolve(ctx, "failing", voicehook.Failed(reason, s.p.Clock.Now().UTC()),
		voicehook.EventFinish{Status: status, RelatedJob: s.job.ID, ErrorDetails: reason})
	return fin, res
}

func (s *step) complete(ctx context.Context, audio voicehook.StoredAudio) (voicehook.EventFinish, voicehook.RunResult) {
	fin, mine, res := s.resolve(ctx, "completing", voicehook.Completed(audio, s.p.Clock.Now().UTC()),
		voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: s.job.ID})
	if mine {
		s.dropSpooled(ctx)
		s.log.InfoContext(ctx, "voiceover stored", "job_id", s.job.ID, "url", audio.URL, "bytes", audio.Bytes, "duration_ms", audio.DurationMS)
	}
	return fin, res
}

func removeQuietly(path string) { _ = os.Remove(path) }
