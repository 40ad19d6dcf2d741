package airtabletest

import (
	"fmt"
	"slices"
	"strings"
)

// performUpsert is the update endpoint's upsert option:
// {"performUpsert":{"fieldsToMergeOn":["Event ID"]},"records":[{"fields":…}]}.
// A record without an id updates the one record whose merge fields hold
// the values written, or is created when none does. Like every write it
// is all or nothing.
type performUpsert struct {
	FieldsToMergeOn []string `json:"fieldsToMergeOn"`
}

// mergeTypes are the field types Airtable lets an upsert merge on.
var mergeTypes = []string{SingleLineText, MultilineText, Number, SingleSelect, DateTime}

func (s *Server) upsert(t *table, wb writeBody) (int, any) {
	on := wb.PerformUpsert.FieldsToMergeOn
	if len(on) < 1 || len(on) > 3 {
		return fail(typed(422, "INVALID_REQUEST_UNKNOWN", "fieldsToMergeOn must name between 1 and 3 fields"))
	}
	for _, name := range on {
		f, ok := t.byName[name]
		if !ok {
			return fail(typed(422, "UNKNOWN_FIELD_NAME", fmt.Sprintf("Unknown field name: %q", name)))
		}
		if !slices.Contains(mergeTypes, f.Type) {
			return fail(typed(422, "INVALID_REQUEST_UNKNOWN", fmt.Sprintf("Field %q of type %s cannot be used in fieldsToMergeOn", name, f.Type)))
		}
	}
	// Decide every record's target before writing any.
	targets := make([]*record, len(wb.Records)) // nil: create
	vals := make([]cellValues, len(wb.Records))
	seenIDs, seenKeys := map[string]bool{}, map[string]bool{}
	for i, rec := range wb.Records {
		var e *apiError
		if vals[i], e = s.data.validate(t, rec.Fields, wb.Typecast); e != nil {
			return fail(e)
		}
		if rec.ID != "" {
			r, ok := t.records[rec.ID]
			if !ok {
				return fail(typed(422, "ROW_DOES_NOT_EXIST", fmt.Sprintf("Record ID %s does not exist in this table", rec.ID)))
			}
			if seenIDs[rec.ID] {
				return fail(typed(422, "INVALID_RECORDS", fmt.Sprintf("Record ID %s appears more than once", rec.ID)))
			}
			seenIDs[rec.ID] = true
			targets[i] = r
			continue
		}
		key := make([]string, len(on))
		for j, name := range on {
			v, ok := vals[i].values[name]
			if !ok || isEmpty(v) {
				return fail(typed(422, "INVALID_VALUE_FOR_COLUMN", fmt.Sprintf("Field %q is in fieldsToMergeOn, so every record must give it a value", name)))
			}
			key[j] = fmt.Sprint(v)
		}
		k := strings.Join(key, "\x00")
		if seenKeys[k] {
			return fail(typed(422, "INVALID_RECORDS", "Two records of the request have the same values in fieldsToMergeOn"))
		}
		seenKeys[k] = true
		var matches []*record
		for _, id := range t.order {
			if r := t.records[id]; mergeKey(r, on) == k {
				matches = append(matches, r)
			}
		}
		switch len(matches) {
		case 0:
		case 1:
			if seenIDs[matches[0].id] {
				return fail(typed(422, "INVALID_RECORDS", fmt.Sprintf("Record ID %s appears more than once", matches[0].id)))
			}
			seenIDs[matches[0].id] = true
			targets[i] = matches[0]
		default:
			return fail(typed(422, "INVALID_REQUEST_UNKNOWN", fmt.Sprintf("%d records match the fieldsToMergeOn values; an upsert needs at most one", len(matches))))
		}
	}
	out := []any{}
	created, updated := []string{}, []string{}
	for i, r := range targets {
		if r == nil {
			r = s.data.insert(t, vals[i])
			created = append(created, r.id)
		} else {
			s.data.apply(t, r, vals[i])
			updated = append(updated, r.id)
		}
		out = append(out, s.data.view(t, r, nil))
	}
	return 200, map[string]any{"records": out, "createdRecords": created, "updatedRecords": updated}
}

// mergeKey is r's values in the fields merged on, as upsert compares them.
func mergeKey(r *record, on []string) string {
	key := make([]string, len(on))
	for j, name := range on {
		if v, ok := r.fields[name]; ok {
			key[j] = fmt.Sprint(v)
		}
	}
	return strings.Join(key, "\x00")
}
