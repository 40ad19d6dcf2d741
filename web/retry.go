package web

// Recovering from a finished job. A replayed event is matched to its job
// again exactly as processing matches it (Records.FindJob with the segment
// and ids the payload names, which prefers a processing job); when that job
// is already finished, the replay changes nothing, and the API (and the
// pages, through replayNote) say so. Retrying the segment is the fix done in
// one step: a new job like the finished one (the same script for a job
// voicehook generated), then the replay, which the new job, processing,
// now matches.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

// errMovesNoJob: the event is not one that moves a job (another event
// type, progress, a transcript, a voice notice), so no replay or retry of
// it can.
var errMovesNoJob = errors.New("moves no voiceover job")

// eventJob returns the job a replay of ev would act on now: the job its
// payload matches, as processing matches it, else the job ev last resolved
// (RelatedJob). It also returns the query it matched with. The error wraps
// errMovesNoJob for an event that moves no job, voicehook.ErrNotFound when
// no job matches.
func (s *Server) eventJob(ctx context.Context, ev voicehook.Event) (voicehook.Job, voicehook.JobQuery, error) {
	parsed, err := elevenlabs.Parse(ev.RawPayload, ev.SegmentID)
	if err != nil {
		return voicehook.Job{}, voicehook.JobQuery{}, fmt.Errorf("event %s: %w (%v)", ev.ID, errMovesNoJob, err)
	}
	out := parsed.Outcome
	if out.VoiceID != "" || (out.Kind != voicehook.OutcomeCompleted && out.Kind != voicehook.OutcomeFailed) {
		return voicehook.Job{}, voicehook.JobQuery{}, fmt.Errorf("event %s: %w", ev.ID, errMovesNoJob)
	}
	q := voicehook.JobQuery{SegmentID: out.SegmentID, ExternalIDs: out.ExternalIDs}
	if q.SegmentID != "" || len(q.ExternalIDs) > 0 {
		job, err := s.Records.FindJob(ctx, q)
		if !errors.Is(err, voicehook.ErrNotFound) {
			return job, q, err
		}
	}
	if ev.RelatedJob == "" {
		return voicehook.Job{}, q, fmt.Errorf("job of event %s: %w", ev.ID, voicehook.ErrNotFound)
	}
	job, err := s.Records.Job(ctx, ev.RelatedJob)
	return job, q, err
}

// replayNote says, for a finished event about to be replayed, why the
// replay will change nothing and what will: "" when the replay acts (its
// job is processing) or the event moves no job anyway. The pages show it
// too.
func (s *Server) replayNote(ctx context.Context, ev voicehook.Event) string {
	job, _, err := s.eventJob(ctx, ev)
	if err != nil {
		if !errors.Is(err, errMovesNoJob) && !errors.Is(err, voicehook.ErrNotFound) {
			// Only a note: the replay itself goes ahead.
			s.Logger.Warn("finding the job a replay acts on", "event_id", ev.ID, "err", err)
		}
		return ""
	}
	if !job.Status.Finished() {
		return ""
	}
	return fmt.Sprintf("job %s is already %s; replaying changes nothing: create a new job for this segment, "+
		"or POST /api/events/%s/retry-segment to do both in one step", job.ID, job.Status, ev.ID)
}

// retryRefusal is why an event's segment cannot be retried, written to be
// shown to the client (409).
type retryRefusal struct{ msg string }

func (e *retryRefusal) Error() string { return e.msg }

func refuseRetry(format string, args ...any) error {
	return &retryRefusal{fmt.Sprintf(format, args...)}
}

// retrySegment creates a new job for the segment of the finished job eventID
// acts on (the same type and external id, and for a job voicehook generated
// the same script), then replays the event, which the new job now matches.
// It returns the new job and a sentence saying what was done. A
// *retryRefusal says why nothing was done: the event is still waiting,
// moves no job, matches none, or its job is still processing (a replay is
// what that needs). An error with a job set means the job was created but
// the replay failed.
func (s *Server) retrySegment(ctx context.Context, eventID string) (voicehook.Job, string, error) {
	ev, err := s.Inbox.Event(ctx, eventID)
	if err != nil {
		return voicehook.Job{}, "", err
	}
	if !ev.Status.Finished() {
		return voicehook.Job{}, "", refuseRetry("event %s is still waiting to be processed; retry its segment once it has finished", ev.ID)
	}
	old, q, err := s.eventJob(ctx, ev)
	switch {
	case errors.Is(err, errMovesNoJob):
		return voicehook.Job{}, "", refuseRetry("event %s (%s) moves no voiceover job: there is no segment to retry", ev.ID, ev.Type)
	case errors.Is(err, voicehook.ErrNotFound):
		what := q.String()
		if what == "" {
			what = "it names no segment and no id a job could hold"
		}
		return voicehook.Job{}, "", refuseRetry("event %s matched no job (%s): create one with POST /api/jobs, then replay the event", ev.ID, what)
	case err != nil:
		return voicehook.Job{}, "", fmt.Errorf("finding the job of event %s: %w", ev.ID, err)
	case !old.Status.Finished():
		return voicehook.Job{}, "", refuseRetry("job %s of event %s is still %s: replay the event instead (POST /api/events/%s/replay)",
			old.ID, ev.ID, old.Status, ev.ID)
	}
	job, err := s.newJobLike(ctx, old)
	if err != nil {
		return voicehook.Job{}, "", fmt.Errorf("creating a job like %s: %w", old.ID, err)
	}
	msg := fmt.Sprintf("created job %s for segment %s and replayed %s", job.ID, job.SegmentID, ev.ID)
	switch err := s.Inbox.Replay(ctx, ev.ID); {
	case errors.Is(err, voicehook.ErrInProgress):
		// Replayed by someone else meanwhile: it matches the new job all
		// the same.
		msg = fmt.Sprintf("created job %s for segment %s; %s was already replayed", job.ID, job.SegmentID, ev.ID)
	case err != nil:
		return job, "", fmt.Errorf("created job %s, then replaying %s: %w", job.ID, ev.ID, err)
	default:
		s.wake()
	}
	s.Logger.Info("segment retried", "event_id", ev.ID, "old_job_id", old.ID, "job_id", job.ID, "segment_id", job.SegmentID)
	return job, msg, nil
}

// newJobLike creates a job like old: regenerated when voicehook generated
// old, else a callback job with old's type and external id (and, with QA
// on, the script old's voiceover was to say).
func (s *Server) newJobLike(ctx context.Context, old voicehook.Job) (voicehook.Job, error) {
	if job, err := s.regenerate(ctx, old.ID, nil); !errors.Is(err, errNotGenerated) {
		return job, err
	}
	expected := ""
	if s.QA != nil {
		c, err := s.QA.QA(ctx, old.ID)
		switch {
		case err == nil:
			expected = c.Script
		case !errors.Is(err, voicehook.ErrNotFound):
			// The job works without QA; say so in the log.
			s.Logger.Warn("reading a job's QA script for its retry; the new job's voiceover will not be checked", "job_id", old.ID, "err", err)
		}
	}
	nj := voicehook.NewJob{SegmentID: old.SegmentID, Type: cmp.Or(old.Type, voicehook.JobTypeVoiceover), ExternalID: old.ExternalID}
	job, err := s.createJob(ctx, nj, expected)
	if err != nil {
		return voicehook.Job{}, err
	}
	return job, nil
}

// wake tells the queue that events wait, when there is one to tell.
func (s *Server) wake() {
	if s.Wake != nil {
		s.Wake()
	}
}

// handleRetrySegment: POST /api/events/{id}/retry-segment creates a new job
// for the event's segment and replays the event (201 {"job","event_id",
// "message"}); 409 says why there is nothing to retry.
func (s *Server) handleRetrySegment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	job, msg, err := s.retrySegment(r.Context(), id)
	var refused *retryRefusal
	switch {
	case errors.As(err, &refused):
		writeError(w, http.StatusConflict, refused.msg)
	case err != nil && job.ID != "":
		// The job exists: say so, so that repeating the request does not
		// make (and supersede) another.
		s.Logger.Error("segment retried, but its event was not replayed", "event_id", id, "job_id", job.ID, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "error", "job": job,
			"message": fmt.Sprintf("created job %s for segment %s, but the store did not replay %s: replay it with POST /api/events/%s/replay",
				job.ID, job.SegmentID, id, id)})
	case err != nil:
		s.writeStoreError(w, err, "event")
	default:
		writeJSON(w, http.StatusCreated, map[string]any{"job": job, "event_id": id, "message": msg})
	}
}
