package airtabletest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func upsertBody(on []string, fields ...map[string]any) map[string]any {
	body := records(fields...)
	body["performUpsert"] = map[string]any{"fieldsToMergeOn": on}
	return body
}

// TestUpsert: a record without an id updates the one record whose merge
// fields hold its values, or is created; the reply says which.
func TestUpsert(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	old, err := s.Insert("Webhook Events", map[string]any{"Event ID": "evt_1", "Endpoint": "/a"})
	if err != nil {
		t.Fatal(err)
	}
	status, got := call(t, s, "PATCH", tablePath(s, "Webhook Events"), upsertBody([]string{"Event ID"},
		map[string]any{"Event ID": "evt_1", "Processed": true},
		map[string]any{"Event ID": "evt_2", "Processed": true}))
	if status != 200 {
		t.Fatalf("upsert = %d %v", status, got)
	}
	recs := s.Records("Webhook Events")
	if len(recs) != 2 || recs[0].ID != old {
		t.Fatalf("records after upsert: %+v", recs)
	}
	want := map[string]any{"createdRecords": []any{recs[1].ID}, "updatedRecords": []any{old}}
	if diff := cmp.Diff(want, map[string]any{"createdRecords": got["createdRecords"], "updatedRecords": got["updatedRecords"]}); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"Event ID": "evt_1", "Endpoint": "/a", "Processed": true}, recs[0].Fields); diff != "" {
		t.Errorf("updated record (-want +got):\n%s", diff)
	}
	// Again: both update, nothing is created.
	if status, got := call(t, s, "PATCH", tablePath(s, "Webhook Events"), upsertBody([]string{"Event ID"},
		map[string]any{"Event ID": "evt_2", "Success": true})); status != 200 || len(got["createdRecords"].([]any)) != 0 {
		t.Fatalf("second upsert = %d %v", status, got)
	}
	if n := len(s.Records("Webhook Events")); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
}

func TestUpsertRefusals(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	for range 2 {
		if _, err := s.Insert("Webhook Events", map[string]any{"Event ID": "evt_dup"}); err != nil {
			t.Fatal(err)
		}
	}
	path := tablePath(s, "Webhook Events")
	tests := []struct {
		name   string
		method string
		body   any
		want   map[string]any
	}{
		{"unknown merge field", "PATCH", upsertBody([]string{"Nope"}, map[string]any{"Event ID": "x"}),
			typedErr("UNKNOWN_FIELD_NAME", `Unknown field name: "Nope"`)},
		{"no merge field", "PATCH", upsertBody([]string{}, map[string]any{"Event ID": "x"}),
			typedErr("INVALID_REQUEST_UNKNOWN", "fieldsToMergeOn must name between 1 and 3 fields")},
		{"merge on a checkbox", "PATCH", upsertBody([]string{"Processed"}, map[string]any{"Processed": true}),
			typedErr("INVALID_REQUEST_UNKNOWN", `Field "Processed" of type checkbox cannot be used in fieldsToMergeOn`)},
		{"record without the merge value", "PATCH", upsertBody([]string{"Event ID"}, map[string]any{"Processed": true}),
			typedErr("INVALID_VALUE_FOR_COLUMN", `Field "Event ID" is in fieldsToMergeOn, so every record must give it a value`)},
		{"two matches", "PATCH", upsertBody([]string{"Event ID"}, map[string]any{"Event ID": "evt_dup"}),
			typedErr("INVALID_REQUEST_UNKNOWN", "2 records match the fieldsToMergeOn values; an upsert needs at most one")},
		{"same key twice", "PATCH", upsertBody([]string{"Event ID"}, map[string]any{"Event ID": "a"}, map[string]any{"Event ID": "a"}),
			typedErr("INVALID_RECORDS", "Two records of the request have the same values in fieldsToMergeOn")},
		{"upsert on create", "POST", upsertBody([]string{"Event ID"}, map[string]any{"Event ID": "a"}),
			typedErr("INVALID_REQUEST_UNKNOWN", "Invalid request: parameter validation failed. Check your request data.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, got := call(t, s, tt.method, path, tt.body)
			if status != 422 {
				t.Errorf("status = %d, want 422", status)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
	if n := len(s.Records("Webhook Events")); n != 2 {
		t.Errorf("%d records after refused upserts, want 2", n)
	}
}

// TestBaseChanges: what a user changing the base does to requests.
func TestBaseChanges(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	seg, err := s.Insert("Segments", map[string]any{"Name": "scene 1"})
	if err != nil {
		t.Fatal(err)
	}
	patch := map[string]any{"records": []any{map[string]any{"id": seg, "fields": map[string]any{"Voiceover": "https://x/a.mp3"}}}}

	s.SetWriteScope(false)
	if status, got := call(t, s, "PATCH", tablePath(s, "Segments"), patch); status != 403 ||
		!cmp.Equal(got, typedErr("INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "Invalid permissions, or the requested model was not found. "+
			"Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.")) {
		t.Errorf("PATCH without write scope = %d %v", status, got)
	}
	if status, _ := call(t, s, "GET", tablePath(s, "Segments"), nil); status != 200 {
		t.Errorf("GET without write scope = %d, want 200", status)
	}
	s.SetWriteScope(true)

	if err := s.RenameField("Segments", "Voiceover", "Audio"); err != nil {
		t.Fatal(err)
	}
	if status, got := call(t, s, "PATCH", tablePath(s, "Segments"), patch); status != 422 ||
		!cmp.Equal(got, typedErr("UNKNOWN_FIELD_NAME", `Unknown field name: "Voiceover"`)) {
		t.Errorf("PATCH of a renamed field = %d %v", status, got)
	}
	if err := s.RenameTable("Segments", "Scenes"); err != nil {
		t.Fatal(err)
	}
	if status, got := call(t, s, "GET", tablePath(s, "Segments"), nil); status != 404 || !cmp.Equal(got, map[string]any{"error": "NOT_FOUND"}) {
		t.Errorf("GET of a renamed table = %d %v", status, got)
	}
	// Links follow the rename.
	if _, err := s.Insert("Jobs", map[string]any{"Related Segment": []string{seg}}); err != nil {
		t.Fatal(err)
	}
	if rec, ok := s.Record("Scenes", seg); !ok || len(rec.Fields["Jobs"].([]string)) != 1 {
		t.Errorf("renamed table's record = %+v", rec)
	}
}
