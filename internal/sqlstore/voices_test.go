package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

// addGeneration writes a generation row as AddGeneration and SaveStored
// leave it (stored: with audio), without a queue.
func addGeneration(t *testing.T, db *sqlstore.DB, job, segment, voice string, stored bool, updated time.Time) {
	t.Helper()
	audio := ""
	if stored {
		audio = `{"url":"https://media.test/` + job + `.mp3"}`
	}
	_, err := db.Writer().Exec(db.QForTest(`INSERT INTO voicehook_generations (job_id, segment_id, script, voice_id, state, audio, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'done', ?, ?, ?)`), job, segment, `{"text":"hi","voice_id":"`+voice+`"}`, voice, audio, updated.UnixMicro(), updated.UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
}

func TestVoiceNotices(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		t1 := clock.Now().Add(-2 * time.Hour)
		t2 := t1.Add(time.Hour)
		addGeneration(t, db, "job_a", "seg_1", "v1", true, t1)
		addGeneration(t, db, "job_b", "seg_2", "v1", true, t1)
		addGeneration(t, db, "job_c", "seg_3", "v2", true, t1)
		addGeneration(t, db, "job_d", "seg_4", "v1", false, t1) // not generated yet
		addGeneration(t, db, "job_e", "seg_5", "v1", true, t1)
		addGeneration(t, db, "job_f", "seg_5", "v2", true, t2) // regenerated with another voice

		marked := func() map[string]string {
			t.Helper()
			got := map[string]string{}
			for _, seg := range []string{"seg_1", "seg_2", "seg_3", "seg_4", "seg_5", "seg_none"} {
				n, err := db.SegmentVoiceNotice(ctx, seg)
				if errors.Is(err, voicehook.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Fatalf("SegmentVoiceNotice(%s): %v", seg, err)
				}
				got[seg] = n.Kind + " " + n.VoiceID + " " + n.EventID
			}
			return got
		}
		note := func(n voicehook.VoiceNotice, wantSegments int) {
			t.Helper()
			got, err := db.NoteVoice(ctx, n)
			if err != nil {
				t.Fatalf("NoteVoice(%+v): %v", n, err)
			}
			if got != wantSegments {
				t.Errorf("NoteVoice(%s %s) = %d segments, want %d", n.Kind, n.VoiceID, got, wantSegments)
			}
		}
		if diff := cmp.Diff(map[string]string{}, marked()); diff != "" {
			t.Errorf("before any notice (-want +got):\n%s", diff)
		}

		now := clock.Now()
		note(voicehook.VoiceNotice{VoiceID: "v1", Kind: voicehook.VoiceRemovalNotice, EventID: "evt_1", At: now}, 2)
		note(voicehook.VoiceNotice{VoiceID: "v1", Kind: voicehook.VoiceRemovalNotice, EventID: "evt_1", At: now}, 2) // a replay
		want := map[string]string{"seg_1": "voice_removal_notice v1 evt_1", "seg_2": "voice_removal_notice v1 evt_1"}
		if diff := cmp.Diff(want, marked()); diff != "" {
			t.Errorf("after the notice (-want +got):\n%s", diff)
		}
		n, err := db.SegmentVoiceNotice(ctx, "seg_1")
		if err != nil || !n.At.Equal(now.Truncate(time.Microsecond)) {
			t.Errorf("notice at %v (%v), want %v", n.At, err, now)
		}

		// An older word processed late changes nothing.
		note(voicehook.VoiceNotice{VoiceID: "v1", Kind: voicehook.VoiceRemovalNoticeWithdrawn, EventID: "evt_0", At: now.Add(-time.Minute)}, 2)
		if diff := cmp.Diff(want, marked()); diff != "" {
			t.Errorf("after an older withdrawal (-want +got):\n%s", diff)
		}
		// A later withdrawal clears the marks; a removal sets them again.
		note(voicehook.VoiceNotice{VoiceID: "v1", Kind: voicehook.VoiceRemovalNoticeWithdrawn, EventID: "evt_2", At: now.Add(time.Minute)}, 2)
		if diff := cmp.Diff(map[string]string{}, marked()); diff != "" {
			t.Errorf("after the withdrawal (-want +got):\n%s", diff)
		}
		note(voicehook.VoiceNotice{VoiceID: "v2", Kind: voicehook.VoiceRemoved, EventID: "evt_3", At: now.Add(2 * time.Minute)}, 2)
		want = map[string]string{"seg_3": "voice_removed v2 evt_3", "seg_5": "voice_removed v2 evt_3"}
		if diff := cmp.Diff(want, marked()); diff != "" {
			t.Errorf("after v2's removal (-want +got):\n%s", diff)
		}
	})
}

// TestVoiceMigrationReadsOldScripts: generations recorded before the voice
// had a column of its own get it from their stored script.
func TestVoiceMigrationReadsOldScripts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		addGeneration(t, db, "job_a", "seg_1", "v_old", true, clock.Now())
		// Back to the schema before the migration, with the row in it.
		for _, q := range []string{
			"DROP INDEX voicehook_generations_voice",
			"DROP TABLE voicehook_voice_notices",
			"ALTER TABLE voicehook_generations DROP COLUMN voice_id",
			"DELETE FROM voicehook_migrations WHERE version = 5",
		} {
			if _, err := db.Writer().ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		migrate(t, db)
		if _, err := db.NoteVoice(ctx, voicehook.VoiceNotice{VoiceID: "v_old", Kind: voicehook.VoiceRemovalNotice, EventID: "evt_1", At: clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if n, err := db.SegmentVoiceNotice(ctx, "seg_1"); err != nil || n.VoiceID != "v_old" {
			t.Errorf("SegmentVoiceNotice after the migration = %+v, %v; want the notice on v_old", n, err)
		}
	})
}
