package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
)

// TestGenerateFromAirtableScript: a base whose Segments hold their scripts
// needs only POST /api/jobs {"segment_id":"rec…"}; the job and segment are
// written as for a callback.
func TestGenerateFromAirtableScript(t *testing.T) {
	t.Parallel()
	schema := airtabletest.SeedSchema().
		WithField("Segments", airtabletest.Field{Name: "Script", Type: "multilineText"}).
		WithField("Segments", airtabletest.Field{Name: "Voice ID", Type: "singleLineText"})
	emu, useAirtable := airtableBase(t, airtabletest.Options{Schema: &schema})
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	h := setup(t, "sqlite", useAirtable, withTTS(em, 2), func(c *config) {
		c.Airtable.Fields.SegmentScript, c.Airtable.Fields.SegmentVoiceID = "Script", "Voice ID"
	})
	const script = "The script lives in Airtable."
	seg, err := emu.Insert("Segments", map[string]any{"Name": "Scene 3", "Status": "pending", "Script": script, "Voice ID": "voice_from_base"})
	if err != nil {
		t.Fatal(err)
	}
	job := h.createGenerated(map[string]any{"segment_id": seg})
	job = h.waitJob(job.ID, 30*time.Second)
	if job.Status != "completed" {
		t.Fatalf("job %+v", job)
	}
	calls := em.Calls()
	if len(calls) != 1 || calls[0].Text != script || calls[0].VoiceID != "voice_from_base" || calls[0].Status != http.StatusOK {
		t.Fatalf("ElevenLabs calls %+v, want one with the base's script and voice", calls)
	}
	segRec := record(t, emu, "Segments", seg)
	if segRec["Status"] != "voiceover_ready" || segRec["Voiceover"] == "" {
		t.Errorf("Segments record %v", segRec)
	}
	if jobRec := record(t, emu, "Jobs", job.ID); jobRec["Status"] != "completed" {
		t.Errorf("Jobs record %v", jobRec)
	}
}
