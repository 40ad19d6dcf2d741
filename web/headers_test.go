package web

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/elevenlabs"
)

// The handler hands the store its kept headers already encoded, and the
// encoding is of exactly the headers it hands over.
func TestWebhookEncodesHeaders(t *testing.T) {
	t.Parallel()
	hs := newHookServer(t)
	body := []byte(`{"status":"completed"}`)
	q := "?segment_id=s1&token=" + hs.srv.Tokens.For("s1")
	for _, tc := range []struct {
		name, query, sig, requestID string
		want                        map[string]string
	}{
		{name: "signed", sig: elevenlabs.Sign(hookSecret, testNow, body), requestID: `r"1<\>`, want: map[string]string{
			"Content-Type": "application/json", elevenlabs.HeaderName: "present, valid", "X-Request-Id": `r"1<\>`}},
		{name: "token", query: q, requestID: "r\xff2\u2028", want: map[string]string{
			"Content-Type": "application/json", "Callback-Token": "valid", "X-Request-Id": "r\xff2\u2028"}},
	} {
		hs.mu.Lock()
		hs.stored = nil
		hs.mu.Unlock()
		r := httptest.NewRequest(http.MethodPost, WebhookPath+tc.query, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Request-Id", tc.requestID)
		if tc.sig != "" {
			r.Header.Set(elevenlabs.HeaderName, tc.sig)
		}
		w := httptest.NewRecorder()
		hs.h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || hs.storedCount() != 1 {
			t.Fatalf("%s: answered %d %s, stored %d", tc.name, w.Code, w.Body.String(), hs.storedCount())
		}
		ev := hs.stored[0]
		if diff := cmp.Diff(tc.want, ev.Headers); diff != "" {
			t.Errorf("%s: Headers (-want +got):\n%s", tc.name, diff)
		}
		var decoded map[string]string
		if err := json.Unmarshal([]byte(ev.HeadersJSON), &decoded); err != nil {
			t.Fatalf("%s: HeadersJSON %q: %v", tc.name, ev.HeadersJSON, err)
		}
		wantDecoded := map[string]string{}
		for k, v := range tc.want {
			wantDecoded[k] = replaceInvalid(v) // as encoding/json stores invalid UTF-8
		}
		if diff := cmp.Diff(wantDecoded, decoded); diff != "" {
			t.Errorf("%s: HeadersJSON %s decodes to (-want +got):\n%s", tc.name, ev.HeadersJSON, diff)
		}
	}
}

// headersJSON must give exactly what encoding/json gives for the same map:
// the stored form is then the same whoever encodes it, and what reads it
// (events.go decodes with encoding/json) gets the headers back.
func TestHeadersJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, h := range []map[string]string{
		nil,
		{},
		{"Content-Type": "application/json"},
		{"Content-Type": "application/json", "User-Agent": "ElevenLabs/1.0", "Elevenlabs-Signature": "present, valid", "Callback-Token": "valid"},
		{"X-Request-Id": `req "quoted" \ back\slash /slash`},
		{"X-Forwarded-For": "203.0.113.7, 10.0.0.1", "": "empty name", "X-Empty": ""},
		{"Ctl": "\x00\x01\x07\b\t\n\v\f\r\x1b\x1f\x7f"},
		{"Html": "<script>&amp;</script> '", "<&>": "key escaped too"},
		{"Unicode": "ü é ☃ 𝄞 \u2027\u2028\u2029\u202a", "Snow-\u2603": "\ufeff"},
		{"Invalid": "a\xffb\xc3(c\xe2\x82d\xf0\x9f\x98e\xed\xa0\x80f\xc0\xaf", "\xff": "bad key"},
		{"Rune-Error": "\ufffd real replacement char"},
		{"b": "1", "a": "2", "B": "3", "A": "4", "aa": "5", "a-": "6", "a_": "7"},
	} {
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if got := headersJSON(h); got != string(want) {
			t.Errorf("headersJSON(%q)\n got %s\nwant %s", h, got, want)
		}
	}
}

// FuzzHeadersJSON: for any names and values, the encoding is what
// encoding/json gives, and it decodes to the same headers (valid UTF-8 comes
// back unchanged; invalid bytes come back as U+FFFD, as from encoding/json).
func FuzzHeadersJSON(f *testing.F) {
	f.Add("Content-Type", "application/json", "X-Request-Id", `a"b\c`)
	f.Add("User-Agent", "\x00<>&\u2028\u2029", "Elevenlabs-Signature", "present, valid")
	f.Add("\xff", "\xc3(", "X", "𝄞\xed\xa0\x80")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		h := map[string]string{k1: v1, k2: v2, "Callback-Token": "valid"}
		got := headersJSON(h)
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Fatalf("headersJSON(%q)\n got %s\nwant %s", h, got, want)
		}
		var back map[string]string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("decoding %s: %v", got, err)
		}
		wantBack := map[string]string{}
		for k, v := range h {
			wantBack[replaceInvalid(k)] = replaceInvalid(v)
		}
		if len(wantBack) == len(h) && !maps.Equal(back, wantBack) {
			t.Fatalf("%q decodes to %q, want %q", h, back, wantBack)
		}
	})
}

// replaceInvalid is s with each byte that is not part of valid UTF-8
// replaced by U+FFFD, as encoding/json encodes it.
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func BenchmarkHeadersJSON(b *testing.B) {
	h := map[string]string{"Content-Type": "application/json", "User-Agent": "Go-http-client/1.1",
		"Elevenlabs-Signature": "present, valid", "Callback-Token": "valid"}
	b.Run("headersJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = headersJSON(h)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(h)
		}
	})
}
