package elevenlabs

// Speech to text delivers its result in two forms, both parsed here into a
// voicehook.Transcription: the speech_to_text_transcription envelope
// (data.request_id, data.webhook_metadata, data.transcription) and, as one
// ElevenLabs cookbook page shows it, the bare transcription object as the
// whole body, which may carry request_id, transcription_id and
// webhook_metadata beside the transcript. The synchronous answer of
// POST /v1/speech-to-text is that same object (stt.go).
//
// webhook_metadata is what the request sent: a JSON string holding an
// object. ElevenLabs returns it as that string, or perhaps as the object
// itself; both are read into a map of text (see metadata).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/voicehook/voicehook"
)

// wireTranscription is the transcription object. A transcript is decoded
// straight into voicehook's types (their JSON names are ElevenLabs'), in the
// one pass that reads the body: an hour of audio is some 20,000 tokens.
type wireTranscription struct {
	LanguageCode        *string                    `json:"language_code"`
	LanguageProbability float64                    `json:"language_probability"`
	Text                *string                    `json:"text"`
	Words               []voicehook.TranscriptWord `json:"words"`

	// The bare form's and the synchronous answer's ids and metadata.
	RequestID       looseString     `json:"request_id"`
	TranscriptionID looseString     `json:"transcription_id"`
	WebhookMetadata json.RawMessage `json:"webhook_metadata"`
}

func (w *wireTranscription) transcript() voicehook.Transcript {
	t := voicehook.Transcript{LanguageProbability: w.LanguageProbability}
	if w.LanguageCode != nil {
		t.LanguageCode = *w.LanguageCode
	}
	if w.Text != nil {
		t.Text = *w.Text
	}
	if len(w.Words) > 0 { // an empty list reads as none
		t.Words = w.Words
	}
	return t
}

// envelopeTranscription reads a speech_to_text_transcription envelope's
// data; its error says why the event cannot be used.
func envelopeTranscription(d *wireData) (*voicehook.Transcription, error) {
	raw := bytes.TrimSpace(d.Transcription)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, errors.New("data.transcription is missing")
	case raw[0] != '{':
		return nil, errors.New("data.transcription is not an object")
	}
	var w wireTranscription
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("data.transcription: %w", err)
	}
	if w.Text == nil {
		return nil, errors.New("data.transcription has no text")
	}
	return &voicehook.Transcription{
		RequestID:  string(d.RequestID),
		Metadata:   metadata(d.WebhookMetadata),
		Transcript: w.transcript(),
	}, nil
}

// parseBareTranscription recognises the bare transcription object: a
// top-level "text" string beside "words" or a "language_code" string. It
// reports false for any other body. One whose transcript has another shape
// (a word's start as a string) is recorded and ignored as a transcription.
func parseBareTranscription(body []byte, segmentID string) (Parsed, bool) {
	var w wireTranscription
	if err := json.Unmarshal(body, &w); err != nil {
		// Decoded again, loosely, only to tell a transcription of another
		// shape from JSON of no known shape.
		var t struct {
			Text         *string         `json:"text"`
			Words        json.RawMessage `json:"words"`
			LanguageCode *string         `json:"language_code"`
		}
		if json.Unmarshal(body, &t) != nil || t.Text == nil || (t.Words == nil && t.LanguageCode == nil) {
			return Parsed{}, false
		}
		return ignoredShape(body, segmentID, TypeSpeechToTextTranscription, err), true
	}
	if w.Text == nil || (w.Words == nil && w.LanguageCode == nil) {
		return Parsed{}, false
	}
	return Parsed{
		Outcome: voicehook.Outcome{
			Kind:        voicehook.OutcomeTranscript,
			EventType:   TypeSpeechToTextTranscription,
			SegmentID:   segmentID,
			ExternalIDs: nonEmpty(w.RequestID),
			Transcription: &voicehook.Transcription{
				RequestID:  string(w.RequestID),
				Metadata:   metadata(w.WebhookMetadata),
				Transcript: w.transcript(),
			},
		},
		DedupeKey: bareTranscriptionKey(body, segmentID, w.RequestID, w.TranscriptionID),
	}, true
}

// bareTranscriptionKey is the bare form's dedupe key: its request and
// transcription ids when it has either (one transcription delivered twice,
// however it is spaced, is one event), else a hash of the body. It never
// equals an envelope's key, which always holds a timestamp or a body hash
// beside its ids.
func bareTranscriptionKey(body []byte, segmentID string, requestID, transcriptionID looseString) string {
	if requestID == "" && transcriptionID == "" {
		return hashedEnvelopeKey(body, segmentID, TypeSpeechToTextTranscription)
	}
	v := url.Values{}
	add := func(name, val string) {
		if val != "" {
			v.Set(name, val)
		}
	}
	add("request_id", string(requestID))
	add("transcription_id", string(transcriptionID))
	add("segment_id", segmentID)
	return capKey("el:" + TypeSpeechToTextTranscription + ":" + v.Encode())
}

// maxMetadataDepth is the nesting ElevenLabs allows webhook_metadata: an
// object whose values may be flat objects or arrays.
const maxMetadataDepth = 2

// metadata reads webhook_metadata, an object or a JSON string holding one,
// into text: a string value as itself, any other as its compact JSON.
// Metadata nested deeper than ElevenLabs allows keeps its top-level strings
// only. Anything else (no object at all) is no metadata: nil, as is an
// empty object.
func metadata(raw json.RawMessage) map[string]string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		raw = bytes.TrimSpace([]byte(s))
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	deep := false
	for _, v := range obj {
		if 1+jsonDepth(v) > maxMetadataDepth {
			deep = true
			break
		}
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		var s string
		switch {
		case len(v) > 0 && v[0] == '"':
			if json.Unmarshal(v, &s) != nil {
				continue
			}
		case deep:
			continue
		default:
			var buf bytes.Buffer
			if json.Compact(&buf, v) != nil {
				continue
			}
			s = buf.String()
		}
		out[k] = s
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// jsonDepth is how deep a valid JSON value nests: 0 for a scalar, 1 for a
// flat object or array, and so on.
func jsonDepth(v []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range v {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
