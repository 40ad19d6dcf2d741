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
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/metrics"
)

// Store is what processing needs of the durable inbox.
type Store interface {
	EventForUpdate(ctx context.Context, id string) (voicehook.Event, error)
	// FinishAttempt records an attempt and, if fin is not nil, the event's
	// new state, atomically.
	FinishAttempt(ctx context.Context, a voicehook.Attempt, fin *voicehook.EventFinish) error
	ClaimJob(ctx context.Context, jobID, eventID string) (string, error)
	ClaimOwner(ctx context.Context, jobID string) (string, error)
}

// ClaimingRecords is implemented by Records that also keep the job claims
// and the events (voicehook's own SQL store, which is then also the Store):
// they claim a job, move it and record the attempt in one transaction, one
// commit instead of three, and the three are never seen apart. Records
// elsewhere (Airtable) are claimed through the Store first, then moved, then
// the attempt is recorded.
type ClaimingRecords interface {
	// ClaimAndCompleteJob claims job for eventID and, if eventID owns the
	// claim, completes it as Records.CompleteJob does. It returns the owner.
	// In the same transaction it then records the attempt and the event's
	// new state that end returns for the claim's owner, as
	// Store.FinishAttempt does: the attempt ends with one commit.
	ClaimAndCompleteJob(ctx context.Context, job voicehook.Job, eventID string, audio voicehook.StoredAudio, at time.Time,
		end func(owner string) (voicehook.Attempt, voicehook.EventFinish)) (string, error)
	// ClaimAndFailJob is ClaimAndCompleteJob for Records.FailJob.
	ClaimAndFailJob(ctx context.Context, job voicehook.Job, eventID, reason string, at time.Time,
		end func(owner string) (voicehook.Attempt, voicehook.EventFinish)) (string, error)
}

// Processor runs one processing attempt of an event.
type Processor struct {
	Store   Store
	Records voicehook.Records
	Storage voicehook.Storage
	Fetcher *fetch.Fetcher
	Studio  *elevenlabs.Studio
	// Grace is how long an event with no matching job keeps waiting for
	// one: the callback often races the job's creation.
	Grace time.Duration
	// MaxAudioBytes caps inline and streamed audio as Fetcher caps
	// downloads.
	MaxAudioBytes int64
	TempDir       string
	Clock         voicehook.Clock
	Logger        *slog.Logger
	Metrics       *metrics.Metrics
}

// Run is one attempt, as River hands it over.
type Run struct {
	EventID     string
	Attempt     int
	MaxAttempts int
}

// Result tells the queue what to do after an attempt.
type Result struct {
	// Retry, if set, is a transient failure: run again later.
	Retry error
	// Wait, if positive, runs the event again after this long without
	// counting an attempt (waiting for its job to be created).
	Wait time.Duration
}

// errNoJob means no job matches yet; the event waits within the grace.
var errNoJob = errors.New("no matching voiceover job")

// Process runs one attempt of an event and records it.
func (p *Processor) Process(ctx context.Context, run Run) Result {
	started := p.Clock.Now()
	log := p.Logger.With("event_id", run.EventID, "attempt", run.Attempt)
	ev, err := p.Store.EventForUpdate(ctx, run.EventID)
	if err != nil {
		if errors.Is(err, voicehook.ErrNotFound) {
			log.Error("queued event is not in the store", "err", err)
			return Result{}
		}
		return Result{Retry: err}
	}
	if ev.Status != voicehook.EventReceived {
		// A finished event (a second queue job for it, or a replay that
		// raced): nothing to do.
		return Result{}
	}
	log = log.With("segment_id", ev.SegmentID)
	st := step{p: p, ev: ev, log: log, started: started}
	fin, res := st.run(ctx)

	outcome, errText := fin.Status, fin.ErrorDetails
	switch {
	case res.Wait > 0:
		outcome, errText = "waiting", "no matching job yet"
	case res.Retry != nil:
		errText = res.Retry.Error()
		if run.Attempt >= run.MaxAttempts {
			fin = voicehook.EventFinish{Status: voicehook.EventDead, RelatedJob: st.job.ID,
				ErrorDetails: fmt.Sprintf("gave up after %d attempts: %v", run.Attempt, res.Retry)}
			outcome, res = voicehook.EventDead, Result{}
		} else {
			outcome = "retry"
		}
	}
	log = log.With("job_id", st.job.ID)
	attempt := voicehook.Attempt{EventID: ev.ID, StartedAt: started, FinishedAt: p.Clock.Now(), Outcome: outcome, Error: errText}
	var finish *voicehook.EventFinish
	if fin.Status != "" {
		finish = &fin
	}
	// (When st.recorded, the attempt was stored with the job's move.)
	if !st.recorded {
		if err := p.Store.FinishAttempt(ctx, attempt, finish); err != nil {
			if finish == nil {
				log.Warn("recording attempt", "err", err)
			} else {
				// The records may already have changed; running again
				// finishes the event through its claim.
				return Result{Retry: fmt.Errorf("finishing event: %w", err)}
			}
		}
	}
	if m, ok := p.Records.(voicehook.EventMirror); ok && finish != nil {
		if ev2, err := p.Store.EventForUpdate(ctx, ev.ID); err == nil {
			if err := m.MirrorEvent(ctx, ev2); err != nil {
				log.Warn("mirroring event", "err", err)
			}
		}
	}
	if p.Metrics != nil {
		p.Metrics.Outcomes.WithLabelValues(outcome).Inc()
		p.Metrics.ProcessingSeconds.Observe(p.Clock.Now().Sub(started).Seconds())
	}
	switch outcome {
	case "retry":
		log.Warn("processing failed; will retry", "err", res.Retry)
	case "waiting":
		log.Info("no matching job yet; waiting", "grace_left", p.Grace-p.Clock.Now().Sub(ev.ReceivedAt))
	case voicehook.EventDead, voicehook.EventFailed:
		log.Error("event "+outcome, "reason", errText)
	default:
		log.Info("event "+outcome, "details", errText)
	}
	return res
}

// step carries one attempt's state.
type step struct {
	p       *Processor
	ev      voicehook.Event
	job     voicehook.Job
	log     *slog.Logger
	started time.Time
	// recorded: the attempt and the event's finish are already stored
	// (with the job's move, through ClaimingRecords).
	recorded bool
}

func done(status, details string) (voicehook.EventFinish, Result) {
	return voicehook.EventFinish{Status: status, ErrorDetails: details}, Result{}
}

func (s *step) run(ctx context.Context) (voicehook.EventFinish, Result) {
	parsed, err := elevenlabs.Parse(s.ev.RawPayload, s.ev.SegmentID)
	if err != nil {
		return done(voicehook.EventFailed, "malformed payload: "+err.Error())
	}
	out := parsed.Outcome
	switch out.Kind {
	case voicehook.OutcomeIgnored:
		return done(voicehook.EventIgnored, out.Message)
	case voicehook.OutcomeProgress:
		return done(voicehook.EventIgnored, "progress: "+out.Message+" (nothing changes)")
	}

	job, err := s.match(ctx, out)
	if errors.Is(err, errNoJob) {
		return s.waitOrGiveUp(err)
	}
	if err != nil {
		return voicehook.EventFinish{}, Result{Retry: err}
	}
	s.job = job

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
		return voicehook.EventFinish{}, Result{Retry: err}
	}
	return s.complete(ctx, audio)
}

func (s *step) match(ctx context.Context, out voicehook.Outcome) (voicehook.Job, error) {
	if out.SegmentID == "" && len(out.ExternalIDs) == 0 {
		return voicehook.Job{}, fmt.Errorf("%w: the callback names no segment (segment_id) and no id a job could hold", errNoJob)
	}
	job, err := s.p.Records.FindJob(ctx, voicehook.JobQuery{SegmentID: out.SegmentID, ExternalIDs: out.ExternalIDs})
	if errors.Is(err, voicehook.ErrNotFound) {
		return job, fmt.Errorf("%w for segment %q or ids %v", errNoJob, out.SegmentID, out.ExternalIDs)
	}
	if err != nil {
		return job, fmt.Errorf("finding job: %w", err)
	}
	return job, nil
}

func (s *step) waitOrGiveUp(err error) (voicehook.EventFinish, Result) {
	waited := s.p.Clock.Now().Sub(s.ev.ReceivedAt)
	if waited < s.p.Grace {
		// Wait a little longer each time: 1s, 2s, 4s … up to 30s.
		return voicehook.EventFinish{}, Result{Wait: min(max(waited/4, time.Second), 30*time.Second, s.p.Grace-waited)}
	}
	return done(voicehook.EventFailed, fmt.Sprintf("%v after waiting %s (--job-match-grace)", err, s.p.Grace))
}

// finishedJob handles a matched job that is no longer processing: either
// this event finished it before a crash (finish the event to match), or the
// event is late or repeated (it changes nothing).
func (s *step) finishedJob(ctx context.Context) (voicehook.EventFinish, Result) {
	owner, err := s.p.Store.ClaimOwner(ctx, s.job.ID)
	if err != nil && !errors.Is(err, voicehook.ErrNotFound) {
		return voicehook.EventFinish{}, Result{Retry: err}
	}
	if owner == s.ev.ID {
		if s.job.Status == voicehook.JobCompleted {
			return voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: s.job.ID}, Result{}
		}
		return voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: s.job.ID, ErrorDetails: s.job.ErrorDetails}, Result{}
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
		ErrorDetails: fmt.Sprintf("job %s is already %s; a late or repeated event changes nothing", s.job.ID, s.job.Status)}, Result{}
}

// claim makes this event the one that resolves the job; false means another
// event already did.
func (s *step) claim(ctx context.Context) (bool, voicehook.EventFinish, error) {
	owner, err := s.p.Store.ClaimJob(ctx, s.job.ID, s.ev.ID)
	fin, ok, err := s.claimed(owner, err, "claiming")
	return ok, fin, err
}

// claimed reads a claim's outcome: ok when this event owns the job, else
// the event's finish (another event resolves the job).
func (s *step) claimed(owner string, err error, what string) (voicehook.EventFinish, bool, error) {
	if err != nil {
		return voicehook.EventFinish{}, false, fmt.Errorf("%s job: %w", what, err)
	}
	if owner != s.ev.ID {
		return voicehook.EventFinish{Status: voicehook.EventIgnored, RelatedJob: s.job.ID,
			ErrorDetails: fmt.Sprintf("job %s is resolved by event %s", s.job.ID, owner)}, false, nil
	}
	return voicehook.EventFinish{}, true, nil
}

// resolveAndRecord claims and moves the job through ClaimingRecords, which
// records the attempt in the same transaction: done is the event's finish
// when it owns the claim.
func (s *step) resolveAndRecord(what string, done voicehook.EventFinish,
	move func(end func(owner string) (voicehook.Attempt, voicehook.EventFinish)) (string, error)) (voicehook.EventFinish, bool, Result) {
	var fin voicehook.EventFinish
	var mine bool
	_, err := move(func(owner string) (voicehook.Attempt, voicehook.EventFinish) {
		fin, mine, _ = s.claimed(owner, nil, what)
		if mine {
			fin = done
		}
		return voicehook.Attempt{EventID: s.ev.ID, StartedAt: s.started, FinishedAt: s.p.Clock.Now(),
			Outcome: fin.Status, Error: fin.ErrorDetails}, fin
	})
	if err != nil {
		return voicehook.EventFinish{}, false, Result{Retry: fmt.Errorf("%s job: %w", what, err)}
	}
	s.recorded = true
	return fin, mine, Result{}
}

func (s *step) fail(ctx context.Context, reason, status string) (voicehook.EventFinish, Result) {
	if cr, ok := s.p.Records.(ClaimingRecords); ok {
		fin, _, res := s.resolveAndRecord("failing", voicehook.EventFinish{Status: status, RelatedJob: s.job.ID, ErrorDetails: reason},
			func(end func(string) (voicehook.Attempt, voicehook.EventFinish)) (string, error) {
				return cr.ClaimAndFailJob(ctx, s.job, s.ev.ID, reason, s.p.Clock.Now().UTC(), end)
			})
		return fin, res
	}
	ok, fin, err := s.claim(ctx)
	if err != nil || !ok {
		return fin, Result{Retry: err}
	}
	if err := s.p.Records.FailJob(ctx, s.job, reason, s.p.Clock.Now().UTC()); err != nil {
		return voicehook.EventFinish{}, Result{Retry: fmt.Errorf("failing job: %w", err)}
	}
	return voicehook.EventFinish{Status: status, RelatedJob: s.job.ID, ErrorDetails: reason}, Result{}
}

func (s *step) complete(ctx context.Context, audio voicehook.StoredAudio) (voicehook.EventFinish, Result) {
	if cr, ok := s.p.Records.(ClaimingRecords); ok {
		fin, mine, res := s.resolveAndRecord("completing", voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: s.job.ID},
			func(end func(string) (voicehook.Attempt, voicehook.EventFinish)) (string, error) {
				return cr.ClaimAndCompleteJob(ctx, s.job, s.ev.ID, audio, s.p.Clock.Now().UTC(), end)
			})
		if !mine {
			return fin, res
		}
	} else {
		ok, fin, err := s.claim(ctx)
		if err != nil || !ok {
			return fin, Result{Retry: err}
		}
		if err := s.p.Records.CompleteJob(ctx, s.job, audio, s.p.Clock.Now().UTC()); err != nil {
			return voicehook.EventFinish{}, Result{Retry: fmt.Errorf("completing job: %w", err)}
		}
	}
	s.log.Info("voiceover stored", "job_id", s.job.ID, "url", audio.URL, "bytes", audio.Bytes, "duration_ms", audio.DurationMS)
	return voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: s.job.ID}, Result{}
}

func removeQuietly(path string) { _ = os.Remove(path) }
