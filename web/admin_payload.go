package web

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits of the payload shown on an event page: a post_call_audio body is
// megabytes of base64, of which the operator needs the shape, not the bytes.
const (
	maxShownString  = 300       // characters of one JSON string
	maxShownPayload = 256 << 10 // bytes of the whole text
	maxShownBinary  = 4 << 10   // bytes of a binary body, as a hex dump
)

// prettyPayload renders a raw payload for people: JSON indented, keys in the
// order sent, long strings shortened; other text as is; binary as a hex dump.
// The text is plain: the template escapes it.
func prettyPayload(raw []byte) (text, note string) {
	switch {
	case len(raw) == 0:
		return "", "empty body"
	case json.Valid(raw):
		text, cut := indentJSON(raw)
		if cut {
			note = fmt.Sprintf("JSON, %s; long values shortened", fmtBytes(int64(len(raw))))
		}
		return text, note
	case utf8.Valid(raw):
		if len(raw) > maxShownPayload {
			return strings.ToValidUTF8(string(raw[:maxShownPayload]), "") + "\n…",
				fmt.Sprintf("not JSON; first %s of %s shown", fmtBytes(maxShownPayload), fmtBytes(int64(len(raw))))
		}
		return string(raw), "not JSON"
	default:
		n := min(len(raw), maxShownBinary)
		note = fmt.Sprintf("binary, %s", fmtBytes(int64(len(raw))))
		if n < len(raw) {
			note += fmt.Sprintf("; first %s shown", fmtBytes(int64(n)))
		}
		return hex.Dump(raw[:n]), note
	}
}

// indentJSON re-emits valid JSON token by token: two-space indentation, the
// sender's key order, strings over maxShownString characters shortened, the
// whole cut at maxShownPayload. It reports whether anything was shortened.
func indentJSON(raw []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		object  bool
		wantKey bool
		n       int
	}
	var (
		b     strings.Builder
		stack []*frame
		cut   bool
	)
	indent := func() {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat("  ", len(stack)))
	}
	// before places a value or key: after a comma and on its own line in a
	// container; a value after its key stays on the key's line.
	before := func() (isKey bool) {
		if len(stack) == 0 {
			return false
		}
		top := stack[len(stack)-1]
		if top.object && !top.wantKey {
			return false
		}
		if top.n > 0 {
			b.WriteByte(',')
		}
		top.n++
		indent()
		return top.object
	}
	// after marks a value done: the object wants a key again.
	after := func() {
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
	for b.Len() <= maxShownPayload {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil { // cannot happen on valid JSON
			return string(raw), false
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				before()
				b.WriteRune(rune(v))
				stack = append(stack, &frame{object: v == '{', wantKey: v == '{'})
			default:
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if top.n > 0 {
					indent()
				}
				b.WriteRune(rune(v))
				after()
			}
		case string:
			isKey := before()
			r := []rune(v)
			if !isKey && len(r) > maxShownString {
				v = string(r[:maxShownString]) + fmt.Sprintf("… (%d more characters)", len(r)-maxShownString)
				cut = true
			}
			b.WriteString(quoteJSON(v))
			if isKey {
				b.WriteString(": ")
				stack[len(stack)-1].wantKey = false
			} else {
				after()
			}
		default:
			before()
			switch v := v.(type) {
			case nil:
				b.WriteString("null")
			case bool:
				fmt.Fprint(&b, v)
			case json.Number:
				b.WriteString(v.String())
			}
			after()
		}
	}
	if dec.More() || len(stack) > 0 {
		b.WriteString("\n… (cut: the payload is too large to show whole)")
		cut = true
	}
	return b.String(), cut
}

// quoteJSON writes s as a JSON string without escaping <, > and &: the page
// shows the characters the sender sent, and the template escapes them.
func quoteJSON(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}
