// Package airtabletest is an in-process emulator of the Airtable Web API
// for tests, on 127.0.0.1. It is faithful to what voicehook's client relies
// on, and strict where Airtable is strict, so that a client bug fails here
// rather than in a user's base:
//
//   - every request needs "Authorization: Bearer <token>"; otherwise 401
//     {"error":{"type":"AUTHENTICATION_REQUIRED","message":…}};
//   - an unknown base, table or record answers 404 {"error":"NOT_FOUND"};
//   - at most 5 requests per second per base, counted in a sliding one
//     second window; over it 429 {"errors":[{"error":"RATE_LIMIT_REACHED",…}]}
//     and, as Airtable asks for 30 seconds of silence, every request in
//     the following Penalty also answers 429;
//   - GET /v0/{base}/{table} lists records in creation order, pageSize ≤ 100
//     with an offset to the next page, fields[] and maxRecords, and
//     filterByFormula limited to the forms the client sends (see formula.go;
//     anything else is 422 INVALID_FILTER_BY_FORMULA);
//   - GET /v0/{base}/{table}/{record} reads one record;
//   - POST and PATCH /v0/{base}/{table} write at most 10 records
//     (422 INVALID_RECORDS above), all or nothing: an unknown field is 422
//     UNKNOWN_FIELD_NAME, a select value that is not an option is 422
//     INVALID_MULTIPLE_CHOICE_OPTIONS unless typecast is set, a value of the
//     wrong type or a text over 100,000 characters is 422
//     INVALID_VALUE_FOR_COLUMN, a PATCH of an unknown record or a link to
//     one is 422 ROW_DOES_NOT_EXIST;
//   - records read back leave out empty fields (an unchecked checkbox, an
//     empty string or list), record ids are "rec" + 14 characters, links
//     are arrays of record ids and their inverse fields are kept in step;
//   - PATCH with performUpsert {"fieldsToMergeOn":[…]} updates the one
//     record whose merge fields equal the written values, or creates it
//     when none does, and names each in createdRecords or updatedRecords
//     (see upsert.go);
//   - GET /v0/meta/bases/{base}/tables describes the schema (403 when the
//     token lacks the schema.bases:read scope, see Options.NoSchemaScope);
//   - a token without data.records:write (SetWriteScope) is refused every
//     POST and PATCH with 403 INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND, and a
//     user renaming a table or field (RenameTable, RenameField) leaves
//     requests that use the old name to 404 NOT_FOUND and 422
//     UNKNOWN_FIELD_NAME.
//
// Tests inject failures (FailNext, FailAfterWrite), count requests per
// method and table (Requests), and read and write the base directly
// (Insert, Record, Records, Delete) without touching the rate limit.
package airtabletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultToken = "patVoicehookTest.0123456789abcdef"
	DefaultBase  = "appVoicehookTest"
	// DefaultRateLimit is Airtable's limit: 5 requests per second per base.
	DefaultRateLimit = 5
	// DefaultPenalty is how long Airtable wants silence after a 429.
	DefaultPenalty = 30 * time.Second
)

// Options configure a Server. Zero values take the defaults.
type Options struct {
	Token string
	// Base is the base id (app + 14 characters).
	Base   string
	Schema *Schema
	// RateLimit is the number of requests per sliding second per base;
	// negative means no limit.
	RateLimit int
	// Penalty is how long every request answers 429 after the rate limit
	// was exceeded; negative means none.
	Penalty time.Duration
	// NoSchemaScope: the token lacks schema.bases:read, so the metadata
	// endpoint answers 403.
	NoSchemaScope bool
	// Latency delays every answer, as Airtable's own processing time does
	// (commonly 100 to 300 ms).
	Latency time.Duration
}

// Server is a running emulator.
type Server struct {
	URL   string
	Token string
	Base  string

	srv  *httptest.Server
	opts Options

	mu            sync.Mutex
	data          *base
	window        []time.Time
	penaltyUntil  time.Time
	failBefore    []int
	failAfter     []int
	failOn        map[string][]int
	failAfterOn   map[string][]int
	requests      map[string]int
	iterators     map[string][]string
	noSchemaScope bool
	noWriteScope  bool
}

// New starts an emulator on 127.0.0.1. It panics on an invalid schema.
// Close it when done.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.Base == "" {
		opts.Base = DefaultBase
	}
	schema := SeedSchema()
	if opts.Schema != nil {
		schema = *opts.Schema
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.Penalty == 0 {
		opts.Penalty = DefaultPenalty
	}
	data, err := newBase(schema)
	if err != nil {
		panic("airtabletest: " + err.Error())
	}
	s := &Server{Token: opts.Token, Base: opts.Base, opts: opts, data: data,
		requests: map[string]int{}, iterators: map[string][]string{}, noSchemaScope: opts.NoSchemaScope}
	s.srv = httptest.NewServer(s) // httptest listens on 127.0.0.1
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// FailNext makes the next n requests (of any kind, after the token check)
// answer status without doing anything. 429 answers in Airtable's
// RATE_LIMIT_REACHED shape; 502 with an HTML page, as a proxy would.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failBefore = append(s.failBefore, status)
	}
}

// FailAfterWriteOn is FailAfterWrite for one route only ("POST Webhook
// Events").
func (s *Server) FailAfterWriteOn(route string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAfterOn == nil {
		s.failAfterOn = map[string][]int{}
	}
	for range n {
		s.failAfterOn[route] = append(s.failAfterOn[route], status)
	}
}

// ClearFailures cancels every injected failure not yet used.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failBefore, s.failAfter, s.failOn, s.failAfterOn = nil, nil, nil, nil
}

// FailNextOn is FailNext for one route only ("PATCH Jobs", "GET
// Segments", "POST Webhook Events", as Requests names them).
func (s *Server) FailNextOn(route string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failOn == nil {
		s.failOn = map[string][]int{}
	}
	for range n {
		s.failOn[route] = append(s.failOn[route], status)
	}
}

// FailAfterWrite makes the next n successful writes (POST, PATCH) do their
// work and then answer status, as when a reply is lost: the client cannot
// tell whether its write happened.
func (s *Server) FailAfterWrite(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failAfter = append(s.failAfter, status)
	}
}

// SetRateLimit changes the requests allowed per second (negative: none).
func (s *Server) SetRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.RateLimit = n
}

// SetSchemaScope grants or withdraws the token's schema.bases:read scope.
func (s *Server) SetSchemaScope(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noSchemaScope = !ok
}

// Requests counts the requests received, by "METHOD table" ("GET Jobs",
// "POST Webhook Events", "GET meta"), including refused ones.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// TotalRequests is the sum of Requests.
func (s *Server) TotalRequests() int {
	n := 0
	for _, v := range s.Requests() {
		n += v
	}
	return n
}

// ResetRequests zeroes the counters.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = map[string]int{}
}

// Record is a record as the API returns it: empty fields left out, links
// as []string, numbers as float64.
type Record struct {
	ID          string
	CreatedTime time.Time
	Fields      map[string]any
}

func (s *Server) record(t *table, r *record) Record {
	v := s.data.view(t, r, nil)
	return Record{ID: r.id, CreatedTime: r.created, Fields: v["fields"].(map[string]any)}
}

// Insert creates a record directly (no request is counted), validated as
// a POST without typecast is.
func (s *Server) Insert(tableName string, fields map[string]any) (string, error) {
	raw, err := json.Marshal(fields)
	if err != nil {
		return "", err
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.data.table(tableName)
	if !ok {
		return "", fmt.Errorf("no table %q", tableName)
	}
	cv, aerr := s.data.validate(t, in, false)
	if aerr != nil {
		return "", aerr
	}
	return s.data.insert(t, cv).id, nil
}

// Record reads one record directly.
func (s *Server) Record(tableName, id string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.data.table(tableName)
	if !ok {
		return Record{}, false
	}
	r, ok := t.records[id]
	if !ok {
		return Record{}, false
	}
	return s.record(t, r), true
}

// Records reads a table directly, in creation order.
func (s *Server) Records(tableName string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.data.table(tableName)
	if !ok {
		return nil
	}
	out := make([]Record, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, s.record(t, t.records[id]))
	}
	return out
}

// Delete removes a record directly, as a user deleting a row would.
func (s *Server) Delete(tableName, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.data.table(tableName)
	return ok && s.data.remove(t, id)
}

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	s.mu.Lock()
	status, reply := s.handle(r, parts, body)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if html, ok := reply.(htmlPage); ok {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, string(html))
		return
	}
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(reply)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type htmlPage string

func routeName(method string, parts []string) string {
	switch {
	case len(parts) >= 2 && parts[0] == "v0" && parts[1] == "meta":
		return method + " meta"
	case len(parts) >= 3 && parts[0] == "v0":
		return method + " " + parts[2]
	}
	return method + " ?"
}

func (s *Server) handle(r *http.Request, parts []string, body []byte) (int, any) {
	route := routeName(r.Method, parts)
	s.requests[route]++
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		return fail(typed(401, "AUTHENTICATION_REQUIRED", "Authentication required"))
	}
	if q := s.failOn[route]; len(q) > 0 {
		s.failOn[route] = q[1:]
		return injected(q[0])
	}
	if len(s.failBefore) > 0 {
		status := s.failBefore[0]
		s.failBefore = s.failBefore[1:]
		return injected(status)
	}
	status, reply := s.route(r, parts, body)
	if status/100 != 2 || (r.Method != http.MethodPost && r.Method != http.MethodPatch) {
		return status, reply
	}
	if q := s.failAfterOn[route]; len(q) > 0 {
		s.failAfterOn[route] = q[1:]
		return injected(q[0])
	}
	if len(s.failAfter) > 0 {
		status = s.failAfter[0]
		s.failAfter = s.failAfter[1:]
		return injected(status)
	}
	return status, reply
}

func fail(e *apiError) (int, any) { return e.status, e.body }

func injected(status int) (int, any) {
	switch status {
	case 429:
		return fail(rateLimited())
	case 404:
		return fail(notFound())
	case 502:
		return status, htmlPage("<html><body><h1>502 Bad Gateway</h1></body></html>")
	}
	typ := strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	return fail(typed(status, typ, "Injected failure: "+http.StatusText(status)))
}

func (s *Server) route(r *http.Request, parts []string, body []byte) (int, any) {
	if len(parts) == 5 && parts[0] == "v0" && parts[1] == "meta" && parts[2] == "bases" && parts[4] == "tables" && r.Method == http.MethodGet {
		if parts[3] != s.Base {
			return fail(notFound())
		}
		if e := s.limit(); e != nil {
			return fail(e)
		}
		if s.noSchemaScope {
			return fail(invalidPermissions())
		}
		return 200, s.meta()
	}
	if len(parts) < 3 || len(parts) > 4 || parts[0] != "v0" || parts[1] != s.Base {
		return fail(notFound())
	}
	if e := s.limit(); e != nil {
		return fail(e)
	}
	t, ok := s.data.table(parts[2])
	if !ok {
		return fail(notFound())
	}
	if s.noWriteScope && (r.Method == http.MethodPost || r.Method == http.MethodPatch) {
		return fail(invalidPermissions())
	}
	if len(parts) == 4 {
		if r.Method != http.MethodGet {
			return fail(notFound())
		}
		rec, ok := t.records[parts[3]]
		if !ok {
			return fail(notFound())
		}
		return 200, s.data.view(t, rec, nil)
	}
	switch r.Method {
	case http.MethodGet:
		return s.list(t, r.URL.Query())
	case http.MethodPost:
		return s.create(t, body)
	case http.MethodPatch:
		return s.update(t, body)
	}
	return fail(notFound())
}

// limit counts a request against the base's sliding one-second window.
func (s *Server) limit() *apiError {
	if s.opts.RateLimit < 0 {
		return nil
	}
	now := time.Now()
	if now.Before(s.penaltyUntil) {
		return rateLimited()
	}
	s.window = slices.DeleteFunc(s.window, func(t time.Time) bool { return now.Sub(t) >= time.Second })
	if len(s.window) >= s.opts.RateLimit {
		if s.opts.Penalty > 0 {
			s.penaltyUntil = now.Add(s.opts.Penalty)
		}
		return rateLimited()
	}
	s.window = append(s.window, now)
	return nil
}

func invalidRequest() *apiError {
	return typed(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: parameter validation failed. Check your request data.")
}

func (s *Server) list(t *table, q url.Values) (int, any) {
	for k := range q {
		switch k {
		case "pageSize", "offset", "filterByFormula", "fields[]", "maxRecords":
		default:
			return fail(invalidRequest())
		}
	}
	pageSize := 100
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return fail(invalidRequest())
		}
		pageSize = n
	}
	only := q["fields[]"]
	for _, name := range only {
		if _, ok := t.byName[name]; !ok {
			return fail(typed(422, "UNKNOWN_FIELD_NAME", fmt.Sprintf("Unknown field name: %q", name)))
		}
	}
	var ids []string
	if off := q.Get("offset"); off != "" {
		rest, ok := s.iterators[off]
		if !ok {
			return fail(typed(422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", "The offset is no longer valid"))
		}
		delete(s.iterators, off)
		ids = rest
	} else {
		var f formula
		if src := q.Get("filterByFormula"); src != "" {
			var err error
			f, err = parseFormula(src, func(name string) bool { _, ok := t.byName[name]; return ok })
			if err != nil {
				return fail(typed(422, "INVALID_FILTER_BY_FORMULA", "The formula for filtering records is invalid: "+err.Error()))
			}
		}
		for _, id := range t.order {
			if f == nil || f.eval(row{s.data, t, t.records[id]}) {
				ids = append(ids, id)
			}
		}
		if v := q.Get("maxRecords"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fail(invalidRequest())
			}
			ids = ids[:min(n, len(ids))]
		}
	}
	page := ids[:min(pageSize, len(ids))]
	recs := []any{}
	for _, id := range page {
		if rec, ok := t.records[id]; ok {
			recs = append(recs, s.data.view(t, rec, only))
		}
	}
	reply := map[string]any{"records": recs}
	if rest := ids[len(page):]; len(rest) > 0 {
		tok := newID("itr") + "/" + rest[0]
		s.iterators[tok] = slices.Clone(rest)
		reply["offset"] = tok
	}
	return 200, reply
}

type writeBody struct {
	Records       []writeRecord  `json:"records"`
	Typecast      bool           `json:"typecast"`
	PerformUpsert *performUpsert `json:"performUpsert"`
}

type writeRecord struct {
	ID     string                     `json:"id,omitempty"`
	Fields map[string]json.RawMessage `json:"fields"`
}

func decodeWrite(body []byte, verb string) (writeBody, *apiError) {
	var wb writeBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wb); err != nil {
		return wb, invalidRequest()
	}
	if wb.Records == nil {
		return wb, typed(422, "INVALID_REQUEST_MISSING_FIELDS", `Could not find field "records" in the request body`)
	}
	if len(wb.Records) == 0 || len(wb.Records) > 10 {
		return wb, typed(422, "INVALID_RECORDS", fmt.Sprintf("A maximum of 10 records can be %s per request but you have provided %d.", verb, len(wb.Records)))
	}
	return wb, nil
}

func (s *Server) create(t *table, body []byte) (int, any) {
	wb, e := decodeWrite(body, "created")
	if e != nil {
		return fail(e)
	}
	if wb.PerformUpsert != nil {
		// Upserts are an option of the update endpoint only.
		return fail(invalidRequest())
	}
	vals := make([]cellValues, len(wb.Records))
	for i, rec := range wb.Records {
		if rec.ID != "" {
			return fail(invalidRequest())
		}
		if vals[i], e = s.data.validate(t, rec.Fields, wb.Typecast); e != nil {
			return fail(e)
		}
	}
	out := []any{}
	for _, cv := range vals {
		out = append(out, s.data.view(t, s.data.insert(t, cv), nil))
	}
	return 200, map[string]any{"records": out}
}

func (s *Server) update(t *table, body []byte) (int, any) {
	wb, e := decodeWrite(body, "updated")
	if e != nil {
		return fail(e)
	}
	if wb.PerformUpsert != nil {
		return s.upsert(t, wb)
	}
	vals := make([]cellValues, len(wb.Records))
	seen := map[string]bool{}
	for i, rec := range wb.Records {
		if _, ok := t.records[rec.ID]; !ok {
			return fail(typed(422, "ROW_DOES_NOT_EXIST", fmt.Sprintf("Record ID %s does not exist in this table", rec.ID)))
		}
		if seen[rec.ID] {
			return fail(typed(422, "INVALID_RECORDS", fmt.Sprintf("Record ID %s appears more than once", rec.ID)))
		}
		seen[rec.ID] = true
		if vals[i], e = s.data.validate(t, rec.Fields, wb.Typecast); e != nil {
			return fail(e)
		}
	}
	out := []any{}
	for i, rec := range wb.Records {
		r := t.records[rec.ID]
		s.data.apply(t, r, vals[i])
		out = append(out, s.data.view(t, r, nil))
	}
	return 200, map[string]any{"records": out}
}

// meta is the metadata API's answer: tables with their fields.
func (s *Server) meta() map[string]any {
	var tables []any
	for _, t := range s.data.tables {
		var fields []any
		for _, f := range t.fields {
			fd := map[string]any{"id": f.id, "name": f.Name, "type": f.Type}
			switch f.Type {
			case SingleSelect:
				var choices []any
				for _, c := range f.Choices {
					choices = append(choices, map[string]string{"id": "sel" + c, "name": c, "color": "blueLight2"})
				}
				fd["options"] = map[string]any{"choices": choices}
			case Links:
				lt := s.data.byName[f.LinkedTable]
				opt := map[string]any{"linkedTableId": lt.id, "isReversed": false, "prefersSingleRecordLink": false}
				if inv, ok := lt.byName[f.InverseField]; ok {
					opt["inverseLinkFieldId"] = inv.id
				}
				fd["options"] = opt
			case Checkbox:
				fd["options"] = map[string]string{"icon": "check", "color": "greenBright"}
			case Number:
				fd["options"] = map[string]int{"precision": 0}
			}
			fields = append(fields, fd)
		}
		tables = append(tables, map[string]any{"id": t.id, "name": t.name, "primaryFieldId": t.fields[0].id, "fields": fields,
			"views": []any{map[string]string{"id": "viwGrid", "name": "Grid view", "type": "grid"}}})
	}
	return map[string]any{"tables": tables}
}
