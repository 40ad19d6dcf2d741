package main

import (
	"strings"
	"testing"

	"github.com/voicehook/voicehook/airtable/airtabletest"
)

// TestAirtablePermanentErrors: what no retry can fix (a field or table the
// user renamed, a value the field refuses, a token without the write
// scope) fails the event at its first attempt with Airtable's own
// message, rather than being retried until dead. The job is left as it
// is, so that once the base is fixed a replay of the event completes it.
func TestAirtablePermanentErrors(t *testing.T) {
	t.Parallel()
	numberVoiceover := airtabletest.SeedSchema().WithoutField("Segments", "Voiceover").
		WithField("Segments", airtabletest.Field{Name: "Voiceover", Type: airtabletest.Number})
	tests := []struct {
		name   string
		schema *airtabletest.Schema
		change func(t *testing.T, emu *airtabletest.Server)
		// want is in the event's error details.
		want string
		// jobKept: the job can still be read, and is still processing.
		jobKept bool
	}{
		{"unknown field", nil, func(t *testing.T, emu *airtabletest.Server) {
			if err := emu.RenameField("Segments", "Voiceover", "Audio"); err != nil {
				t.Fatal(err)
			}
		}, `airtable: GET Segments: 422 UNKNOWN_FIELD_NAME: Unknown field name: "Voiceover"`, true},
		{"invalid value", &numberVoiceover, nil,
			`airtable: PATCH Segments: 422 INVALID_VALUE_FOR_COLUMN: Field "Voiceover" cannot accept the provided value`, true},
		{"no write scope", nil, func(t *testing.T, emu *airtabletest.Server) { emu.SetWriteScope(false) },
			"airtable: PATCH Segments: 403 INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND: Invalid permissions, or the requested model was not found.", true},
		{"unknown table", nil, func(t *testing.T, emu *airtabletest.Server) {
			if err := emu.RenameTable("Jobs", "Tasks"); err != nil {
				t.Fatal(err)
			}
		}, "airtable: GET Jobs: 404 NOT_FOUND", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu, useAirtable := airtableBase(t, airtabletest.Options{Schema: tt.schema})
			h := setup(t, "sqlite", useAirtable)
			seg := airtableSegment(t, emu, "Scene 16")
			job := h.createJob(seg, "")
			if tt.change != nil {
				tt.change(t, emu)
			}
			_, a := h.deliver(seg, seedCompleted(h.src.url("p.mp3")))
			ev := h.waitEvent(a.EventID)
			if ev.Status != "failed" || ev.Attempts != 1 || !strings.Contains(ev.ErrorDetails, tt.want) {
				t.Fatalf("event = %s after %d attempts: %q\nwant failed after 1 attempt with %q", ev.Status, ev.Attempts, ev.ErrorDetails, tt.want)
			}
			if tt.jobKept {
				if rec := record(t, emu, "Jobs", job.ID); rec["Status"] != "processing" {
					t.Errorf("Jobs record = %v, want it still processing", rec)
				}
			}
		})
	}
}
