package airtable

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/voicehooktest"
)

// qaSchema is the seed's base with the three optional QA fields; status
// is a single select with the given options.
func qaSchema(statusChoices ...string) airtabletest.Schema {
	return airtabletest.SeedSchema().
		WithField("Segments", airtabletest.Field{Name: "QA Status", Type: airtabletest.SingleSelect, Choices: statusChoices}).
		WithField("Segments", airtabletest.Field{Name: "QA WER", Type: airtabletest.Number}).
		WithField("Segments", airtabletest.Field{Name: "QA Notes", Type: airtabletest.MultilineText})
}

var allQAChoices = []string{"passed", "flagged", "unchecked"}

// nameQAFields names qaSchema's fields.
func nameQAFields(f *Fields) {
	f.SegmentQAStatus, f.SegmentQAWER, f.SegmentQANotes = "QA Status", "QA WER", "QA Notes"
}

func withQAFields(cfg Config) Config {
	nameQAFields(&cfg.Fields)
	return cfg
}

// flaggedCheck is a checked voiceover with one difference of each kind.
func flaggedCheck(segID string) voicehook.QACheck {
	return voicehook.QACheck{
		JobID: "recJob00000000001", SegmentID: segID, State: voicehook.QAChecked, Status: voicehook.QAFlagged,
		Notes: "WER 0.250 (3 of 12 words differ; limit 0.100)",
		Result: &voicehook.QAResult{WER: 0.25, ScriptWords: 12, Differences: []voicehook.QADifference{
			{Kind: voicehook.DiffSubstitution, Expected: "Dr.", Heard: "door", At: 3.42, End: 3.7, ScriptIndex: 2},
			{Kind: voicehook.DiffDeletion, Expected: "quickly", At: 5.1, ScriptIndex: 6},
			{Kind: voicehook.DiffInsertion, Heard: "um", At: 7, End: 7.2, ScriptIndex: 9},
		}},
	}
}

const flaggedNotes = "WER 0.250 (3 of 12 words differ; limit 0.100)\n" +
	`substitution at 0:03.42: "Dr." heard as "door"` + "\n" +
	`deletion at 0:05.10: "quickly"` + "\n" +
	`insertion at 0:07.00: "um"`

// TestSetSegmentQA: the named QA fields are written with the segment's QA
// as Segment.WithQA shows it, and nothing else of the segment changes.
// Writing again is harmless.
func TestSetSegmentQA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fields func(*Fields) // which QA fields are named
		before map[string]any
		check  func(seg string) voicehook.QACheck
		want   map[string]any
	}{
		{
			name:   "flagged, every field named",
			fields: nameQAFields,
			check:  flaggedCheck,
			want:   map[string]any{"QA Status": "flagged", "QA WER": 0.25, "QA Notes": flaggedNotes},
		},
		{
			name:   "passed without differences",
			fields: nameQAFields,
			check: func(seg string) voicehook.QACheck {
				return voicehook.QACheck{SegmentID: seg, State: voicehook.QAChecked, Status: voicehook.QAPassed,
					Notes: "WER 0.000 (0 of 12 words differ; limit 0.100)", Result: &voicehook.QAResult{WER: 0, ScriptWords: 12}}
			},
			// A WER of 0 is a number Airtable shows as 0, not an empty cell.
			want: map[string]any{"QA Status": "passed", "QA WER": 0.0, "QA Notes": "WER 0.000 (0 of 12 words differ; limit 0.100)"},
		},
		{
			name:   "only the status named",
			fields: func(f *Fields) { f.SegmentQAStatus = "QA Status" },
			before: map[string]any{"QA WER": 0.5, "QA Notes": "the user's own notes"},
			check:  flaggedCheck,
			want:   map[string]any{"QA Status": "flagged", "QA WER": 0.5, "QA Notes": "the user's own notes"},
		},
		{
			name:   "only the notes named",
			fields: func(f *Fields) { f.SegmentQANotes = "QA Notes" },
			check:  flaggedCheck,
			want:   map[string]any{"QA Notes": flaggedNotes},
		},
		{
			// An errored check has no result: the WER of an earlier
			// voiceover must not stay beside "unchecked".
			name:   "errored: unchecked, the old WER cleared",
			fields: nameQAFields,
			before: map[string]any{"QA Status": "passed", "QA WER": 0.02, "QA Notes": "WER 0.020"},
			check: func(seg string) voicehook.QACheck {
				return voicehook.QACheck{SegmentID: seg, State: voicehook.QAErrored, Status: voicehook.QAFlagged,
					Notes: "speech to text refused the audio: 400 invalid_audio"}
			},
			want: map[string]any{"QA Status": "unchecked", "QA Notes": "speech to text refused the audio: 400 invalid_audio"},
		},
		{
			name:   "no status yet is unchecked",
			fields: func(f *Fields) { f.SegmentQAStatus = "QA Status" },
			check: func(seg string) voicehook.QACheck {
				return voicehook.QACheck{SegmentID: seg, State: voicehook.QASubmitted}
			},
			want: map[string]any{"QA Status": "unchecked"},
		},
		{
			name:   "text fields for status and notes",
			fields: func(f *Fields) { f.SegmentQAStatus, f.SegmentQANotes = "Name", "Voiceover" },
			check:  flaggedCheck,
			want:   map[string]any{"Name": "flagged", "Voiceover": flaggedNotes},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			schema := qaSchema(allQAChoices...)
			// "Voiceover" as a long text field, for the last case.
			schema = schema.WithoutField("Segments", "Voiceover").WithField("Segments", airtabletest.Field{Name: "Voiceover", Type: airtabletest.MultilineText})
			emu := newEmulator(t, airtabletest.Options{Schema: &schema})
			cfg := testConfig(emu, nil)
			tt.fields(&cfg.Fields)
			r := newRecords(t, cfg)
			fields := map[string]any{"Name": "scene 1", "Status": "voiceover_ready"}
			for k, v := range tt.before {
				fields[k] = v
			}
			seg := insert(t, emu, "Segments", fields)
			want := map[string]any{"Name": "scene 1", "Status": "voiceover_ready"}
			for k, v := range tt.want {
				want[k] = v
			}
			for i := range 2 { // safe to repeat
				if err := r.SetSegmentQA(context.Background(), seg, tt.check(seg)); err != nil {
					t.Fatalf("write %d: %v", i+1, err)
				}
				rec, _ := emu.Record("Segments", seg)
				if diff := cmp.Diff(want, rec.Fields); diff != "" {
					t.Fatalf("after write %d, segment fields (-want +got):\n%s", i+1, diff)
				}
			}
			if n := emu.Requests()["PATCH Segments"]; n != 2 {
				t.Errorf("%d PATCH Segments requests, want 2 (one a write)", n)
			}
		})
	}
}

// TestSetSegmentQANoFields: with no QA field named there is nothing to
// write, and no request is made (not even for a segment that is not a
// record id).
func TestSetSegmentQANoFields(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	seg := insert(t, emu, "Segments", map[string]any{"Name": "scene 1"})
	for _, id := range []string{seg, "scene-12"} {
		if err := r.SetSegmentQA(context.Background(), id, flaggedCheck(id)); err != nil {
			t.Errorf("SetSegmentQA(%q): %v", id, err)
		}
	}
	if n := emu.TotalRequests(); n != 0 {
		t.Errorf("%d requests, want none: %v", n, emu.Requests())
	}
	var _ voicehook.QARecords = r
}

// TestSetSegmentQARefused: what no retry can fix is permanent and names
// the field (and its flag) to fix, and the segment is left as it was.
func TestSetSegmentQARefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		schema   airtabletest.Schema
		mutate   func(*Config)
		segment  string // "" → a fresh segment
		deleted  bool
		wantType string // the Airtable error type found with errors.As
		wantMsg  []string
		notFound bool
	}{
		{
			name:     "select lacks the flagged option",
			schema:   qaSchema("passed", "unchecked"),
			wantType: "INVALID_MULTIPLE_CHOICE_OPTIONS",
			wantMsg: []string{`Segments field "QA Status" has no option "flagged"`, "--airtable-field-qa-status",
				"INVALID_MULTIPLE_CHOICE_OPTIONS"},
		},
		{
			name:     "notes field missing",
			schema:   qaSchema(allQAChoices...).WithoutField("Segments", "QA Notes"),
			wantType: "UNKNOWN_FIELD_NAME",
			wantMsg:  []string{`table "Segments" has no field "QA Notes": add it or set --airtable-field-qa-notes`},
		},
		{
			name:     "WER field is text",
			schema:   qaSchema(allQAChoices...).WithoutField("Segments", "QA WER").WithField("Segments", airtabletest.Field{Name: "QA WER", Type: airtabletest.SingleLineText}),
			wantType: "INVALID_VALUE_FOR_COLUMN",
			wantMsg:  []string{`Segments field "QA WER" (--airtable-field-qa-wer) refused the value`, "number or percent"},
		},
		{
			name:     "segment deleted",
			schema:   qaSchema(allQAChoices...),
			deleted:  true,
			wantType: "ROW_DOES_NOT_EXIST",
			wantMsg:  []string{"is no longer a record of the Airtable table \"Segments\""},
			notFound: true,
		},
		{
			name:     "not a record id",
			schema:   qaSchema(allQAChoices...),
			segment:  "scene-12",
			wantMsg:  []string{`segment "scene-12" is not an Airtable record id`},
			notFound: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t, airtabletest.Options{Schema: &tt.schema})
			cfg := withQAFields(testConfig(emu, nil))
			r := newRecords(t, cfg)
			seg := tt.segment
			if seg == "" {
				seg = insert(t, emu, "Segments", map[string]any{"Name": "scene 1", "Status": "voiceover_ready"})
			}
			if tt.deleted {
				emu.Delete("Segments", seg)
			}
			err := r.SetSegmentQA(context.Background(), seg, flaggedCheck(seg))
			if !voicehook.IsPermanent(err) {
				t.Fatalf("err = %v; want a permanent error", err)
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n  %v\nlacks\n  %s", err, want)
				}
			}
			var ae *APIError
			if tt.wantType != "" && (!errors.As(err, &ae) || ae.Type != tt.wantType) {
				t.Errorf("err = %v; want an *APIError %s", err, tt.wantType)
			}
			if errors.Is(err, voicehook.ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.notFound, tt.notFound)
			}
			if strings.Contains(err.Error(), emu.Token) {
				t.Error("the error shows the token")
			}
			if rec, ok := emu.Record("Segments", seg); ok {
				if diff := cmp.Diff(map[string]any{"Name": "scene 1", "Status": "voiceover_ready"}, rec.Fields); diff != "" {
					t.Errorf("a refused write changed the segment (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestSetSegmentQARateLimited: a 429 is transient (the caller retries
// once the base's silence is over, which the next call then passes).
func TestSetSegmentQARateLimited(t *testing.T) {
	t.Parallel()
	schema := qaSchema(allQAChoices...)
	emu := newEmulator(t, airtabletest.Options{Schema: &schema})
	clock := voicehooktest.NewClock()
	r := newRecords(t, withQAFields(testConfig(emu, clock)))
	seg := insert(t, emu, "Segments", map[string]any{"Name": "scene 1"})
	ctx := context.Background()

	emu.FailNextOn("PATCH Segments", 1, 429)
	err := r.SetSegmentQA(ctx, seg, flaggedCheck(seg))
	if err == nil || voicehook.IsPermanent(err) {
		t.Fatalf("429: err = %v; want a transient error", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 429 {
		t.Errorf("429: err = %v; want the *APIError 429", err)
	}
	// During the silence nothing is sent and the error stays transient.
	sent := emu.TotalRequests()
	var se *SilenceError
	if err := r.SetSegmentQA(ctx, seg, flaggedCheck(seg)); !errors.As(err, &se) || voicehook.IsPermanent(err) {
		t.Fatalf("during the silence: err = %v; want a transient *SilenceError", err)
	}
	if got := emu.TotalRequests(); got != sent {
		t.Fatalf("%d requests during the silence", got-sent)
	}
	clock.Advance(34 * time.Second) // past 30 s and the largest jitter
	if err := r.SetSegmentQA(ctx, seg, flaggedCheck(seg)); err != nil {
		t.Fatalf("after the silence: %v", err)
	}
	rec, _ := emu.Record("Segments", seg)
	want := map[string]any{"Name": "scene 1", "QA Status": "flagged", "QA WER": 0.25, "QA Notes": flaggedNotes}
	if diff := cmp.Diff(want, rec.Fields); diff != "" {
		t.Errorf("segment fields (-want +got):\n%s", diff)
	}
}

// TestSetSegmentQAServerError: a 5xx is retried by the client (a PATCH of
// the same values is safe to repeat); once retries run out it is
// transient.
func TestSetSegmentQAServerError(t *testing.T) {
	t.Parallel()
	schema := qaSchema(allQAChoices...)
	emu := newEmulator(t, airtabletest.Options{Schema: &schema})
	r := newRecords(t, withQAFields(testConfig(emu, nil)))
	seg := insert(t, emu, "Segments", map[string]any{"Name": "scene 1"})
	ctx := context.Background()

	emu.FailNextOn("PATCH Segments", 1, 502)
	if err := r.SetSegmentQA(ctx, seg, flaggedCheck(seg)); err != nil {
		t.Fatalf("one 502: %v; want it retried", err)
	}
	emu.FailNextOn("PATCH Segments", 3, 503) // the first try and both retries
	if err := r.SetSegmentQA(ctx, seg, flaggedCheck(seg)); err == nil || voicehook.IsPermanent(err) {
		t.Fatalf("503s: err = %v; want a transient error", err)
	}
}

func TestClockTime(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sec  float64
		want string
	}{
		{0, "0:00.00"},
		{3.42, "0:03.42"},
		{5.1, "0:05.10"},
		{7, "0:07.00"},
		{59.996, "1:00.00"},
		{65.004, "1:05.00"},
		{754.25, "12:34.25"},
		{3725.5, "1:02:05.50"},
		{-0.2, "0:00.00"},
	} {
		if got := clockTime(tt.sec); got != tt.want {
			t.Errorf("clockTime(%v) = %q, want %q", tt.sec, got, tt.want)
		}
	}
}

func TestQANotesCell(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    voicehook.QACheck
		want string
	}{
		{"verdict with differences", flaggedCheck("recSeg"), flaggedNotes},
		{"notes only", voicehook.QACheck{Notes: "awaiting the transcript"}, "awaiting the transcript"},
		{"differences only", voicehook.QACheck{Result: &voicehook.QAResult{Differences: []voicehook.QADifference{
			{Kind: voicehook.DiffDeletion, Expected: "the", At: 1}}}}, `deletion at 0:01.00: "the"`},
		{"quotes and line breaks stay on one line", voicehook.QACheck{Result: &voicehook.QAResult{Differences: []voicehook.QADifference{
			{Kind: voicehook.DiffSubstitution, Expected: `"Hi"`, Heard: "hi\nthere", At: 0.5}}}},
			`substitution at 0:00.50: "\"Hi\"" heard as "hi\nthere"`},
		{"nothing", voicehook.QACheck{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, qaNotesCell("recSeg", tt.c)); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQANotesCellCut: a long list of differences is cut at a whole line
// to fit Airtable's cell, and says how many are left out and where they
// all are.
func TestQANotesCellCut(t *testing.T) {
	t.Parallel()
	var diffs []voicehook.QADifference
	for i := range 5000 {
		diffs = append(diffs, voicehook.QADifference{Kind: voicehook.DiffSubstitution, Expected: "Köln", Heard: fmt.Sprintf("cologne%d", i), At: float64(i)})
	}
	c := voicehook.QACheck{Notes: "WER 1.000", Result: &voicehook.QAResult{WER: 1, ScriptWords: 5000, Differences: diffs}}
	got := qaNotesCell("recSeg00000000001", c)
	if n := utf16Len(got); n > maxCellChars {
		t.Fatalf("%d characters, over %d", n, maxCellChars)
	}
	if n := utf16Len(got); n < maxCellChars-200 {
		t.Errorf("%d characters: cut much shorter than the cell", n)
	}
	lines := strings.Split(got, "\n")
	shown := len(lines) - 2 // the notes and the marker
	wantMarker := fmt.Sprintf("…[cut by voicehook at Airtable's cell limit: %d of 5000 differences not shown; GET /api/segments/recSeg00000000001 lists them all]", 5000-shown)
	if diff := cmp.Diff(wantMarker, lines[len(lines)-1]); diff != "" {
		t.Errorf("marker (-want +got):\n%s", diff)
	}
	if lines[0] != "WER 1.000" {
		t.Errorf("first line %q, want the notes", lines[0])
	}
	for i, l := range lines[1 : len(lines)-1] {
		if want := fmt.Sprintf(`substitution at %s: "Köln" heard as "cologne%d"`, clockTime(float64(i)), i); l != want {
			t.Fatalf("line %d = %q, want %q", i+1, l, want)
		}
	}

	// Notes alone over the limit are cut too, with the same marker.
	huge := voicehook.QACheck{Notes: strings.Repeat("é", maxCellChars+10), Result: &voicehook.QAResult{Differences: diffs[:3]}}
	got = qaNotesCell("recSeg00000000001", huge)
	if n := utf16Len(got); n > maxCellChars {
		t.Fatalf("huge notes: %d characters, over %d", n, maxCellChars)
	}
	if !strings.HasSuffix(got, "3 of 3 differences not shown; GET /api/segments/recSeg00000000001 lists them all]") {
		t.Errorf("huge notes end %q", got[len(got)-120:])
	}
}

// TestQAFieldFlags: the QA fields are optional flags, empty by default,
// and parsing names them.
func TestQAFieldFlags(t *testing.T) {
	t.Parallel()
	var cfg Config
	fs := flag.NewFlagSet("voicehook", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	for _, name := range []string{"airtable-field-qa-status", "airtable-field-qa-wer", "airtable-field-qa-notes"} {
		f := fs.Lookup(name)
		if f == nil {
			t.Fatalf("no flag --%s", name)
		}
		if f.DefValue != "" {
			t.Errorf("--%s defaults to %q, want empty", name, f.DefValue)
		}
	}
	if u := fs.Lookup("airtable-field-qa-wer").Usage; !strings.Contains(u, "format the field as percent to see 8.3%") {
		t.Errorf("--airtable-field-qa-wer usage %q lacks the percent hint", u)
	}
	if err := fs.Parse([]string{"--airtable-field-qa-status=QA", "--airtable-field-qa-wer=WER", "--airtable-field-qa-notes=Notes"}); err != nil {
		t.Fatal(err)
	}
	got := [3]string{cfg.Fields.SegmentQAStatus, cfg.Fields.SegmentQAWER, cfg.Fields.SegmentQANotes}
	if diff := cmp.Diff([3]string{"QA", "WER", "Notes"}, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	def := DefaultConfig()
	def.Token, def.Base = "pat", "appXXXXXXXXXXXXXX"
	if def.Fields.SegmentQAStatus != "" || def.Fields.SegmentQAWER != "" || def.Fields.SegmentQANotes != "" {
		t.Errorf("DefaultConfig names QA fields: %+v", def.Fields)
	}
	if p := def.Problems(); len(p) != 0 {
		t.Errorf("problems without QA fields: %v", p)
	}
}

// TestDiagnoseQAFields: doctor checks the QA fields once named: present,
// of a usable type, a select with every verdict as an option.
func TestDiagnoseQAFields(t *testing.T) {
	t.Parallel()
	percent := qaSchema(allQAChoices...).WithoutField("Segments", "QA WER").WithField("Segments", airtabletest.Field{Name: "QA WER", Type: "percent"})
	textStatus := qaSchema().WithoutField("Segments", "QA Status").WithField("Segments", airtabletest.Field{Name: "QA Status", Type: airtabletest.SingleLineText})
	textNotes := qaSchema(allQAChoices...).WithoutField("Segments", "QA Notes").WithField("Segments", airtabletest.Field{Name: "QA Notes", Type: airtabletest.SingleLineText})
	tests := []struct {
		name     string
		schema   airtabletest.Schema
		wantErrs []string // none: the check passes
	}{
		{name: "every QA field", schema: qaSchema(allQAChoices...)},
		{name: "WER as a percent field", schema: percent},
		{name: "status and notes as text", schema: textStatus},
		{name: "notes as single line text", schema: textNotes},
		{name: "select lacks flagged", schema: qaSchema("passed", "unchecked"),
			wantErrs: []string{`table "Segments" field "QA Status" has no option "flagged": add it`}},
		{name: "fields missing", schema: airtabletest.SeedSchema(), wantErrs: []string{
			`table "Segments" has no field "QA Status": add it or set --airtable-field-qa-status`,
			`table "Segments" has no field "QA WER": add it or set --airtable-field-qa-wer`,
			`table "Segments" has no field "QA Notes": add it or set --airtable-field-qa-notes`,
		}},
		{name: "WER as text", schema: qaSchema(allQAChoices...).WithoutField("Segments", "QA WER").WithField("Segments", airtabletest.Field{Name: "QA WER", Type: airtabletest.SingleLineText}),
			wantErrs: []string{`table "Segments" field "QA WER" is a singleLineText field; voicehook needs number or percent: change its type or set --airtable-field-qa-wer`}},
		{name: "notes as a checkbox", schema: qaSchema(allQAChoices...).WithoutField("Segments", "QA Notes").WithField("Segments", airtabletest.Field{Name: "QA Notes", Type: airtabletest.Checkbox}),
			wantErrs: []string{`field "QA Notes" is a checkbox field`, "--airtable-field-qa-notes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t, airtabletest.Options{Schema: &tt.schema})
			cfg := withQAFields(testConfig(emu, nil))
			ok, err := Diagnose(context.Background(), NewClient(cfg), cfg)
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("err %v; want ok", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; ok %q", ok)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n  %v\nlacks\n  %s", err, want)
				}
			}
		})
	}
}
