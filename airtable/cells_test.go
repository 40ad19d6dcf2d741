package airtable

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

func TestPayloadCell(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
		cut     bool
	}{
		{"small", `{"status":"completed"}`, false},
		{"exactly the limit", strings.Repeat("a", maxCellChars), false},
		{"ascii over the limit", strings.Repeat("a", 3*maxCellChars), true},
		{"two-byte characters", strings.Repeat("é", maxCellChars+1), true},
		// Emoji count two UTF-16 units: 60,000 of them are 120,000.
		{"emoji", strings.Repeat("🎙", 60000), true},
		{"invalid UTF-8", strings.Repeat("a\xff", maxCellChars), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := payloadCell(voicehook.Event{ID: "evt_1", RawPayload: json.RawMessage(tt.payload)})
			if n := utf16Len(got); n > maxCellChars {
				t.Errorf("%d UTF-16 units, over the cell's %d", n, maxCellChars)
			}
			if !utf8.ValidString(got) {
				t.Error("not valid UTF-8")
			}
			marked := strings.Contains(got, "[cut by voicehook: the payload is")
			if marked != tt.cut {
				t.Errorf("marker present = %v, want %v", marked, tt.cut)
			}
			if tt.cut && (!strings.HasSuffix(got, "(GET /api/events/evt_1)]") || utf16Len(got) < maxCellChars-1) {
				t.Errorf("a cut cell should end with the marker and fill the cell: %d units, ends %q", utf16Len(got), got[len(got)-40:])
			}
			if !tt.cut && got != tt.payload {
				t.Error("a payload that fits changed")
			}
		})
	}
}

func TestTimestamps(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 12, 30, 0, 5000, time.UTC)
	tests := []struct {
		name, cell, key, want string
	}{
		{"empty", "", "created", `{"created":"2025-03-01T12:30:00.000005Z"}`},
		{"keeps other keys", `{"created":"2025-03-01T11:00:00.000000","queued_at":"x"}`, "completed",
			`{"completed":"2025-03-01T12:30:00.000005Z","created":"2025-03-01T11:00:00.000000","queued_at":"x"}`},
		{"not JSON", "yesterday", "failed", `{"failed":"2025-03-01T12:30:00.000005Z","previous":"yesterday"}`},
		{"null", "null", "failed", `{"failed":"2025-03-01T12:30:00.000005Z"}`},
	}
	for _, tt := range tests {
		if got := mergeTimestamps(tt.cell, tt.key, at); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	created := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	got := parseTimestamps(`{"created":"2025-03-01T11:00:00.000000","completed":"2025-03-01T12:30:00.000005Z"}`)
	want := voicehook.Timestamps{Created: &created, Completed: &at}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parse (-want +got): the seed's isoformat() reads as UTC\n%s", diff)
	}
}
