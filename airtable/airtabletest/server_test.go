package airtabletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.RateLimit == 0 {
		opts.RateLimit = -1 // most tests are not about the limit
	}
	s := New(opts)
	t.Cleanup(s.Close)
	return s
}

// call sends a request with the server's token and decodes the reply.
func call(t *testing.T, s *Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	return callAs(t, s, s.Token, method, path, body)
}

func callAs(t *testing.T, s *Server, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func tablePath(s *Server, table string) string {
	return "/v0/" + s.Base + "/" + url.PathEscape(table)
}

func records(fields ...map[string]any) map[string]any {
	var recs []any
	for _, f := range fields {
		recs = append(recs, map[string]any{"fields": f})
	}
	return map[string]any{"records": recs}
}

func typedErr(typ, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"type": typ, "message": msg}}
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	seg, err := s.Insert("Segments", map[string]any{"Name": "scene 1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		token  string
		method string
		path   string
		body   any
		status int
		want   map[string]any
	}{
		{"no token", "-", "GET", tablePath(s, "Jobs"), nil, 401, typedErr("AUTHENTICATION_REQUIRED", "Authentication required")},
		{"wrong token", "patWrong", "GET", tablePath(s, "Jobs"), nil, 401, typedErr("AUTHENTICATION_REQUIRED", "Authentication required")},
		{"unknown base", "", "GET", "/v0/appUnknownBase00/Jobs", nil, 404, map[string]any{"error": "NOT_FOUND"}},
		{"unknown table", "", "GET", tablePath(s, "Scenes"), nil, 404, map[string]any{"error": "NOT_FOUND"}},
		{"unknown record", "", "GET", tablePath(s, "Jobs") + "/recAAAAAAAAAAAAAA", nil, 404, map[string]any{"error": "NOT_FOUND"}},
		{"unknown field", "", "POST", tablePath(s, "Jobs"), records(map[string]any{"Duration": 5}), 422,
			typedErr("UNKNOWN_FIELD_NAME", `Unknown field name: "Duration"`)},
		{"select value not an option", "", "POST", tablePath(s, "Jobs"), records(map[string]any{"Status": "done"}), 422,
			typedErr("INVALID_MULTIPLE_CHOICE_OPTIONS", `Insufficient permissions to create new select option ""done""`)},
		{"checkbox given a string", "", "POST", tablePath(s, "Webhook Events"), records(map[string]any{"Processed": "yes"}), 422,
			typedErr("INVALID_VALUE_FOR_COLUMN", `Field "Processed" cannot accept the provided value`)},
		{"computed field", "", "POST", tablePath(s, "Jobs"), records(map[string]any{"Job ID": 3}), 422,
			typedErr("INVALID_VALUE_FOR_COLUMN", `Field "Job ID" cannot accept a value because the field is computed`)},
		{"link to no record", "", "POST", tablePath(s, "Jobs"), records(map[string]any{"Related Segment": []string{"recAAAAAAAAAAAAAA"}}), 422,
			typedErr("ROW_DOES_NOT_EXIST", "Record ID recAAAAAAAAAAAAAA does not exist")},
		{"eleven records", "", "POST", tablePath(s, "Segments"), records(make([]map[string]any, 11)...), 422,
			typedErr("INVALID_RECORDS", "A maximum of 10 records can be created per request but you have provided 11.")},
		{"patch unknown record", "", "PATCH", tablePath(s, "Segments"), map[string]any{"records": []any{map[string]any{"id": "recAAAAAAAAAAAAAA", "fields": map[string]any{}}}}, 422,
			typedErr("ROW_DOES_NOT_EXIST", "Record ID recAAAAAAAAAAAAAA does not exist in this table")},
		{"patch the same record twice", "", "PATCH", tablePath(s, "Segments"), map[string]any{"records": []any{
			map[string]any{"id": seg, "fields": map[string]any{}}, map[string]any{"id": seg, "fields": map[string]any{}}}}, 422,
			typedErr("INVALID_RECORDS", "Record ID "+seg+" appears more than once")},
		{"long text over the cell limit", "", "POST", tablePath(s, "Webhook Events"), records(map[string]any{"Raw Payload": strings.Repeat("x", 100001)}), 422,
			typedErr("INVALID_VALUE_FOR_COLUMN", `Field "Raw Payload" cannot accept a value longer than 100000 characters`)},
		{"unknown formula", "", "GET", tablePath(s, "Jobs") + "?filterByFormula=" + url.QueryEscape("FIND('rec1', ARRAYJOIN({Related Segment}))"), nil, 422,
			typedErr("INVALID_FILTER_BY_FORMULA", `The formula for filtering records is invalid: unsupported expression at 0: "FIND('rec1', ARRAYJOIN({Related Segment}))"`)},
		{"formula with an unknown field", "", "GET", tablePath(s, "Jobs") + "?filterByFormula=" + url.QueryEscape("{Segment}='x'"), nil, 422,
			typedErr("INVALID_FILTER_BY_FORMULA", "The formula for filtering records is invalid: unknown field names: Segment")},
		{"unknown field in fields[]", "", "GET", tablePath(s, "Jobs") + "?fields%5B%5D=Nope", nil, 422,
			typedErr("UNKNOWN_FIELD_NAME", `Unknown field name: "Nope"`)},
		{"page too large", "", "GET", tablePath(s, "Jobs") + "?pageSize=101", nil, 422,
			typedErr("INVALID_REQUEST_UNKNOWN", "Invalid request: parameter validation failed. Check your request data.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := tt.token
			switch token {
			case "":
				token = s.Token
			case "-":
				token = ""
			}
			status, got := callAs(t, s, token, tt.method, tt.path, tt.body)
			if status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	if n := len(s.Records("Jobs")); n != 0 {
		t.Errorf("refused writes created %d jobs", n)
	}
}

func TestTypecastAddsOption(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	status, _ := call(t, s, "POST", tablePath(s, "Jobs"), map[string]any{"records": []any{map[string]any{"fields": map[string]any{"Status": "done"}}}, "typecast": true})
	if status != 200 {
		t.Fatalf("status = %d", status)
	}
}

var recID = regexp.MustCompile(`^rec[A-Za-z0-9]{14}$`)

func TestRecordsReadBack(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	status, reply := call(t, s, "POST", tablePath(s, "Webhook Events"), records(map[string]any{
		"Event ID": "evt_1", "Service": "ElevenLabs", "Processed": false, "Success": true, "Error Details": "", "Related Job": []string{},
		"Timestamp": "2024-05-01T10:00:00.123456+02:00",
	}))
	if status != 200 {
		t.Fatalf("create: %d %v", status, reply)
	}
	rec := reply["records"].([]any)[0].(map[string]any)
	if !recID.MatchString(rec["id"].(string)) {
		t.Errorf("id %q is not rec + 14 characters", rec["id"])
	}
	if _, err := time.Parse(time.RFC3339, rec["createdTime"].(string)); err != nil {
		t.Errorf("createdTime: %v", err)
	}
	want := map[string]any{"Event ID": "evt_1", "Service": "ElevenLabs", "Success": true, "Timestamp": "2024-05-01T08:00:00.123Z"}
	if diff := cmp.Diff(want, rec["fields"]); diff != "" {
		t.Errorf("fields (-want +got): empty ones must be left out\n%s", diff)
	}
}

func TestInverseLinks(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	a, _ := s.Insert("Segments", map[string]any{"Name": "a"})
	b, _ := s.Insert("Segments", map[string]any{"Name": "b"})
	job, err := s.Insert("Jobs", map[string]any{"Related Segment": []string{a}, "Type": "voiceover_generation"})
	if err != nil {
		t.Fatal(err)
	}
	linked := func(id string) any { r, _ := s.Record("Segments", id); return r.Fields["Jobs"] }
	if diff := cmp.Diff([]string{job}, linked(a)); diff != "" {
		t.Errorf("segment a's Jobs (-want +got):\n%s", diff)
	}
	status, _ := call(t, s, "PATCH", tablePath(s, "Jobs"), map[string]any{"records": []any{map[string]any{"id": job, "fields": map[string]any{"Related Segment": []string{b}}}}})
	if status != 200 {
		t.Fatalf("patch: %d", status)
	}
	if got := linked(a); got != nil {
		t.Errorf("segment a still lists %v after the job moved", got)
	}
	if diff := cmp.Diff([]string{job}, linked(b)); diff != "" {
		t.Errorf("segment b's Jobs (-want +got):\n%s", diff)
	}
}

func TestFormulas(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	seg, _ := s.Insert("Segments", map[string]any{"Name": "Scene 'one'"})
	j1, _ := s.Insert("Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "voiceover_generation", "Status": "processing"})
	j2, _ := s.Insert("Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "image_generation", "Status": "processing"})
	j3, _ := s.Insert("Jobs", map[string]any{"Type": "voiceover_generation", "Status": "completed", "Error Details": `back\slash 'quote'`})
	tests := []struct {
		formula string
		want    []string
	}{
		{fmt.Sprintf("OR(RECORD_ID()='%s',RECORD_ID()='%s')", j1, j2), []string{j1, j2}},
		{fmt.Sprintf("AND(OR(RECORD_ID()='%s',RECORD_ID()='%s'),{Type}='voiceover_generation')", j1, j2), []string{j1}},
		{"{Status}='completed'", []string{j3}},
		{`{Error Details}='back\\slash \'quote\''`, []string{j3}},
		// A link is its records' primary values inside a formula, not ids.
		{fmt.Sprintf("{Related Segment}='%s'", seg), nil},
		{`{Related Segment}='Scene \'one\''`, []string{j1, j2}},
	}
	for _, tt := range tests {
		t.Run(tt.formula, func(t *testing.T) {
			t.Parallel()
			status, reply := call(t, s, "GET", tablePath(s, "Jobs")+"?filterByFormula="+url.QueryEscape(tt.formula), nil)
			if status != 200 {
				t.Fatalf("status %d: %v", status, reply)
			}
			var got []string
			for _, r := range reply["records"].([]any) {
				got = append(got, r.(map[string]any)["id"].(string))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	var want []string
	for i := range 250 {
		id, err := s.Insert("Segments", map[string]any{"Name": fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	var got []string
	var sizes []int
	offset := ""
	for {
		path := tablePath(s, "Segments") + "?pageSize=100"
		if offset != "" {
			path += "&offset=" + url.QueryEscape(offset)
		}
		status, reply := call(t, s, "GET", path, nil)
		if status != 200 {
			t.Fatalf("status %d: %v", status, reply)
		}
		recs := reply["records"].([]any)
		sizes = append(sizes, len(recs))
		for _, r := range recs {
			got = append(got, r.(map[string]any)["id"].(string))
		}
		next, _ := reply["offset"].(string)
		if next == "" {
			break
		}
		offset = next
	}
	if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{RateLimit: 5, Penalty: 300 * time.Millisecond})
	var statuses []int
	var last map[string]any
	for range 6 {
		status, reply := call(t, s, "GET", tablePath(s, "Jobs"), nil)
		statuses = append(statuses, status)
		last = reply
	}
	if diff := cmp.Diff([]int{200, 200, 200, 200, 200, 429}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	want := map[string]any{"errors": []any{map[string]any{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}}}
	if diff := cmp.Diff(want, last); diff != "" {
		t.Errorf("429 body (-want +got):\n%s", diff)
	}
	time.Sleep(time.Second) // past both the window and the penalty
	if status, _ := call(t, s, "GET", tablePath(s, "Jobs"), nil); status != 200 {
		t.Errorf("after the window and the penalty: %d", status)
	}
	if got := s.Requests()["GET Jobs"]; got != 7 {
		t.Errorf("counted %d GET Jobs, want 7", got)
	}
}

func TestRateLimitPenalty(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{RateLimit: 1, Penalty: 2 * time.Second})
	call(t, s, "GET", tablePath(s, "Jobs"), nil)
	if status, _ := call(t, s, "GET", tablePath(s, "Jobs"), nil); status != 429 {
		t.Fatalf("second request: %d, want 429", status)
	}
	time.Sleep(1100 * time.Millisecond) // the window is clear, the penalty is not
	if status, _ := call(t, s, "GET", tablePath(s, "Jobs"), nil); status != 429 {
		t.Errorf("during the penalty: %d, want 429", status)
	}
}

func TestInjectedFailures(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.FailNext(1, 503)
	s.FailNext(1, 429)
	s.FailNext(1, 502)
	var statuses []int
	for range 4 {
		status, _ := call(t, s, "GET", tablePath(s, "Jobs"), nil)
		statuses = append(statuses, status)
	}
	if diff := cmp.Diff([]int{503, 429, 502, 200}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	s.FailAfterWrite(1, 500)
	status, _ := call(t, s, "POST", tablePath(s, "Segments"), records(map[string]any{"Name": "x"}))
	if status != 500 || len(s.Records("Segments")) != 1 {
		t.Errorf("FailAfterWrite: status %d, %d records; want 500 and the record created", status, len(s.Records("Segments")))
	}
}

func TestMeta(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	status, reply := call(t, s, "GET", "/v0/meta/bases/"+s.Base+"/tables", nil)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	var names []string
	for _, tb := range reply["tables"].([]any) {
		names = append(names, tb.(map[string]any)["name"].(string))
	}
	if diff := cmp.Diff([]string{"Segments", "Jobs", "Webhook Events"}, names); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	s.SetSchemaScope(false)
	if status, _ := call(t, s, "GET", "/v0/meta/bases/"+s.Base+"/tables", nil); status != 403 {
		t.Errorf("without schema scope: %d, want 403", status)
	}
}
