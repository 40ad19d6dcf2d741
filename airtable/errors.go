package airtable

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/voicehook/voicehook"
)

// APIError is an error answer from Airtable, whichever of its three shapes
// it came in:
//
//	{"error":{"type":"UNKNOWN_FIELD_NAME","message":"Unknown field name: \"X\""}}
//	{"error":"NOT_FOUND"}
//	{"errors":[{"error":"RATE_LIMIT_REACHED","message":"…"}]}
//
// 429 and 5xx are transient; other 4xx are permanent, and are returned
// wrapped in a *voicehook.PermanentError (errors.As still finds the
// *APIError).
type APIError struct {
	Status  int
	Type    string
	Message string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.Status, e.Type)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Temporary reports whether trying again later may succeed (429, 5xx).
func (e *APIError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// parseError reads an error body in any of Airtable's shapes. A body in
// none of them (a proxy's HTML page) keeps its status and a short excerpt.
func parseError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var shape struct {
		Error  json.RawMessage `json:"error"`
		Errors []struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &shape) == nil {
		var obj struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		var str string
		switch {
		case len(shape.Error) > 0 && json.Unmarshal(shape.Error, &obj) == nil && obj.Type != "":
			e.Type, e.Message = obj.Type, obj.Message
		case len(shape.Error) > 0 && json.Unmarshal(shape.Error, &str) == nil && str != "":
			e.Type = str
		case len(shape.Errors) > 0:
			e.Type, e.Message = shape.Errors[0].Error, shape.Errors[0].Message
		}
	}
	if e.Type == "" {
		e.Type = strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
		e.Message = excerpt(body, 200)
	}
	return e
}

// excerpt is the start of a body, on one line, cut on a rune boundary.
func excerpt(body []byte, n int) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "�")), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// classify wraps an error answer of op ("PATCH Jobs") for callers: 4xx
// other than 429 become permanent.
func classify(op string, e *APIError) error {
	if e.Temporary() {
		return fmt.Errorf("airtable: %s: %w", op, e)
	}
	return voicehook.Permanent("airtable: "+op, e)
}

// SilenceError is returned, without a request, while the base is silent
// after a 429: Airtable wants 30 seconds without any request from the
// client, so nothing is sent until Until. It is transient.
type SilenceError struct {
	Until time.Time
}

func (e *SilenceError) Error() string {
	return "airtable: the base answered 429 (rate limit); voicehook sends it nothing until " + e.Until.UTC().Format(time.RFC3339)
}

// ErrClosed is returned for work submitted after Close.
var ErrClosed = errors.New("airtable: records closed")

// isNotFound reports whether err is Airtable saying a record, table or
// base does not exist (404, or 422 ROW_DOES_NOT_EXIST for a PATCH).
func isNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Type == "ROW_DOES_NOT_EXIST")
}
