package main

import (
	"net/http"
	"strings"
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

// TestQAInAirtable: with the QA fields named, a verdict is written into the
// segment's record beside the voiceover.
func TestQAInAirtable(t *testing.T) {
	t.Parallel()
	schema := airtabletest.SeedSchema().
		WithField("Segments", airtabletest.Field{Name: "QA Status", Type: airtabletest.SingleSelect, Choices: []string{"passed", "flagged", "unchecked"}}).
		WithField("Segments", airtabletest.Field{Name: "QA WER", Type: airtabletest.Number}).
		WithField("Segments", airtabletest.Field{Name: "QA Notes", Type: airtabletest.MultilineText})
	emu, useAirtable := airtableBase(t, airtabletest.Options{Schema: &schema})
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	h := setup(t, "sqlite", useAirtable, withTTS(em, 2), func(c *config) {
		c.QA, c.QAMode = "stt", "sync"
		c.Airtable.Fields.SegmentQAStatus, c.Airtable.Fields.SegmentQAWER, c.Airtable.Fields.SegmentQANotes = "QA Status", "QA WER", "QA Notes"
	})
	em.SetMishearing(elevenlabstest.Mishearing{Substitute: map[string]string{"lazy": "hazy"}})
	seg, err := emu.Insert("Segments", map[string]any{"Name": "Scene 4", "Status": "pending"})
	if err != nil {
		t.Fatal(err)
	}
	job := h.createGenerated(map[string]any{"segment_id": seg, "text": qaScriptFlag, "voice_id": "v1"})
	if job = h.waitJob(job.ID, 30*time.Second); job.Status != "completed" {
		t.Fatalf("job %+v", job)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec := record(t, emu, "Segments", seg)
		if rec["QA Status"] == "flagged" {
			notes, _ := rec["QA Notes"].(string)
			if rec["QA WER"] != 1.0/9 || !strings.Contains(notes, `substitution at 0:02.10: "lazy" heard as "hazy"`) || rec["Status"] != "voiceover_ready" {
				t.Fatalf("Segments record %v; want WER 1/9, the substitution in the notes, the voiceover ready", rec)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no QA verdict in the Segments record after 30s: %v", rec)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
