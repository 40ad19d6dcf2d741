package elevenlabs

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// IngestKey returns exactly Parse(body, segmentID).DedupeKey and
// Parse(body, segmentID).Outcome.EventType, faster for the common forms.
//
// The webhook handler needs only these two to store a delivery; the full
// Outcome is built later, by the processor. IngestKey scans the body once,
// validating it and picking out the few top-level members the key depends
// on, and calls Parse whenever the body is in any way unusual (see
// fastIngestKey), so its answer is Parse's for every input.
func IngestKey(body []byte, segmentID string) (dedupeKey, eventType string) {
	if key, typ, ok := fastIngestKey(body, segmentID); ok {
		return key, typ
	}
	p, _ := Parse(body, segmentID)
	return p.DedupeKey, p.Outcome.EventType
}

// The members of wire (top level) and wireData (data) by their JSON names.
// TestIngestKeyFieldNames keeps these lists in step with the struct tags.
const (
	topType = iota
	topEventType
	topEventTypeCamel
	topData
	topStatus
	topOutput
	topError
	topEventTimestamp
	numTop
)

var topNames = [numTop]string{"type", "event_type", "eventType", "data", "status", "output", "error", "event_timestamp"}

const (
	dataConversationID = iota
	dataAgentID
	dataFullAudio
	dataProjectID
	dataProjectSnapshotID
	dataChapterID
	dataChapterSnapshotID
	dataRequestID
	dataConversionStatus
	dataErrorDetails
	dataWebhookMetadata
	dataTranscription
	numData
)

var dataNames = [numData]string{
	"conversation_id", "agent_id", "full_audio", "project_id", "project_snapshot_id",
	"chapter_id", "chapter_snapshot_id", "request_id", "conversion_status", "error_details",
	"webhook_metadata", "transcription",
}

// maxSkipDepth bounds the nesting fastIngestKey follows (encoding/json allows
// 10000); anything deeper goes to Parse.
const maxSkipDepth = 64

// fastIngestKey computes IngestKey's answer for a body it is certain about,
// ok=false otherwise. It is certain when the body is valid JSON (checked as
// strictly as encoding/json does, or more) whose top level is an object in
// which json.Unmarshal into wire cannot fail and whose relevant values are
// known byte for byte. Anything else reports ok=false:
//   - invalid JSON, a top level that is not an object, nesting deeper than
//     maxSkipDepth;
//   - a top-level or data member name with an escape or a non-ASCII byte, or
//     one that differs from a wire/wireData field name only by case
//     (encoding/json matches names case-insensitively);
//   - a duplicated wire/wireData member;
//   - type, event_type, eventType, status or a data id that is neither null
//     nor a string, or a string with an escape or invalid UTF-8 (which
//     encoding/json would rewrite); an event_timestamp that is such a
//     string, an object or an array;
//   - neither a type nor a status, and a member named "text" in any case
//     (Parse may find the bare transcription object there);
//   - data that is neither null nor an object.
//
// Every other body decodes into wire without error, so Parse's answer
// follows from the picked-out values alone, whatever the envelope type:
// parseEnvelope keeps the id-based key and the type even when it then finds
// an acted-on event malformed (no conversion_status, full_audio not a
// string, a speech_to_text_transcription without a readable transcription),
// and the data members it reads only for that (full_audio, error_details,
// webhook_metadata, transcription) are json.RawMessage, which any value
// decodes into.
func fastIngestKey(body []byte, segmentID string) (key, typ string, ok bool) {
	s := scanner{b: body}
	var top [numTop][]byte // type, event_type, eventType, status, event_timestamp values
	var ids [numData][]byte
	if !s.object(topNames[:], func(f int) bool {
		switch f {
		case topType, topEventType, topEventTypeCamel, topStatus:
			v, ok := s.plainString()
			top[f] = v
			return ok
		case topEventTimestamp:
			v, ok := s.scalar()
			top[f] = v
			return ok
		case topData:
			if s.literal("null") {
				return true
			}
			return s.object(dataNames[:], func(f int) bool {
				switch f {
				case dataFullAudio, dataErrorDetails, dataWebhookMetadata, dataTranscription, -1:
					return s.skip(2)
				}
				v, ok := s.plainString()
				ids[f] = v
				return ok
			})
		}
		return s.skip(1) // output, error (json.RawMessage) or unknown
	}) {
		return "", "", false
	}
	s.ws()
	if s.i != len(body) {
		return "", "", false
	}

	// wire.eventType, then Parse's choice of form.
	for _, t := range [...][]byte{top[topType], top[topEventType], top[topEventTypeCamel]} {
		if t = bytes.TrimSpace(t); len(t) > 0 {
			typ = string(t)
			break
		}
	}
	if typ != "" {
		loose := func(f int) looseString { return looseString(bytes.TrimSpace(ids[f])) }
		d := wireData{
			ConversationID:    loose(dataConversationID),
			ProjectID:         loose(dataProjectID),
			ProjectSnapshotID: loose(dataProjectSnapshotID),
			ChapterID:         loose(dataChapterID),
			ChapterSnapshotID: loose(dataChapterSnapshotID),
			RequestID:         loose(dataRequestID),
			ConversionStatus:  loose(dataConversionStatus),
		}
		return envelopeKey(body, segmentID, typ, &d, looseString(bytes.TrimSpace(top[topEventTimestamp]))), typ, true
	}
	if status := bytes.TrimSpace(top[topStatus]); len(status) > 0 {
		return seedKey(body, segmentID), "status:" + strings.ToLower(string(status)), true
	}
	if s.sawText {
		return "", "", false
	}
	return rawKey(body, segmentID), TypeUnknown, true
}

// scanner is a strict JSON scanner over b from i.
type scanner struct {
	b []byte
	i int
	// sawText: a member of a named object (top level or data) is "text"
	// in some case.
	sawText bool
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object scans an object at s.i (after optional whitespace). For each
// member it matches the name against names and calls member(index) with s.i
// at the value (-1 for a name not in the list), which must scan it. It
// reports false for invalid JSON and, unless names is nil (an object being
// skipped), for the names fastIngestKey refuses: a name with an escape or a
// non-ASCII byte, a case variant of one of names, or one of names twice.
func (s *scanner) object(names []string, member func(int) bool) bool {
	s.ws()
	if !s.byte('{') {
		return false
	}
	s.ws()
	if s.byte('}') {
		return true
	}
	var seen uint32
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		name, esc, ok := s.str()
		if !ok {
			return false
		}
		f := -1
		if names != nil {
			if esc {
				return false
			}
			if f, ok = matchName(name, names); !ok {
				return false
			}
			if bytes.EqualFold(name, []byte("text")) {
				s.sawText = true
			}
			if f >= 0 {
				if seen&(1<<f) != 0 {
					return false
				}
				seen |= 1 << f
			}
		}
		s.ws()
		if !s.byte(':') {
			return false
		}
		s.ws()
		if !member(f) {
			return false
		}
		s.ws()
		if s.byte(',') {
			s.ws()
			continue
		}
		return s.byte('}')
	}
}

// matchName returns the index of name in names, -1 when it is none of them,
// and ok=false when it may match one the way encoding/json folds names but
// is not exactly it (or is not plain ASCII, which is not worth the risk).
func matchName(name []byte, names []string) (int, bool) {
	for _, c := range name {
		if c >= utf8.RuneSelf {
			return -1, false
		}
	}
	for i, n := range names {
		if len(n) != len(name) {
			continue
		}
		if string(name) == n {
			return i, true
		}
		if bytes.EqualFold(name, []byte(n)) {
			return -1, false
		}
	}
	return -1, true
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// plainString scans a value that decodes into a string field as its raw
// bytes: null (nil) or a string without escapes holding valid UTF-8.
func (s *scanner) plainString() ([]byte, bool) {
	if s.literal("null") {
		return nil, true
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	v, esc, ok := s.str()
	if !ok || esc || !utf8.Valid(v) {
		return nil, false
	}
	return v, true
}

// scalar scans a value that decodes into a looseString as its raw bytes:
// what plainString takes, or a number, true or false (looseString keeps
// their JSON text).
func (s *scanner) scalar() ([]byte, bool) {
	start := s.i
	switch {
	case s.i >= len(s.b):
		return nil, false
	case s.b[s.i] == '"' || s.b[s.i] == 'n':
		return s.plainString()
	case s.literal("true") || s.literal("false") || s.number():
		return s.b[start:s.i], true
	}
	return nil, false
}

// skip scans any value.
func (s *scanner) skip(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; c {
	case '"':
		_, _, ok := s.str()
		return ok
	case '{':
		if depth >= maxSkipDepth {
			return false
		}
		return s.object(nil, func(int) bool { return s.skip(depth + 1) })
	case '[':
		if depth >= maxSkipDepth {
			return false
		}
		s.i++
		s.ws()
		if s.byte(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.byte(',') {
				s.ws()
				continue
			}
			return s.byte(']')
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		return s.number()
	}
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. What may
// follow is the caller's grammar: "01" and "1x" fail there.
func (s *scanner) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return false
		}
		i = j
	}
	s.i = i
	return true
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// SWAR constants: a byte repeated in every lane, and every lane's top bit.
const (
	lanes1   = 0x0101010101010101
	lanesTop = 0x8080808080808080
)

// str scans a string at s.i (on its opening quote) and returns its raw
// contents and whether they hold an escape. Like encoding/json it refuses
// control characters and malformed escapes and accepts any other byte,
// invalid UTF-8 included.
func (s *scanner) str() (raw []byte, esc, ok bool) {
	b := s.b
	start := s.i + 1
	i := start
	for {
		// Eight bytes at a time while none is a quote, a backslash or a
		// control character. Each test is exact about whether some lane
		// matches (not about which), which is all this needs.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q := x ^ (lanes1 * '"')
			bs := x ^ (lanes1 * '\\')
			if ((q-lanes1)&^q|(bs-lanes1)&^bs|(x-lanes1*0x20)&^x)&lanesTop != 0 {
				break
			}
			i += 8
		}
		if i >= len(b) {
			return nil, false, false
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return b[start:i], esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return nil, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return nil, false, false
				}
				i += 6
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default:
			i++
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
