package sqlstore

// Rescue of attempts whose process died. River's own rescuer waits
// --job-timeout plus a margin before it presumes an attempt dead, because it
// cannot tell a dead process from a slow attempt. voicehook can: on SQLite
// the data-dir lock proves the previous process gone, and on PostgreSQL a
// replica's heartbeat (replicas.go) says whether it still lives. Re-running
// a rescued attempt is safe: processing is idempotent per event (claims are
// keyed by event, not by process) and generation resumes from its parts.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/voicehook/voicehook"
)

// crashGraceKey marks, in a queue job's metadata, that its last attempt was
// cut by a dead process once and the job got one more attempt for it.
const crashGraceKey = "voicehook:crash_grace"

// rescueBatch is how many running queue jobs one query reads.
const rescueBatch = 500

// rescueResult counts what a rescue did.
type rescueResult struct {
	// Retried: made runnable at once (Extended of them with one more
	// attempt than they had).
	Retried, Extended int
	// Ended: discarded, their event dead or generation failed, with why.
	Ended int
}

// rescue makes runnable, in tx, the queue jobs in state running whose
// attempt started before horizon and whose last attempt was by a process
// for which dead returns true. why says what happened (for the job's error
// list and the log).
//
// A crash is not the job's fault, so it does not spend the last attempt: a
// job whose last attempt was cut gets one more, once. If that one is cut
// too, the job is discarded and its work ended with the reason — a dead
// event, a failed generation and job — rather than left to River's rescuer,
// which would discard it silently; and an event that kills every process
// that runs it does not go round the replicas forever.
//
// The horizon guards against a job that another sweep rescued and a live
// process took again since this one read it: River's update only touches
// rows still running since before horizon.
func (q *Queue) rescue(ctx context.Context, tx *sql.Tx, horizon, now time.Time, dead func(replica string) bool, why string) (rescueResult, error) {
	var res rescueResult
	exec := q.db.cfg.River.UnwrapExecutor(tx)
	var afterID int64
	for {
		jobs, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{AfterID: afterID, Max: rescueBatch, StuckHorizon: horizon})
		if err != nil {
			return res, fmt.Errorf("reading running queue jobs: %w", err)
		}
		params := riverdriver.JobRescueManyParams{StuckHorizon: horizon}
		var extend, end []*rivertype.JobRow
		for _, job := range jobs {
			afterID = job.ID
			if len(job.AttemptedBy) == 0 || !dead(job.AttemptedBy[len(job.AttemptedBy)-1]) {
				continue
			}
			errJSON, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: job.Attempt, Error: why})
			if err != nil {
				return res, fmt.Errorf("encoding rescue error: %w", err)
			}
			state, finalized := rivertype.JobStateAvailable, (*time.Time)(nil)
			switch {
			case job.Attempt < job.MaxAttempts:
			case !crashGraceUsed(job.Metadata):
				extend = append(extend, job)
			default:
				state, finalized = rivertype.JobStateDiscarded, &now
				end = append(end, job)
			}
			params.ID = append(params.ID, job.ID)
			params.Error = append(params.Error, errJSON)
			params.FinalizedAt = append(params.FinalizedAt, finalized)
			params.ScheduledAt = append(params.ScheduledAt, now)
			params.State = append(params.State, string(state))
		}
		if len(params.ID) > 0 {
			if _, err := exec.JobRescueMany(ctx, &params); err != nil {
				return res, fmt.Errorf("rescuing queue jobs: %w", err)
			}
		}
		for _, job := range extend {
			if _, err := exec.JobUpdateFull(ctx, &riverdriver.JobUpdateFullParams{ID: job.ID, MaxAttemptsDoUpdate: true, MaxAttempts: job.Attempt + 1}); err != nil {
				return res, fmt.Errorf("granting queue job %d one more attempt: %w", job.ID, err)
			}
			if _, err := exec.JobUpdate(ctx, &riverdriver.JobUpdateParams{ID: job.ID, MetadataDoMerge: true, Metadata: []byte(`{"` + crashGraceKey + `":true}`)}); err != nil {
				return res, fmt.Errorf("marking queue job %d: %w", job.ID, err)
			}
		}
		for _, job := range end {
			reason := fmt.Sprintf("%s during attempt %d, its last, after one more attempt had already been granted for a crash", why, job.Attempt)
			if err := q.endRescued(ctx, tx, job, reason); err != nil {
				return res, err
			}
		}
		res.Retried += len(params.ID) - len(end)
		res.Extended += len(extend)
		res.Ended += len(end)
		if len(jobs) < rescueBatch {
			return res, nil
		}
	}
}

func crashGraceUsed(metadata []byte) bool {
	var m map[string]any
	if json.Unmarshal(metadata, &m) != nil {
		return false
	}
	used, _ := m[crashGraceKey].(bool)
	return used
}

// endRescued ends, in tx, the work of a discarded queue job: its event
// dead, or its generation and job failed, each with reason.
func (q *Queue) endRescued(ctx context.Context, tx *sql.Tx, job *rivertype.JobRow, reason string) error {
	db := q.db
	now := db.clock.Now() // voicehook's records keep the store's clock
	switch job.Kind {
	case Args{}.Kind():
		var args Args
		if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
			return fmt.Errorf("decoding queue job %d: %w", job.ID, err)
		}
		var status voicehook.EventStatus
		err := tx.QueryRowContext(ctx, db.q("SELECT status FROM voicehook_events WHERE id = ?"), args.EventID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) || status != voicehook.EventReceived {
			return nil // gone (retention) or already finished
		}
		if err != nil {
			return fmt.Errorf("reading event %s: %w", args.EventID, err)
		}
		started := now
		if job.AttemptedAt != nil {
			started = *job.AttemptedAt
		}
		a := voicehook.Attempt{EventID: args.EventID, StartedAt: started, FinishedAt: now, Outcome: voicehook.AttemptDead, Error: reason}
		if err := db.recordAttempt(ctx, tx, a, &voicehook.EventFinish{Status: voicehook.EventDead, ErrorDetails: reason}); err != nil {
			return fmt.Errorf("ending event %s: %w", args.EventID, err)
		}
		q.cfg.Logger.Error("event dead: the processes running it kept dying", "event_id", args.EventID, "reason", reason)
	case GenerateArgs{}.Kind():
		var args GenerateArgs
		if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
			return fmt.Errorf("decoding queue job %d: %w", job.ID, err)
		}
		var segment string
		err := tx.QueryRowContext(ctx, db.q(`SELECT segment_id FROM voicehook_generations WHERE job_id = ? AND state NOT IN (?, ?)`),
			args.JobID, voicehook.GenerationDone, voicehook.GenerationFailed).Scan(&segment)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading generation of %s: %w", args.JobID, err)
		}
		if _, err := tx.ExecContext(ctx, db.q("UPDATE voicehook_generations SET state = ?, error = ?, updated_at = ? WHERE job_id = ?"),
			voicehook.GenerationFailed, reason, db.now(), args.JobID); err != nil {
			return fmt.Errorf("failing generation of %s: %w", args.JobID, err)
		}
		// The job itself, when the SQL records keep it. (With --records
		// airtable there is no row here: only the generation and the log
		// say it failed.)
		if err := db.finishJob(ctx, tx, voicehook.Job{ID: args.JobID, SegmentID: segment}, voicehook.Failed(reason, now)); err != nil {
			return err
		}
		q.cfg.Logger.Error("generation failed: the processes running it kept dying", "job_id", args.JobID, "reason", reason)
	}
	return nil
}
