package airtable

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/voicehook/voicehook"
)

// maxCellChars is Airtable's limit for a long text cell: 100,000
// characters. Counted in UTF-16 code units, as Airtable's JavaScript
// counts, so a cut is under the limit however the limit is counted.
const maxCellChars = 100000

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// fitCell makes s fit a text cell: valid UTF-8, and when too long cut on a
// character boundary with marker appended, visible, at the end.
func fitCell(s string, marker string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf16Len(s) <= maxCellChars {
		return s
	}
	budget := maxCellChars - utf16Len(marker)
	n, cut := 0, 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if n+w > budget {
			break
		}
		n += w
		cut = i + utf8.RuneLen(r)
	}
	return s[:cut] + marker
}

// payloadCell is an event's raw payload as its Airtable cell holds it.
// Bodies can be many MB (post_call_audio carries base64 audio); the cell
// keeps the start and says where the rest is.
func payloadCell(ev voicehook.Event) string {
	marker := fmt.Sprintf("\n…[cut by voicehook: the payload is %d bytes, over Airtable's %d-character cell; the whole payload is event %s in voicehook (GET /api/events/%s)]",
		len(ev.RawPayload), maxCellChars, ev.ID, ev.ID)
	return fitCell(string(ev.RawPayload), marker)
}

// textCell fits error details and the like.
func textCell(s string) string {
	return fitCell(s, "\n…[cut by voicehook at Airtable's cell limit]")
}

// Field readers: a record's fields hold what JSON decodes to, and an empty
// field is absent.

func str(r Record, field string) string {
	if field == "" {
		return ""
	}
	switch v := r.Fields[field].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func num(r Record, field string) int64 {
	if field == "" {
		return 0
	}
	if n, ok := r.Fields[field].(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i
		}
		if f, err := n.Float64(); err == nil {
			return int64(f)
		}
	}
	return 0
}

func links(r Record, field string) []string {
	raw, _ := r.Fields[field].([]any)
	var ids []string
	for _, v := range raw {
		if s, ok := v.(string); ok {
			ids = append(ids, s)
		}
	}
	return ids
}

// The Timestamps cell is JSON text, as the seed writes it:
// {"created": …, "completed": …} or "failed". The seed wrote Python's
// isoformat() (no zone: read as UTC); voicehook writes RFC 3339 in UTC.

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

func parseTime(v any) *time.Time {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t
		}
	}
	return nil
}

func parseTimestamps(cell string) voicehook.Timestamps {
	var m map[string]any
	if json.Unmarshal([]byte(cell), &m) != nil {
		return voicehook.Timestamps{}
	}
	return voicehook.Timestamps{Created: parseTime(m["created"]), Completed: parseTime(m["completed"]), Failed: parseTime(m["failed"])}
}

// mergeTimestamps sets key to at in the cell's JSON, keeping every other
// key the user's pipeline put there. A cell that is not a JSON object is
// kept under "previous" rather than lost.
func mergeTimestamps(cell, key string, at time.Time) string {
	m := map[string]any{}
	if strings.TrimSpace(cell) != "" && json.Unmarshal([]byte(cell), &m) != nil {
		m = map[string]any{"previous": cell}
	}
	if m == nil { // the cell held JSON null
		m = map[string]any{}
	}
	m[key] = at.UTC().Format(time.RFC3339Nano)
	raw, _ := json.Marshal(m)
	return string(raw)
}
