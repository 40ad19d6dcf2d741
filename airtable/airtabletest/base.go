package airtabletest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// maxCellChars is Airtable's limit for a text cell (long text holds up to
// 100,000 characters). The emulator counts UTF-16 code units, as
// JavaScript does, which is the strictest reading.
const maxCellChars = 100000

// base is the emulator's data: tables built from a Schema, and records.
type base struct {
	tables []*table
	byName map[string]*table
	byID   map[string]*table
	// lastCreated keeps createdTime strictly increasing, so "newest" is
	// never a tie.
	lastCreated time.Time
}

type table struct {
	id      string
	name    string
	fields  []*field
	byName  map[string]*field
	records map[string]*record
	order   []string // record ids in creation order
	counter int      // autoNumber
}

type field struct {
	Field
	id string
}

type record struct {
	id      string
	created time.Time
	// fields holds string, bool, float64 or []string (links), never an
	// empty value.
	fields map[string]any
}

func newBase(s Schema) (*base, error) {
	b := &base{byName: map[string]*table{}, byID: map[string]*table{}}
	for _, ts := range s.Tables {
		if _, dup := b.byName[ts.Name]; dup || ts.Name == "" {
			return nil, fmt.Errorf("table %q: empty or duplicate name", ts.Name)
		}
		t := &table{id: newID("tbl"), name: ts.Name, byName: map[string]*field{}, records: map[string]*record{}}
		for _, fs := range ts.Fields {
			if _, dup := t.byName[fs.Name]; dup || fs.Name == "" {
				return nil, fmt.Errorf("table %q field %q: empty or duplicate name", ts.Name, fs.Name)
			}
			f := &field{Field: fs, id: newID("fld")}
			f.Choices = slices.Clone(fs.Choices)
			t.fields = append(t.fields, f)
			t.byName[f.Name] = f
		}
		if len(t.fields) == 0 {
			return nil, fmt.Errorf("table %q has no fields (the first is the primary field)", ts.Name)
		}
		b.tables = append(b.tables, t)
		b.byName[t.name] = t
		b.byID[t.id] = t
	}
	for _, t := range b.tables {
		for _, f := range t.fields {
			if f.Type != Links {
				continue
			}
			lt, ok := b.byName[f.LinkedTable]
			if !ok {
				return nil, fmt.Errorf("table %q field %q links to unknown table %q", t.name, f.Name, f.LinkedTable)
			}
			if f.InverseField == "" {
				continue
			}
			inv, ok := lt.byName[f.InverseField]
			if !ok || inv.Type != Links || inv.LinkedTable != t.name || inv.InverseField != f.Name {
				return nil, fmt.Errorf("table %q field %q: inverse field %q of %q must be a link back to it", t.name, f.Name, f.InverseField, lt.name)
			}
		}
	}
	return b, nil
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID is prefix + 14 random characters, the shape of Airtable's ids
// (recXXXXXXXXXXXXXX).
func newID(prefix string) string {
	buf := make([]byte, 14)
	_, _ = rand.Read(buf)
	for i := range buf {
		buf[i] = idChars[int(buf[i])%len(idChars)]
	}
	return prefix + string(buf)
}

func (b *base) table(nameOrID string) (*table, bool) {
	if t, ok := b.byName[nameOrID]; ok {
		return t, true
	}
	t, ok := b.byID[nameOrID]
	return t, ok
}

// apiError is an error answer: its status and JSON body.
type apiError struct {
	status int
	body   any
}

func (e *apiError) Error() string {
	raw, _ := json.Marshal(e.body)
	return fmt.Sprintf("%d %s", e.status, raw)
}

// typed is Airtable's usual error shape: {"error":{"type","message"}}.
func typed(status int, typ, msg string) *apiError {
	return &apiError{status, map[string]any{"error": map[string]string{"type": typ, "message": msg}}}
}

// notFound is the bare shape Airtable uses for unknown bases, tables and
// records: {"error":"NOT_FOUND"}.
func notFound() *apiError { return &apiError{404, map[string]string{"error": "NOT_FOUND"}} }

// rateLimited is the list shape Airtable uses for 429:
// {"errors":[{"error","message"}]}.
func rateLimited() *apiError {
	return &apiError{429, map[string]any{"errors": []map[string]string{{
		"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later",
	}}}}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// cellValues is a write's fields after validation: a value per field, nil
// meaning "clear", and select options typecast would add.
type cellValues struct {
	values     map[string]any
	newChoices map[*field]string
}

// validate checks fields as Airtable does before writing anything: every
// name must exist, computed fields refuse values, every value must suit its
// field's type, a select value must be an option (unless typecast), and a
// link must name records of the linked table.
func (b *base) validate(t *table, in map[string]json.RawMessage, typecast bool) (cellValues, *apiError) {
	out := cellValues{values: map[string]any{}, newChoices: map[*field]string{}}
	for name, raw := range in {
		f, ok := t.byName[name]
		if !ok {
			return out, typed(422, "UNKNOWN_FIELD_NAME", fmt.Sprintf("Unknown field name: %q", name))
		}
		if f.Type == AutoNumber {
			return out, typed(422, "INVALID_VALUE_FOR_COLUMN", fmt.Sprintf("Field %q cannot accept a value because the field is computed", name))
		}
		if string(raw) == "null" {
			out.values[name] = nil
			continue
		}
		bad := typed(422, "INVALID_VALUE_FOR_COLUMN", fmt.Sprintf("Field %q cannot accept the provided value", name))
		switch f.Type {
		case SingleLineText, MultilineText, URL:
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return out, bad
			}
			if utf16Len(s) > maxCellChars {
				return out, typed(422, "INVALID_VALUE_FOR_COLUMN", fmt.Sprintf("Field %q cannot accept a value longer than %d characters", name, maxCellChars))
			}
			if f.Type == SingleLineText && strings.ContainsAny(s, "\r\n") {
				s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
			}
			out.values[name] = s
		case SingleSelect:
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return out, bad
			}
			if s != "" && !slices.Contains(f.Choices, s) {
				if !typecast {
					return out, typed(422, "INVALID_MULTIPLE_CHOICE_OPTIONS", fmt.Sprintf("Insufficient permissions to create new select option \"%q\"", s))
				}
				out.newChoices[f] = s
			}
			out.values[name] = s
		case Checkbox:
			var v bool
			if json.Unmarshal(raw, &v) != nil {
				return out, bad
			}
			out.values[name] = v
		case Number:
			var v float64
			if json.Unmarshal(raw, &v) != nil {
				return out, bad
			}
			out.values[name] = v
		case DateTime:
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return out, bad
			}
			tm, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				if tm, err = time.Parse(time.DateOnly, s); err != nil {
					return out, typed(422, "INVALID_VALUE_FOR_COLUMN", fmt.Sprintf("Field %q cannot accept the provided value: %q is not a date", name, s))
				}
			}
			out.values[name] = tm.UTC().Format("2006-01-02T15:04:05.000Z")
		case Links:
			var ids []string
			if json.Unmarshal(raw, &ids) != nil {
				return out, typed(422, "INVALID_VALUE_FOR_COLUMN", fmt.Sprintf("Value is not an array of record IDs. (field %q)", name))
			}
			lt := b.byName[f.LinkedTable]
			var uniq []string
			for _, id := range ids {
				if _, ok := lt.records[id]; !ok {
					return out, typed(422, "ROW_DOES_NOT_EXIST", fmt.Sprintf("Record ID %s does not exist", id))
				}
				if !slices.Contains(uniq, id) {
					uniq = append(uniq, id)
				}
			}
			out.values[name] = uniq
		default:
			return out, bad
		}
	}
	return out, nil
}

// insert creates a record from validated values.
func (b *base) insert(t *table, cv cellValues) *record {
	now := time.Now().UTC().Truncate(time.Millisecond)
	if !now.After(b.lastCreated) {
		now = b.lastCreated.Add(time.Millisecond)
	}
	b.lastCreated = now
	r := &record{id: newID("rec"), created: now, fields: map[string]any{}}
	for _, f := range t.fields {
		if f.Type == AutoNumber {
			t.counter++
			r.fields[f.Name] = float64(t.counter)
		}
	}
	t.records[r.id] = r
	t.order = append(t.order, r.id)
	b.apply(t, r, cv)
	return r
}

// apply writes validated values to r, keeping inverse links in step: a
// record linked from r lists r in its inverse field, and stops listing it
// when the link goes.
func (b *base) apply(t *table, r *record, cv cellValues) {
	for f, choice := range cv.newChoices {
		if !slices.Contains(f.Choices, choice) {
			f.Choices = append(f.Choices, choice)
		}
	}
	for name, v := range cv.values {
		f := t.byName[name]
		if f.Type == Links {
			old, _ := r.fields[name].([]string)
			ids, _ := v.([]string)
			b.relink(f, r.id, old, ids)
		}
		if isEmpty(v) {
			delete(r.fields, name)
		} else {
			r.fields[name] = v
		}
	}
}

func (b *base) relink(f *field, id string, old, ids []string) {
	if f.InverseField == "" {
		return
	}
	lt := b.byName[f.LinkedTable]
	for _, o := range old {
		if other, ok := lt.records[o]; ok && !slices.Contains(ids, o) {
			back, _ := other.fields[f.InverseField].([]string)
			back = slices.DeleteFunc(slices.Clone(back), func(x string) bool { return x == id })
			setOrDelete(other.fields, f.InverseField, back)
		}
	}
	for _, n := range ids {
		if other, ok := lt.records[n]; ok && !slices.Contains(old, n) {
			back, _ := other.fields[f.InverseField].([]string)
			if !slices.Contains(back, id) {
				setOrDelete(other.fields, f.InverseField, append(slices.Clone(back), id))
			}
		}
	}
}

// remove deletes a record and the links to it.
func (b *base) remove(t *table, id string) bool {
	r, ok := t.records[id]
	if !ok {
		return false
	}
	for _, f := range t.fields {
		if f.Type == Links {
			old, _ := r.fields[f.Name].([]string)
			b.relink(f, id, old, nil)
		}
	}
	delete(t.records, id)
	t.order = slices.DeleteFunc(t.order, func(x string) bool { return x == id })
	return true
}

func setOrDelete(m map[string]any, k string, ids []string) {
	if len(ids) == 0 {
		delete(m, k)
		return
	}
	m[k] = ids
}

// isEmpty is what Airtable leaves out of a record on read: an unchecked
// checkbox, an empty string, an empty list, nothing.
func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case []string:
		return len(v) == 0
	}
	return false
}

// view is a record as the API returns it: {"id","createdTime","fields"},
// empty fields left out, optionally only the fields named.
func (b *base) view(t *table, r *record, only []string) map[string]any {
	fields := map[string]any{}
	for name, v := range r.fields {
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		if ids, ok := v.([]string); ok {
			v = slices.Clone(ids)
		}
		fields[name] = v
	}
	return map[string]any{"id": r.id, "createdTime": r.created.Format("2006-01-02T15:04:05.000Z"), "fields": fields}
}

// row is a record as a formula sees it.
type row struct {
	b *base
	t *table
	r *record
}

func (w row) recordID() string { return w.r.id }

func (w row) formulaValue(name string) string {
	v := w.r.fields[name]
	switch v := v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "1"
		}
		return "0"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []string:
		// Inside a formula a link is its records' primary field values,
		// not their ids: the reason FIND(id, ARRAYJOIN(link)) never works.
		lt := w.b.byName[w.t.byName[name].LinkedTable]
		prim := lt.fields[0].Name
		var names []string
		for _, id := range v {
			if other, ok := lt.records[id]; ok {
				names = append(names, row{w.b, lt, other}.formulaValue(prim))
			}
		}
		return strings.Join(names, ", ")
	}
	return ""
}
