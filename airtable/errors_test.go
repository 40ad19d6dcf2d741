package airtable

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

func TestParseError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   APIError
	}{
		{"typed", 422, `{"error":{"type":"UNKNOWN_FIELD_NAME","message":"Unknown field name: \"X\""}}`,
			APIError{422, "UNKNOWN_FIELD_NAME", `Unknown field name: "X"`}},
		{"bare string", 404, `{"error":"NOT_FOUND"}`, APIError{404, "NOT_FOUND", ""}},
		{"list", 429, `{"errors":[{"error":"RATE_LIMIT_REACHED","message":"Rate limit exceeded"}]}`,
			APIError{429, "RATE_LIMIT_REACHED", "Rate limit exceeded"}},
		{"proxy page", 502, "<html>\n<h1>502 Bad Gateway</h1>\n</html>", APIError{502, "BAD_GATEWAY", "<html> <h1>502 Bad Gateway</h1> </html>"}},
		{"empty", 503, "", APIError{503, "SERVICE_UNAVAILABLE", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, *parseError(tt.status, []byte(tt.body))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		permanent bool
	}{{400, true}, {401, true}, {403, true}, {404, true}, {422, true}, {429, false}, {500, false}, {502, false}, {503, false}}
	for _, tt := range tests {
		err := classify("PATCH Jobs", &APIError{Status: tt.status, Type: "X"})
		if got := voicehook.IsPermanent(err); got != tt.permanent {
			t.Errorf("%d: permanent = %v, want %v", tt.status, got, tt.permanent)
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != tt.status {
			t.Errorf("%d: the *APIError is not reachable through %v", tt.status, err)
		}
	}
	if got, want := classify("PATCH Jobs", &APIError{422, "UNKNOWN_FIELD_NAME", `Unknown field name: "X"`}).Error(),
		`airtable: PATCH Jobs: 422 UNKNOWN_FIELD_NAME: Unknown field name: "X"`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", `'plain'`},
		{"it's", `'it\'s'`},
		{`back\slash`, `'back\\slash'`},
		{`\'`, `'\\\''`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got, want := or(recordIs("recA"), recordIs("recB")), `OR(RECORD_ID()='recA',RECORD_ID()='recB')`; got != want {
		t.Errorf("or = %s, want %s", got, want)
	}
}
