package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/voicehook/voicehook"
)

// The generation state of the jobs voicehook generates. It lives here,
// beside the queue, whatever keeps the records: a generation's row and its
// queue job are written in one transaction, and each generated part is
// recorded as soon as its audio is on disk, so a retry resumes where the
// last attempt stopped and never pays ElevenLabs twice for a part it has.

var _ voicehook.Generations = (*Generations)(nil)

// Generations is the store's voicehook.Generations; it needs the queue to
// insert generation turns.
type Generations struct {
	db *DB
	q  *Queue
}

// Generations returns the generation store over q's database.
func (q *Queue) Generations() *Generations { return &Generations{db: q.db, q: q} }

const generationColumns = "job_id, segment_id, script, state, parts, audio, captions, cues, error, created_at, updated_at"

// AddGeneration records job's script and inserts its queue job, in one
// transaction.
func (g *Generations) AddGeneration(ctx context.Context, job voicehook.Job, script voicehook.Script) error {
	db := g.db
	raw, err := json.Marshal(script)
	if err != nil {
		return fmt.Errorf("encoding script: %w", err)
	}
	var group string
	var pos int
	if script.Sequence != nil {
		group, pos = script.Sequence.Group, script.Sequence.Position
	}
	now := db.now()
	return db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_generations (job_id, segment_id, script, voice_id, seq_group, seq_position, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), job.ID, job.SegmentID, string(raw), script.VoiceID, group, pos, voicehook.GenerationQueued, now, now); err != nil {
			return fmt.Errorf("recording generation: %w", err)
		}
		if _, err := g.q.client.InsertTx(ctx, tx, GenerateArgs{JobID: job.ID}, &river.InsertOpts{Queue: GenerationQueue}); err != nil {
			return fmt.Errorf("queueing generation: %w", err)
		}
		return nil
	})
}

// Generation reads one job's generation.
func (g *Generations) Generation(ctx context.Context, jobID string) (voicehook.Generation, error) {
	gen, err := scanGeneration(g.db.readRow(ctx, g.db.q("SELECT "+generationColumns+" FROM voicehook_generations WHERE job_id = ?"), jobID))
	if errors.Is(err, sql.ErrNoRows) {
		return gen, fmt.Errorf("generation of job %s: %w", jobID, voicehook.ErrNotFound)
	}
	return gen, err
}

// SegmentGeneration reads the newest generation of a segment whose
// voiceover is stored.
func (g *Generations) SegmentGeneration(ctx context.Context, segmentID string) (voicehook.Generation, error) {
	gen, err := scanGeneration(g.db.readRow(ctx, g.db.q("SELECT "+generationColumns+
		` FROM voicehook_generations WHERE segment_id = ? AND audio <> '' ORDER BY updated_at DESC LIMIT 1`), segmentID))
	if errors.Is(err, sql.ErrNoRows) {
		return gen, fmt.Errorf("generated voiceover of segment %s: %w", segmentID, voicehook.ErrNotFound)
	}
	return gen, err
}

// SequenceBefore reads the generation just before seq in its group: the
// newest one at the highest position below seq's.
func (g *Generations) SequenceBefore(ctx context.Context, seq voicehook.Sequence) (voicehook.Generation, error) {
	gen, err := scanGeneration(g.db.readRow(ctx, g.db.q("SELECT "+generationColumns+
		` FROM voicehook_generations WHERE seq_group = ? AND seq_position < ?
		ORDER BY seq_position DESC, created_at DESC LIMIT 1`), seq.Group, seq.Position))
	if errors.Is(err, sql.ErrNoRows) {
		return gen, fmt.Errorf("generation before %s/%d: %w", seq.Group, seq.Position, voicehook.ErrNotFound)
	}
	return gen, err
}

// SavePart appends part to the generation's parts (replacing a part of the
// same index, should a crash have left one recorded twice).
func (g *Generations) SavePart(ctx context.Context, jobID string, part voicehook.GenerationPart) error {
	db := g.db
	return db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var raw string
		if err := tx.QueryRowContext(ctx, db.q("SELECT parts FROM voicehook_generations WHERE job_id = ?"), jobID).Scan(&raw); err != nil {
			return fmt.Errorf("reading parts of %s: %w", jobID, err)
		}
		var parts []voicehook.GenerationPart
		if err := json.Unmarshal([]byte(raw), &parts); err != nil {
			return fmt.Errorf("decoding parts of %s: %w", jobID, err)
		}
		kept := parts[:0]
		for _, p := range parts {
			if p.Index != part.Index {
				kept = append(kept, p)
			}
		}
		kept = append(kept, part)
		slices.SortFunc(kept, func(a, b voicehook.GenerationPart) int { return a.Index - b.Index })
		chars := 0
		for _, p := range kept {
			chars += p.Characters
		}
		out, err := json.Marshal(kept)
		if err != nil {
			return fmt.Errorf("encoding parts: %w", err)
		}
		_, err = tx.ExecContext(ctx, db.q("UPDATE voicehook_generations SET parts = ?, characters = ?, updated_at = ? WHERE job_id = ?"),
			string(out), chars, db.now(), jobID)
		if err != nil {
			return fmt.Errorf("saving part of %s: %w", jobID, err)
		}
		return nil
	})
}

// SaveStored records the stored voiceover and its captions.
func (g *Generations) SaveStored(ctx context.Context, jobID string, audio voicehook.StoredAudio, captions string, cues []voicehook.Cue) error {
	a, err := json.Marshal(audio)
	if err != nil {
		return fmt.Errorf("encoding audio: %w", err)
	}
	c, err := json.Marshal(cues)
	if err != nil {
		return fmt.Errorf("encoding cues: %w", err)
	}
	return g.update(ctx, jobID, "state = ?, audio = ?, captions = ?, cues = ?", voicehook.GenerationStored, string(a), captions, string(c))
}

// EndGeneration marks the generation done or failed.
func (g *Generations) EndGeneration(ctx context.Context, jobID string, state voicehook.GenerationState, reason string) error {
	return g.update(ctx, jobID, "state = ?, error = ?", state, reason)
}

func (g *Generations) update(ctx context.Context, jobID, set string, args ...any) error {
	db := g.db
	args = append(args, db.now(), jobID)
	return db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q("UPDATE voicehook_generations SET "+set+", updated_at = ? WHERE job_id = ?"), args...); err != nil {
			return fmt.Errorf("updating generation of %s: %w", jobID, err)
		}
		return nil
	})
}

// CharactersSince sums the characters of the generations changed since t.
func (g *Generations) CharactersSince(ctx context.Context, t time.Time) (int, error) {
	var n sql.NullInt64
	err := g.db.readRow(ctx, g.db.q("SELECT SUM(characters) FROM voicehook_generations WHERE updated_at >= ?"), micros(t)).Scan(&n)
	if err != nil {
		return 0, unavailable(fmt.Errorf("summing characters: %w", err))
	}
	return int(n.Int64), nil
}

func scanGeneration(s scanner) (voicehook.Generation, error) {
	var g voicehook.Generation
	var script, parts, audio, cues string
	var created, updated int64
	err := s.Scan(&g.JobID, &g.SegmentID, &script, &g.State, &parts, &audio, &g.Captions, &cues, &g.Error, &created, &updated)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return g, err
		}
		return g, unavailable(fmt.Errorf("reading generation: %w", err))
	}
	g.Created, g.Updated = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(script), &g.Script); err != nil {
		return g, fmt.Errorf("decoding script: %w", err)
	}
	if err := json.Unmarshal([]byte(parts), &g.Parts); err != nil {
		return g, fmt.Errorf("decoding parts: %w", err)
	}
	if err := json.Unmarshal([]byte(cues), &g.Cues); err != nil {
		return g, fmt.Errorf("decoding cues: %w", err)
	}
	if audio != "" {
		g.Audio = new(voicehook.StoredAudio)
		if err := json.Unmarshal([]byte(audio), g.Audio); err != nil {
			return g, fmt.Errorf("decoding audio: %w", err)
		}
	}
	return g, nil
}
