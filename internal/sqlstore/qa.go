package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/voicehook/voicehook"
)

// The QA checks live here, beside the generations, whatever keeps the
// records: a check's row and its queue job are written in one transaction,
// and a check moves forward only (SaveQA never touches a final one), so a
// transcript delivered twice, or the checker and the webhook racing, leave
// one verdict.

var _ voicehook.QAChecks = (*QA)(nil)

// QA is the store's voicehook.QAChecks; it needs the queue to insert QA
// turns.
type QA struct {
	db *DB
	q  *Queue
}

// QA returns the QA store over q's database.
func (q *Queue) QA() *QA { return &QA{db: q.db, q: q} }

// QAArgs is the queue job that runs one job's QA check.
type QAArgs struct {
	JobID string `json:"job_id"`
}

// Kind names the job in River's tables.
func (QAArgs) Kind() string { return "voicehook.qa" }

// QAQueue is the River queue QA checks run on, apart from event processing
// and generation.
const QAQueue = "qa"

// schemaQA keeps one row per checked job. wer is -1 until there is a
// verdict, so flagged checks sort worst first on an index.
const schemaQA = `
CREATE TABLE voicehook_qa (
	job_id     TEXT PRIMARY KEY,
	segment_id TEXT NOT NULL,
	script     TEXT NOT NULL,
	state      TEXT NOT NULL,
	status     TEXT NOT NULL DEFAULT '',
	audio      TEXT NOT NULL DEFAULT '',
	request_id TEXT NOT NULL DEFAULT '',
	event_id   TEXT NOT NULL DEFAULT '',
	transcript TEXT NOT NULL DEFAULT '',
	result     TEXT NOT NULL DEFAULT '',
	wer        DOUBLE PRECISION NOT NULL DEFAULT -1,
	notes      TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX voicehook_qa_segment ON voicehook_qa (segment_id, created_at);
CREATE INDEX voicehook_qa_request ON voicehook_qa (request_id);
CREATE INDEX voicehook_qa_status ON voicehook_qa (status, wer);
`

const qaColumns = "job_id, segment_id, script, state, status, audio, request_id, event_id, transcript, result, notes, created_at, updated_at"

// ExpectScript records a callback job's script, to check its voiceover once
// a callback completes it.
func (s *QA) ExpectScript(ctx context.Context, job voicehook.Job, script string) error {
	db := s.db
	now := db.now()
	return db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_qa (job_id, segment_id, script, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING`), job.ID, job.SegmentID, script, voicehook.QAAwaitingAudio, now, now)
		if err != nil {
			return fmt.Errorf("recording the script of job %s: %w", job.ID, err)
		}
		return nil
	})
}

// QueueQA queues the check of job's stored voiceover with its queue job.
func (s *QA) QueueQA(ctx context.Context, job voicehook.Job, script string, audio voicehook.StoredAudio) (bool, error) {
	db := s.db
	a, err := json.Marshal(audio)
	if err != nil {
		return false, fmt.Errorf("encoding audio: %w", err)
	}
	queued := false
	err = db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		queued = false
		var state voicehook.QAState
		var expected string
		err := tx.QueryRowContext(ctx, db.q("SELECT state, script FROM voicehook_qa WHERE job_id = ?"), job.ID).Scan(&state, &expected)
		now := db.now()
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if script == "" {
				return nil
			}
			_, err = tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_qa (job_id, segment_id, script, state, status, audio, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), job.ID, job.SegmentID, script, voicehook.QAQueued, voicehook.QAUnchecked, string(a), now, now)
		case err != nil:
			return fmt.Errorf("reading the check of job %s: %w", job.ID, err)
		case state != voicehook.QAAwaitingAudio:
			return nil
		default:
			if script == "" {
				script = expected
			}
			_, err = tx.ExecContext(ctx, db.q(`UPDATE voicehook_qa SET state = ?, status = ?, script = ?, audio = ?, updated_at = ? WHERE job_id = ?`),
				voicehook.QAQueued, voicehook.QAUnchecked, script, string(a), now, job.ID)
		}
		if err != nil {
			return fmt.Errorf("queueing the check of job %s: %w", job.ID, err)
		}
		if _, err := s.q.client.InsertTx(ctx, tx, QAArgs{JobID: job.ID}, &river.InsertOpts{Queue: QAQueue}); err != nil {
			return fmt.Errorf("queueing the check of job %s: %w", job.ID, err)
		}
		queued = true
		return nil
	})
	return queued, err
}

// QA reads one job's check.
func (s *QA) QA(ctx context.Context, jobID string) (voicehook.QACheck, error) {
	return s.one(ctx, "job_id = ?", jobID, "QA check of job "+jobID)
}

// QAByRequest reads the check whose transcription has requestID.
func (s *QA) QAByRequest(ctx context.Context, requestID string) (voicehook.QACheck, error) {
	if requestID == "" {
		return voicehook.QACheck{}, fmt.Errorf("QA check of an empty request id: %w", voicehook.ErrNotFound)
	}
	return s.one(ctx, "request_id = ?", requestID, "QA check of speech-to-text request "+requestID)
}

// SegmentQA reads the check of the segment's newest checked voiceover.
func (s *QA) SegmentQA(ctx context.Context, segmentID string) (voicehook.QACheck, error) {
	return s.one(ctx, "segment_id = ? AND state NOT IN ('awaiting_audio', 'cancelled') ORDER BY created_at DESC, job_id DESC LIMIT 1",
		segmentID, "QA check of segment "+segmentID)
}

func (s *QA) one(ctx context.Context, where, arg, what string) (voicehook.QACheck, error) {
	c, err := scanQA(s.db.readRow(ctx, s.db.q("SELECT "+qaColumns+" FROM voicehook_qa WHERE "+where), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("%s: %w", what, voicehook.ErrNotFound)
	}
	return c, err
}

// SaveQA moves a check forward; a final check is never changed.
func (s *QA) SaveQA(ctx context.Context, c voicehook.QACheck) error {
	db := s.db
	var transcript, result []byte
	var err error
	if c.Transcript != nil {
		if transcript, err = json.Marshal(c.Transcript); err != nil {
			return fmt.Errorf("encoding transcript: %w", err)
		}
	}
	wer := -1.0
	if c.Result != nil {
		if result, err = json.Marshal(c.Result); err != nil {
			return fmt.Errorf("encoding QA result: %w", err)
		}
		wer = c.Result.WER
	}
	return db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var state voicehook.QAState
		err := tx.QueryRowContext(ctx, db.q("SELECT state FROM voicehook_qa WHERE job_id = ?"), c.JobID).Scan(&state)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("QA check of job %s: %w", c.JobID, voicehook.ErrNotFound)
		case err != nil:
			return fmt.Errorf("reading the check of job %s: %w", c.JobID, err)
		case state.Final():
			return fmt.Errorf("QA check of job %s is %s: %w", c.JobID, state, voicehook.ErrFinished)
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE voicehook_qa SET state = ?, status = ?, request_id = ?, event_id = ?,
			transcript = ?, result = ?, wer = ?, notes = ?, updated_at = ? WHERE job_id = ?`),
			c.State, c.Status, c.RequestID, c.EventID, string(transcript), string(result), wer, c.Notes, db.now(), c.JobID)
		if err != nil {
			return fmt.Errorf("saving the check of job %s: %w", c.JobID, err)
		}
		return nil
	})
}

// ListQA lists checks: flagged ones worst first, others newest first.
func (s *QA) ListQA(ctx context.Context, f voicehook.QAFilter) ([]voicehook.QACheck, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	query := "SELECT " + qaColumns + " FROM voicehook_qa"
	var args []any
	switch f.Status {
	case "":
		query += " WHERE state NOT IN ('awaiting_audio', 'cancelled') ORDER BY updated_at DESC"
	case voicehook.QAFlagged:
		query += " WHERE status = ? ORDER BY wer DESC, updated_at DESC"
		args = append(args, f.Status)
	default:
		query += " WHERE status = ? ORDER BY updated_at DESC"
		args = append(args, f.Status)
	}
	query += fmt.Sprintf(" LIMIT %d", limit)
	return readAll(ctx, s.db, query, scanQA, args...)
}

func scanQA(sc scanner) (voicehook.QACheck, error) {
	var c voicehook.QACheck
	var audio, transcript, result string
	var created, updated int64
	err := sc.Scan(&c.JobID, &c.SegmentID, &c.Script, &c.State, &c.Status, &audio, &c.RequestID, &c.EventID,
		&transcript, &result, &c.Notes, &created, &updated)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return c, err
		}
		return c, unavailable(fmt.Errorf("reading QA check: %w", err))
	}
	c.Created, c.Updated = fromMicros(created), fromMicros(updated)
	if audio != "" {
		c.Audio = new(voicehook.StoredAudio)
		if err := json.Unmarshal([]byte(audio), c.Audio); err != nil {
			return c, fmt.Errorf("decoding audio of QA check %s: %w", c.JobID, err)
		}
	}
	if transcript != "" {
		c.Transcript = new(voicehook.Transcript)
		if err := json.Unmarshal([]byte(transcript), c.Transcript); err != nil {
			return c, fmt.Errorf("decoding transcript of QA check %s: %w", c.JobID, err)
		}
	}
	if result != "" {
		c.Result = new(voicehook.QAResult)
		if err := json.Unmarshal([]byte(result), c.Result); err != nil {
			return c, fmt.Errorf("decoding result of QA check %s: %w", c.JobID, err)
		}
	}
	return c, nil
}
