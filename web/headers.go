package web

// The headers kept with an event are stored as one JSON object. The handler
// encodes them here, while handling its request, rather than the store's
// ingest writer: that writer is a single goroutine every delivery waits for
// (the serial stage of group commit), and encoding/json's reflective map
// encoding on it cost ~10% of its time. The encoding is byte for byte what
// json.Marshal gives for the same map — keys sorted, ", \ and control
// characters escaped, <, > and & escaped as \u003c…, U+2028/U+2029 escaped,
// each byte of invalid UTF-8 replaced by \ufffd — so stored rows are the
// same whoever encoded them (headers_test.go checks it against
// encoding/json with a table and a fuzz test).

import (
	"slices"
	"unicode/utf8"
)

// headersJSON encodes h as json.Marshal would.
func headersJSON(h map[string]string) string {
	if h == nil {
		return "null"
	}
	var keysBuf [8]string // kept headers are few: no allocation for the keys
	keys := keysBuf[:0]
	size := 2
	for k, v := range h {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, h[k])
	}
	b = append(b, '}')
	return string(b)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (with its HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied as it is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other control characters, and <, >, &
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not valid JavaScript: escaped, as encoding/json does.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
