package airtable

// Design: a segment's QA (--qa stt) is shown in up to three optional
// Segments fields the user names by flag: the verdict, the word error
// rate and the notes. Each is written only when named, so a base with the
// seed's fields alone never sees an unknown field. The values are the
// segment's QA exactly as Segment.WithQA computes it (an errored check is
// "unchecked"), written with one PATCH of the named fields through the
// batcher, like FinishJob's segment write: the same gate and pacing, the
// same retries of a 5xx, the same classification (429 and 5xx transient,
// other 4xx permanent). The PATCH sets the same values again when
// repeated, so retries are safe.
//
// A refusal that no retry fixes names the field and its flag, because the
// operator's fix is in the base (a missing select option, a missing field,
// a field of the wrong type) or in the flag.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/voicehook/voicehook"
)

var _ voicehook.QARecords = (*Records)(nil)

// SetSegmentQA shows c in the segment's QA fields. With none named it does
// nothing and sends nothing.
func (r *Records) SetSegmentQA(ctx context.Context, segmentID string, c voicehook.QACheck) error {
	cells := r.qaCells(segmentID, c)
	if len(cells) == 0 {
		return nil
	}
	if !isRecordID(segmentID) {
		return voicehook.Permanent(fmt.Sprintf("segment %q is not an Airtable record id: its QA cannot be shown", segmentID), voicehook.ErrNotFound)
	}
	if _, err := r.b.update(ctx, r.cfg.Tables.Segments, segmentID, cells); err != nil {
		return r.qaWriteError(segmentID, cells, err)
	}
	return nil
}

// qaCells is the PATCH of the named QA fields.
func (r *Records) qaCells(segmentID string, c voicehook.QACheck) map[string]any {
	f := r.cfg.Fields
	var seg voicehook.Segment
	seg.WithQA(c)
	cells := map[string]any{}
	if f.SegmentQAStatus != "" {
		cells[f.SegmentQAStatus] = string(seg.QAStatus)
	}
	if f.SegmentQAWER != "" {
		// Without a result the cell is cleared (null): a WER left from the
		// segment's previous voiceover must not stand beside "unchecked".
		// NaN or ±Inf cannot be sent as JSON; no WER is truer than none.
		var wer any
		if seg.QAWER != nil && !math.IsNaN(*seg.QAWER) && !math.IsInf(*seg.QAWER, 0) {
			wer = *seg.QAWER
		}
		cells[f.SegmentQAWER] = wer
	}
	if f.SegmentQANotes != "" {
		cells[f.SegmentQANotes] = qaNotesCell(segmentID, c)
	}
	return cells
}

// qaNotesCell is the notes, then each difference on a line of its own. A
// list too long for Airtable's cell is cut after a whole line and says
// how many differences are left out and where to see them all.
func qaNotesCell(segmentID string, c voicehook.QACheck) string {
	notes := strings.ToValidUTF8(c.Notes, "\uFFFD")
	var diffs []voicehook.QADifference
	if c.Result != nil {
		diffs = c.Result.Differences
	}
	if len(diffs) == 0 {
		return textCell(notes)
	}
	lines := make([]string, len(diffs))
	for i, d := range diffs {
		lines[i] = diffLine(d)
	}
	all := lines
	if notes != "" {
		all = append([]string{notes}, lines...)
	}
	if full := strings.Join(all, "\n"); utf16Len(full) <= maxCellChars {
		return full
	}
	marker := func(omitted int) string {
		return fmt.Sprintf("\n…[cut by voicehook at Airtable's cell limit: %d of %d differences not shown; GET /api/segments/%s lists them all]",
			omitted, len(diffs), segmentID)
	}
	// The marker with every difference left out is the longest it gets.
	budget := maxCellChars - utf16Len(marker(len(diffs)))
	if utf16Len(notes) > budget {
		return prefixUTF16(notes, budget) + marker(len(diffs))
	}
	var b strings.Builder
	b.WriteString(notes)
	n, shown := utf16Len(notes), 0
	for _, l := range lines {
		sep := 0
		if b.Len() > 0 {
			sep = 1
		}
		w := utf16Len(l) + sep
		if n+w > budget {
			break
		}
		if sep == 1 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
		n += w
		shown++
	}
	return b.String() + marker(len(diffs)-shown)
}

// prefixUTF16 is the longest prefix of s of at most n UTF-16 code units,
// cut on a character boundary.
func prefixUTF16(s string, n int) string {
	used := 0
	for i, r := range s {
		if used+utf16.RuneLen(r) > n {
			return s[:i]
		}
		used += utf16.RuneLen(r)
	}
	return s
}

// diffLine is one difference as the notes list it:
//
//	substitution at 0:03.42: "Dr." heard as "door"
//	deletion at 0:05.10: "quickly"
//	insertion at 0:07.00: "um"
//
// Words are quoted Go-style so that a quote or a line break inside one
// cannot break the one-line-per-difference layout.
func diffLine(d voicehook.QADifference) string {
	at := clockTime(d.At)
	switch d.Kind {
	case voicehook.DiffDeletion:
		return fmt.Sprintf("deletion at %s: %q", at, d.Expected)
	case voicehook.DiffInsertion:
		return fmt.Sprintf("insertion at %s: %q", at, d.Heard)
	case "":
		d.Kind = voicehook.DiffSubstitution
	}
	return fmt.Sprintf("%s at %s: %q heard as %q", d.Kind, at, d.Expected, d.Heard)
}

// clockTime is a time in the audio as a player shows it, to the
// hundredth of a second: 0:03.42, 12:34.25, 1:02:05.50.
func clockTime(sec float64) string {
	if !(sec > 0) || math.IsInf(sec, 0) { // negative, NaN or nonsense
		sec = 0
	}
	cs := int64(math.Round(sec * 100))
	h, m, s, frac := cs/360000, cs/6000%60, cs/100%60, cs%100
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d.%02d", h, m, s, frac)
	}
	return fmt.Sprintf("%d:%02d.%02d", m, s, frac)
}

// qaFieldSpecs are the specs of the QA fields named in the configuration.
func (r *Records) qaFieldSpecs() []fieldSpec {
	f := &r.cfg.Fields
	qa := []*string{&f.SegmentQAStatus, &f.SegmentQAWER, &f.SegmentQANotes}
	var out []fieldSpec
	for _, s := range fieldSpecs {
		if p := s.ptr(f); slices.Contains(qa, p) && *p != "" {
			out = append(out, s)
		}
	}
	return out
}

// qaSpecNamed is the spec of the QA field configured as name.
func (r *Records) qaSpecNamed(name string) (fieldSpec, bool) {
	for _, s := range r.qaFieldSpecs() {
		if *s.ptr(&r.cfg.Fields) == name {
			return s, true
		}
	}
	return fieldSpec{}, false
}

var fieldValueMessage = regexp.MustCompile(`Field "(.*?)" cannot accept`)

// qaWriteError gives a failed QA write its context; a permanent refusal
// says which field to fix, and how.
func (r *Records) qaWriteError(segmentID string, cells map[string]any, err error) error {
	var ae *APIError
	if !voicehook.IsPermanent(err) || !errors.As(err, &ae) {
		return fmt.Errorf("writing QA to segment %s: %w", segmentID, err)
	}
	table := r.cfg.Tables.Segments
	switch ae.Type {
	case "ROW_DOES_NOT_EXIST":
		return voicehook.Permanent(fmt.Sprintf("segment %s is no longer a record of the Airtable table %q: its QA cannot be shown", segmentID, table),
			fmt.Errorf("%w: %w", voicehook.ErrNotFound, err))
	case "UNKNOWN_FIELD_NAME":
		if m := unknownFieldMessage.FindStringSubmatch(ae.Message); m != nil {
			if s, ok := r.qaSpecNamed(m[1]); ok {
				return voicehook.Permanent(fmt.Sprintf("table %q has no field %q: add it or set --airtable-field-%s", table, m[1], s.flag), err)
			}
		}
	case "INVALID_MULTIPLE_CHOICE_OPTIONS":
		// The status is the only select value a QA write holds.
		if name := r.cfg.Fields.SegmentQAStatus; name != "" {
			return voicehook.Permanent(fmt.Sprintf("%s field %q has no option %q: add the options passed, flagged and unchecked (voicehook writes without typecast, so Airtable refuses values that are not options) or set --airtable-field-qa-status",
				table, name, cells[name]), err)
		}
	case "INVALID_VALUE_FOR_COLUMN":
		if m := fieldValueMessage.FindStringSubmatch(ae.Message); m != nil {
			if s, ok := r.qaSpecNamed(m[1]); ok {
				return voicehook.Permanent(fmt.Sprintf("%s field %q (--airtable-field-%s) refused the value %v: its type must be %s",
					table, m[1], s.flag, cells[m[1]], strings.Join(s.types, " or ")), err)
			}
		}
	}
	var named []string
	for _, s := range r.qaFieldSpecs() {
		named = append(named, fmt.Sprintf("%q (--airtable-field-%s)", *s.ptr(&r.cfg.Fields), s.flag))
	}
	return voicehook.Permanent(fmt.Sprintf("Airtable refused the QA of segment %s in the %s fields %s", segmentID, table, strings.Join(named, ", ")), err)
}
