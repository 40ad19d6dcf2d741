package airtable

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxWrite is Airtable's limit of records per create or update request.
const maxWrite = 10

// maxPageSize is Airtable's largest list page.
const maxPageSize = 100

// maxReply bounds a reply read into memory (a page of 100 records with
// long payloads is a few MB).
const maxReply = 64 << 20

// Client is a thin Airtable Web API client for one base. Every request
// passes the base's gate, so one Client shared by every worker keeps the
// whole process under the base's rate limit. The token goes only into the
// Authorization header: never into errors or logs.
type Client struct {
	apiURL  string
	base    string
	token   string
	http    *http.Client
	gate    *gate
	retries int
	backoff time.Duration
	log     *slog.Logger
}

// NewClient makes a client for cfg's base (defaults applied).
func NewClient(cfg Config) *Client {
	cfg = cfg.withDefaults()
	return &Client{
		apiURL:  cfg.APIURL,
		base:    cfg.Base,
		token:   cfg.Token,
		http:    cfg.HTTPClient,
		gate:    newGate(cfg.RequestsPerSecond, cfg.Silence, cfg.Clock, cfg.Logger),
		retries: cfg.Retries,
		backoff: cfg.RetryBackoff,
		log:     cfg.Logger,
	}
}

// Pace is how fast the client calls the base now: lower than configured
// after repeated 429s (see pace).
func (c *Client) Pace() Pace { return c.gate.status() }

// Record is one Airtable record. Fields hold what JSON decodes to: string,
// bool, json.Number, []any (links: record ids).
type Record struct {
	ID          string         `json:"id,omitempty"`
	CreatedTime time.Time      `json:"createdTime,omitzero"`
	Fields      map[string]any `json:"fields"`
}

// ListQuery selects records to list.
type ListQuery struct {
	Formula string
	Fields  []string
	// PageSize is at most 100 (the default).
	PageSize int
	// MaxRecords stops listing after this many records (0: all).
	MaxRecords int
}

// call is one request.
type call struct {
	method string
	table  string // for messages; "" for the metadata API
	path   string
	query  url.Values
	body   []byte
	// repeatable: safe to send again after a 5xx or a lost reply (a GET,
	// or a PATCH that sets the same values again). A POST is not: it may
	// have created records before the reply was lost.
	repeatable bool
}

func (c call) op() string {
	if c.table == "" {
		return c.method + " meta"
	}
	return c.method + " " + c.table
}

func (c *Client) tablePath(table string) string {
	return "/v0/" + url.PathEscape(c.base) + "/" + url.PathEscape(table)
}

// List lists the records q selects, following offsets to the last page.
func (c *Client) List(ctx context.Context, table string, q ListQuery) ([]Record, error) {
	return c.list(ctx, table, q, false)
}

// list is List; held says the caller already holds the first request's
// slot from the gate.
func (c *Client) list(ctx context.Context, table string, q ListQuery, held bool) ([]Record, error) {
	size := q.PageSize
	if size <= 0 || size > maxPageSize {
		size = maxPageSize
	}
	v := url.Values{}
	v.Set("pageSize", strconv.Itoa(size))
	if q.Formula != "" {
		v.Set("filterByFormula", q.Formula)
	}
	if q.MaxRecords > 0 {
		v.Set("maxRecords", strconv.Itoa(q.MaxRecords))
	}
	for _, f := range q.Fields {
		v.Add("fields[]", f)
	}
	var out []Record
	for page := 0; ; page++ {
		var reply struct {
			Records []Record `json:"records"`
			Offset  string   `json:"offset"`
		}
		if err := c.send(ctx, call{method: http.MethodGet, table: table, path: c.tablePath(table), query: v, repeatable: true}, held && page == 0, &reply); err != nil {
			return nil, err
		}
		out = append(out, reply.Records...)
		if reply.Offset == "" || (q.MaxRecords > 0 && len(out) >= q.MaxRecords) {
			return out, nil
		}
		v.Set("offset", reply.Offset)
	}
}

// Get reads one record.
func (c *Client) Get(ctx context.Context, table, id string) (Record, error) {
	var rec Record
	err := c.send(ctx, call{method: http.MethodGet, table: table, path: c.tablePath(table) + "/" + url.PathEscape(id), repeatable: true}, false, &rec)
	return rec, err
}

// Create creates up to 10 records and returns them, in order. typecast is
// left off, so a select value that is not an option fails loudly. A
// failed create is never retried here: the records may exist even though
// the reply was lost.
func (c *Client) Create(ctx context.Context, table string, recs []Record) ([]Record, error) {
	return c.write(ctx, http.MethodPost, table, recs, nil, false)
}

// Update sets the given fields of up to 10 records (PATCH: other fields
// are left as they are) and returns the records, in order.
func (c *Client) Update(ctx context.Context, table string, recs []Record) ([]Record, error) {
	return c.write(ctx, http.MethodPatch, table, recs, nil, false)
}

// Upsert writes up to 10 records, each updating the one record whose
// mergeOn fields hold its values or, when none does, creating it (PATCH
// with performUpsert). It returns the records, in order. Unlike a create
// it is safe to repeat, so it is retried after a 5xx or a lost reply:
// writing the same values again finds the record the first try made.
func (c *Client) Upsert(ctx context.Context, table string, mergeOn []string, recs []Record) ([]Record, error) {
	return c.write(ctx, http.MethodPatch, table, recs, mergeOn, false)
}

// write sends a create (POST), an update (PATCH) or, with mergeOn, an
// upsert (PATCH with performUpsert); held says the caller already holds
// the gate's slot.
func (c *Client) write(ctx context.Context, method, table string, recs []Record, mergeOn []string, held bool) ([]Record, error) {
	if len(recs) == 0 || len(recs) > maxWrite {
		return nil, fmt.Errorf("airtable: %s %s: %d records; a request takes 1 to %d", method, table, len(recs), maxWrite)
	}
	type upsert struct {
		FieldsToMergeOn []string `json:"fieldsToMergeOn"`
	}
	body := struct {
		Records       []Record `json:"records"`
		PerformUpsert *upsert  `json:"performUpsert,omitempty"`
	}{Records: make([]Record, len(recs))}
	if mergeOn != nil {
		body.PerformUpsert = &upsert{mergeOn}
	}
	for i, r := range recs {
		body.Records[i] = Record{ID: r.ID, Fields: r.Fields}
		if method == http.MethodPost || mergeOn != nil {
			body.Records[i].ID = ""
		}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("airtable: %s %s: encoding records: %w", method, table, err)
	}
	var reply struct {
		Records []Record `json:"records"`
	}
	if err := c.send(ctx, call{method: method, table: table, path: c.tablePath(table), body: raw, repeatable: method == http.MethodPatch}, held, &reply); err != nil {
		return nil, err
	}
	if len(reply.Records) != len(recs) {
		return nil, fmt.Errorf("airtable: %s %s: sent %d records, the reply holds %d", method, table, len(recs), len(reply.Records))
	}
	return reply.Records, nil
}

// TableSchema is one table as the metadata API describes it.
type TableSchema struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	PrimaryFieldID string        `json:"primaryFieldId"`
	Fields         []FieldSchema `json:"fields"`
}

// FieldSchema is one field as the metadata API describes it.
type FieldSchema struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Options struct {
		Choices            []Choice `json:"choices"`
		LinkedTableID      string   `json:"linkedTableId"`
		InverseLinkFieldID string   `json:"inverseLinkFieldId"`
	} `json:"options"`
}

// Choice is one option of a select field.
type Choice struct {
	Name string `json:"name"`
}

// Tables reads the base's schema (GET /v0/meta/bases/{base}/tables). The
// token needs the schema.bases:read scope; without it Airtable answers 403.
func (c *Client) Tables(ctx context.Context) ([]TableSchema, error) {
	var reply struct {
		Tables []TableSchema `json:"tables"`
	}
	err := c.send(ctx, call{method: http.MethodGet, path: "/v0/meta/bases/" + url.PathEscape(c.base) + "/tables", repeatable: true}, false, &reply)
	return reply.Tables, err
}

// send runs a call through the gate and decodes a 2xx reply into out.
// Repeatable calls are retried after a 5xx or a network error, with
// backoff. A 429 silences the whole base (see gate) and is returned at
// once: retrying it would break the silence Airtable asks for.
func (c *Client) send(ctx context.Context, cl call, held bool, out any) error {
	for attempt := 0; ; attempt++ {
		if !held || attempt > 0 {
			if err := c.gate.wait(ctx); err != nil {
				return err
			}
		}
		err := c.once(ctx, cl, out)
		if err == nil {
			return nil
		}
		var ae *APIError
		isAPI := errors.As(err, &ae)
		if isAPI && ae.Status == http.StatusTooManyRequests {
			until := c.gate.rateLimited()
			c.log.Warn("airtable answered 429; the base stays silent", "op", cl.op(), "until", until)
		}
		retry := cl.repeatable && attempt < c.retries && ctx.Err() == nil &&
			((isAPI && ae.Status >= 500) || (!isAPI && !errors.Is(err, errDecode)))
		if !retry {
			if isAPI {
				return classify(cl.op(), ae)
			}
			return err
		}
		delay := c.backoff << attempt
		delay += rand.N(delay/2 + 1)
		c.log.Debug("airtable request failed; retrying", "op", cl.op(), "err", err, "in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("airtable: %s: %w (after %v)", cl.op(), ctx.Err(), err)
		case <-t.C:
		}
	}
}

var errDecode = errors.New("undecodable reply")

// once sends one request. Errors are an *APIError for an error answer, or
// a network error wrapped with the operation.
func (c *Client) once(ctx context.Context, cl call, out any) error {
	u := c.apiURL + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return fmt.Errorf("airtable: %s: %w", cl.op(), err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// A *url.Error names the URL: base, table and query, never the
		// token, which travels only in a header.
		return fmt.Errorf("airtable: %s: %w", cl.op(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return fmt.Errorf("airtable: %s: reading reply: %w", cl.op(), err)
	}
	if resp.StatusCode/100 != 2 {
		return parseError(resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("airtable: %s: %w: %v", cl.op(), errDecode, err)
	}
	return nil
}
