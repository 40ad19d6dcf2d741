package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/voicehook/voicehook"
)

// The voice notices live beside the generations, whatever keeps the
// records: only generated jobs know their voice (voicehook_generations.voice_id).
var _ voicehook.VoiceNotices = (*DB)(nil)

// schemaVoices keeps each generation's voice in a column of its own (read
// back from the stored script for the generations made before) and the
// latest notice about each voice. {{VOICE_OF_SCRIPT}} is the dialect's way
// to read voice_id out of the script's JSON.
const schemaVoices = `
ALTER TABLE voicehook_generations ADD COLUMN voice_id TEXT NOT NULL DEFAULT '';
UPDATE voicehook_generations SET voice_id = COALESCE({{VOICE_OF_SCRIPT}}, '');
CREATE INDEX voicehook_generations_voice ON voicehook_generations (voice_id, segment_id);

CREATE TABLE voicehook_voice_notices (
	voice_id   TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	noticed_at BIGINT NOT NULL
);
`

func voicesMigration(d Dialect) string {
	voice := "json_extract(script, '$.voice_id')"
	if d == Postgres {
		voice = "(script::jsonb ->> 'voice_id')"
	}
	return strings.ReplaceAll(schemaVoices, "{{VOICE_OF_SCRIPT}}", voice)
}

// NoteVoice records n unless a later notice on the voice is recorded (events
// can be processed out of order, and replayed), and counts the segments
// with a voiceover generated with the voice.
func (db *DB) NoteVoice(ctx context.Context, n voicehook.VoiceNotice) (int, error) {
	if n.VoiceID == "" {
		return 0, errors.New("voice notice without a voice id")
	}
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO voicehook_voice_notices (voice_id, kind, event_id, noticed_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (voice_id) DO UPDATE SET kind = excluded.kind, event_id = excluded.event_id, noticed_at = excluded.noticed_at
			WHERE voicehook_voice_notices.noticed_at <= excluded.noticed_at`), n.VoiceID, n.Kind, n.EventID, micros(n.At))
		if err != nil {
			return fmt.Errorf("recording the notice on voice %s: %w", n.VoiceID, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// The segments whose voiceover now is one generated with the voice:
	// their newest stored generation used it.
	var segments int
	if err := db.readRow(ctx, db.q(`SELECT COUNT(DISTINCT g.segment_id) FROM voicehook_generations g
		WHERE g.voice_id = ? AND g.audio <> '' AND NOT EXISTS (SELECT 1 FROM voicehook_generations h
			WHERE h.segment_id = g.segment_id AND h.audio <> '' AND (h.updated_at > g.updated_at OR (h.updated_at = g.updated_at AND h.job_id > g.job_id)))`),
		n.VoiceID).Scan(&segments); err != nil {
		return 0, unavailable(fmt.Errorf("counting the segments voiced with %s: %w", n.VoiceID, err))
	}
	return segments, nil
}

// SegmentVoiceNotice returns the active notice on the voice of the segment's
// newest stored generation: a segment regenerated with another voice since
// is no longer marked.
func (db *DB) SegmentVoiceNotice(ctx context.Context, segmentID string) (voicehook.VoiceNotice, error) {
	var n voicehook.VoiceNotice
	var at int64
	err := db.readRow(ctx, db.q(`SELECT voice_id, kind, event_id, noticed_at FROM voicehook_voice_notices
		WHERE voice_id = (SELECT voice_id FROM voicehook_generations WHERE segment_id = ? AND audio <> '' ORDER BY updated_at DESC, job_id DESC LIMIT 1)
		AND voice_id <> '' AND kind <> ?`), segmentID, voicehook.VoiceRemovalNoticeWithdrawn).Scan(&n.VoiceID, &n.Kind, &n.EventID, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return n, fmt.Errorf("voice notice of segment %s: %w", segmentID, voicehook.ErrNotFound)
	}
	if err != nil {
		return n, unavailable(fmt.Errorf("reading the voice notice of segment %s: %w", segmentID, err))
	}
	n.At = fromMicros(at)
	return n, nil
}
