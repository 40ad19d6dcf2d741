package elevenlabs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/voicehook/voicehook"
)

// ErrMalformedPayload means a (correctly signed) body is not JSON. JSON of a
// shape voicehook does not know is no error: it parses as an ignored
// outcome with its type recorded. The caller still stores the event, under
// Parsed.DedupeKey, so nothing a sender signed is ever lost.
var ErrMalformedPayload = errors.New("malformed payload")

// Parsed is one callback body normalised.
type Parsed struct {
	Outcome voicehook.Outcome
	// DedupeKey identifies the delivery: the same event delivered twice gets
	// the same key. Always set, even when Parse fails. At most
	// maxDedupeKeyLen bytes.
	DedupeKey string
}

// Envelope event types voicehook acts on.
const (
	TypePostCallAudio           = "post_call_audio"
	TypeProjectConversionStatus = "project_conversion_status"
	TypeChapterConversionStatus = "chapter_conversion_status"
	// TypeSpeechToTextTranscription brings a QA check's transcript
	// (voicehook.OutcomeTranscript); it changes no job.
	TypeSpeechToTextTranscription = voicehook.TranscriptEventType
)

// Event types voicehook recognises and records without acting on a job
// (TypeVoiceRemovalNotice and its kin mark the segments voiced with the
// voice; see voicehook.VoiceNotices).
const (
	TypePostCallTranscription       = "post_call_transcription"
	TypeCallInitiationFailure       = "call_initiation_failure"
	TypeVoiceRemovalNotice          = "voice_removal_notice"
	TypeVoiceRemovalNoticeWithdrawn = "voice_removal_notice_withdrawn"
	TypeVoiceRemoved                = "voice_removed"
	// TypeUnknown is recorded for signed JSON with neither a type nor a
	// status, of no shape voicehook recognises.
	TypeUnknown = "unknown"
)

// Parse normalises a webhook body into an Outcome. segmentID is the
// segment_id query parameter; it alone sets Outcome.SegmentID (a body could
// name any segment, the callback URL is what voicehook handed out).
//
// Any JSON parses: what voicehook cannot act on (an unknown type, a known
// type whose data has another shape, JSON with neither a type nor a status)
// is an ignored outcome that says why. Only a body that is not JSON is an
// error (always wrapping ErrMalformedPayload); DedupeKey and
// Outcome.SegmentID are still set then.
func Parse(body []byte, segmentID string) (Parsed, error) {
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return parseLoose(body, segmentID, err)
	}
	if typ := w.eventType(); typ != "" {
		return parseEnvelope(body, segmentID, typ, w.Data, w.EventTimestamp)
	}
	if status := strings.TrimSpace(w.Status); status != "" {
		return Parsed{
			Outcome:   parseSeed(&w, status, segmentID),
			DedupeKey: seedKey(body, segmentID),
		}, nil
	}
	return parseUntyped(body, segmentID), nil
}

// wire is the union of every accepted form, decoded in one pass so that a
// many-megabyte post_call_audio body is scanned once and its audio copied
// once (into Data.FullAudio).
type wire struct {
	// ElevenLabs envelope. event_type (and the SDK test vectors' eventType)
	// are accepted as aliases of type.
	Type           string    `json:"type"`
	EventType      string    `json:"event_type"`
	EventTypeCamel string    `json:"eventType"`
	Data           *wireData `json:"data"`

	// The seed's form.
	Status string          `json:"status"`
	Output json.RawMessage `json:"output"`
	Error  json.RawMessage `json:"error"`

	// EventTimestamp (an int or a string, depending on the event) tells
	// two events about the same ids apart in the dedupe key.
	EventTimestamp looseString `json:"event_timestamp"`
}

func (w *wire) eventType() string {
	for _, t := range []string{w.Type, w.EventType, w.EventTypeCamel} {
		if t = strings.TrimSpace(t); t != "" {
			return t
		}
	}
	return ""
}

type wireData struct {
	ConversationID    looseString     `json:"conversation_id"`
	AgentID           looseString     `json:"agent_id"`
	FullAudio         json.RawMessage `json:"full_audio"`
	ProjectID         looseString     `json:"project_id"`
	ProjectSnapshotID looseString     `json:"project_snapshot_id"`
	ChapterID         looseString     `json:"chapter_id"`
	ChapterSnapshotID looseString     `json:"chapter_snapshot_id"`
	RequestID         looseString     `json:"request_id"`
	ConversionStatus  looseString     `json:"conversion_status"`
	ErrorDetails      json.RawMessage `json:"error_details"`
	// A speech_to_text_transcription's (transcription.go). Raw, so that
	// decoding the envelope never fails on them: parseEnvelope reads them
	// only for that type and says what it cannot use.
	WebhookMetadata json.RawMessage `json:"webhook_metadata"`
	Transcription   json.RawMessage `json:"transcription"`
}

// looseString accepts a JSON string, number or boolean as text and null as
// empty, so an id sent as a number does not make a whole event malformed.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*s = looseString(strings.TrimSpace(str))
	case b[0] == '{' || b[0] == '[':
		return errors.New("want a string, got an object or array")
	default: // number, true, false
		*s = looseString(b)
	}
	return nil
}

// parseSeed handles the seed's {"status":…,"output":{"url":…}} /
// {"error":{"message":…}} form.
func parseSeed(w *wire, status, segmentID string) voicehook.Outcome {
	status = strings.ToLower(status)
	out := voicehook.Outcome{EventType: "status:" + status, SegmentID: segmentID}
	switch status {
	case "completed":
		out.Kind = voicehook.OutcomeCompleted
		var o struct {
			URL looseString `json:"url"`
		}
		// A missing or odd "output" leaves Audio zero; the processor turns
		// that into a permanent "no audio" failure rather than us guessing.
		if json.Unmarshal(w.Output, &o) == nil {
			out.Audio.URL = string(o.URL)
		}
	case "queued", "processing", "pending", "in_progress", "started":
		out.Kind = voicehook.OutcomeProgress
		out.Message = status
	default:
		out.Kind = voicehook.OutcomeFailed
		out.Message = seedErrorMessage(w.Error)
	}
	return out
}

// seedErrorMessage reads error.message like the seed did, falling back to its
// "Unknown error"; a plain string error is accepted too.
func seedErrorMessage(raw json.RawMessage) string {
	var obj struct {
		Message looseString `json:"message"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		return string(obj.Message)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
		return strings.TrimSpace(s)
	}
	return "Unknown error"
}

func parseEnvelope(body []byte, segmentID, typ string, d *wireData, ts looseString) (Parsed, error) {
	if d == nil {
		d = &wireData{}
	}
	p := Parsed{
		Outcome:   voicehook.Outcome{EventType: typ, SegmentID: segmentID},
		DedupeKey: envelopeKey(body, segmentID, typ, d, ts),
	}
	out := &p.Outcome
	switch strings.ToLower(typ) {
	case TypePostCallAudio:
		audio, err := rawString(d.FullAudio)
		if err != nil {
			return malformedWith(p, fmt.Errorf("data.full_audio: %w", err))
		}
		out.Kind = voicehook.OutcomeCompleted
		if string(audio) == SpooledAudio {
			// The webhook kept the audio in the store's spool
			// (callaudio.go), under the event's id.
			out.Audio.Spooled = true
		} else {
			out.Audio.Base64 = audio
		}
		out.ExternalIDs = nonEmpty(d.ConversationID, d.AgentID)
	case TypeProjectConversionStatus, TypeChapterConversionStatus:
		out.ExternalIDs = nonEmpty(d.RequestID, d.ChapterID, d.ProjectID)
		if strings.EqualFold(typ, TypeChapterConversionStatus) {
			// One chapter of a conversion: progress for a project's job
			// (the processor decides).
			out.Chapter, out.ChapterID = true, string(d.ChapterID)
		}
		status := strings.ToLower(string(d.ConversionStatus))
		switch status {
		case "":
			return malformedWith(p, errors.New("data.conversion_status is missing"))
		case "success":
			out.Kind = voicehook.OutcomeCompleted
			out.Audio.Studio = studioSnapshot(typ, d)
		case "error", "failed", "failure":
			out.Kind = voicehook.OutcomeFailed
			out.Message = errorDetails(d.ErrorDetails)
		default:
			out.Kind = voicehook.OutcomeProgress
			out.Message = status
		}
	case TypeVoiceRemovalNotice, TypeVoiceRemoved, TypeVoiceRemovalNoticeWithdrawn:
		out.Kind = voicehook.OutcomeIgnored
		out.VoiceID = voiceID(body)
		out.Message = voiceMessage(strings.ToLower(typ), out.VoiceID)
	case TypeSpeechToTextTranscription:
		x, err := envelopeTranscription(d)
		if err != nil {
			return malformedWith(p, err)
		}
		out.Kind = voicehook.OutcomeTranscript
		out.ExternalIDs = nonEmpty(d.RequestID)
		out.Transcription = x
	case TypeCallInitiationFailure:
		out.Kind = voicehook.OutcomeIgnored
		out.Message = "call_initiation_failure: an agent's call did not start, so there is no audio; recorded only"
	default:
		out.Kind = voicehook.OutcomeIgnored
		out.Message = fmt.Sprintf("event type %s is not acted on", typ)
	}
	return p, nil
}

// voiceID reads data.voice_id of a voice notice. It is decoded apart from
// wire (a notice is small) so the hot path's wireData stays as it is; a
// voice_id of another shape leaves it empty and the notice marks nothing.
func voiceID(body []byte) string {
	var v struct {
		Data struct {
			VoiceID looseString `json:"voice_id"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return string(v.Data.VoiceID)
}

func voiceMessage(typ, voice string) string {
	if voice == "" {
		return typ + " without a data.voice_id: recorded only"
	}
	switch typ {
	case TypeVoiceRemovalNotice:
		return fmt.Sprintf("voice %s is scheduled for removal: the segments voiced with it are marked; regenerate them before it goes", voice)
	case TypeVoiceRemoved:
		return fmt.Sprintf("voice %s has been removed: the segments voiced with it are marked; regenerate them with another voice", voice)
	}
	return fmt.Sprintf("the removal of voice %s is withdrawn: its segments' marks are cleared", voice)
}

// parseUntyped handles JSON with neither a type nor a status: the bare
// speech-to-text transcription object (one ElevenLabs cookbook page sends
// the transcription as the whole body; see parseBareTranscription), or some
// other shape, recorded and ignored.
func parseUntyped(body []byte, segmentID string) Parsed {
	if p, ok := parseBareTranscription(body, segmentID); ok {
		return p
	}
	return Parsed{
		Outcome: voicehook.Outcome{Kind: voicehook.OutcomeIgnored, EventType: TypeUnknown, SegmentID: segmentID,
			Message: "JSON with neither a type nor a status, of no shape voicehook knows: recorded only"},
		DedupeKey: rawKey(body, segmentID),
	}
}

// studioSnapshot names the audio a successful conversion produced, or nil
// when the ids to fetch it are missing (the processor then fails the job
// permanently for want of audio). A project conversion streams the whole
// project, even if the event also mentions a chapter; a chapter conversion
// streams that chapter.
func studioSnapshot(typ string, d *wireData) *voicehook.StudioSnapshot {
	s := &voicehook.StudioSnapshot{
		ProjectID:         string(d.ProjectID),
		ProjectSnapshotID: string(d.ProjectSnapshotID),
		ChapterID:         string(d.ChapterID),
		ChapterSnapshotID: string(d.ChapterSnapshotID),
	}
	if strings.ToLower(typ) == TypeProjectConversionStatus {
		s.ChapterID, s.ChapterSnapshotID = "", ""
	}
	switch {
	case s.ProjectID == "":
		return nil
	case s.ChapterID != "" && s.ChapterSnapshotID != "":
		return s
	case s.ChapterID == "" && s.ProjectSnapshotID != "":
		return s
	}
	return nil
}

// errorDetails renders data.error_details, a string or an object, as text.
func errorDetails(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "Unknown error"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
		return "Unknown error"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return "Unknown error"
	}
	return buf.String()
}

// rawString returns the contents of a JSON string without copying them when,
// as for base64, they hold no escapes. null and absent give nil.
func rawString(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '"' {
		return nil, errors.New("not a string")
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, nil
	}
	// Escapes (some encoders write "\/") need a real decode.
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

func nonEmpty(ids ...looseString) []string {
	var out []string
	for _, id := range ids {
		if id != "" && !containsString(out, string(id)) {
			out = append(out, string(id))
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseLoose handles a body that did not decode into the union: JSON of
// another shape (an envelope whose data or ids have another shape, a status
// that is not a string, an array…), recorded and ignored, or no JSON at all.
func parseLoose(body []byte, segmentID string, decodeErr error) (Parsed, error) {
	if !json.Valid(body) {
		return malformed(body, segmentID, "", decodeErr)
	}
	var head struct {
		Type           string `json:"type"`
		EventType      string `json:"event_type"`
		EventTypeCamel string `json:"eventType"`
	}
	if json.Unmarshal(body, &head) != nil {
		return ignoredShape(body, segmentID, TypeUnknown, decodeErr), nil
	}
	w := wire{Type: head.Type, EventType: head.EventType, EventTypeCamel: head.EventTypeCamel}
	typ := w.eventType()
	switch strings.ToLower(typ) {
	case "":
		return ignoredShape(body, segmentID, TypeUnknown, decodeErr), nil
	case TypePostCallAudio, TypeProjectConversionStatus, TypeChapterConversionStatus, TypeSpeechToTextTranscription:
		return ignoredShape(body, segmentID, typ, decodeErr), nil
	}
	return Parsed{
		Outcome: voicehook.Outcome{
			Kind:      voicehook.OutcomeIgnored,
			EventType: typ,
			SegmentID: segmentID,
			Message:   fmt.Sprintf("event type %s is not acted on", typ),
		},
		DedupeKey: hashedEnvelopeKey(body, segmentID, typ),
	}, nil
}

// malformed is Parse's answer for a body that is not JSON.
func malformed(body []byte, segmentID, typ string, err error) (Parsed, error) {
	p := Parsed{
		Outcome:   voicehook.Outcome{EventType: typ, SegmentID: segmentID},
		DedupeKey: rawKey(body, segmentID),
	}
	return p, fmt.Errorf("%w: %w", ErrMalformedPayload, err)
}

// ignoredShape is Parse's answer for JSON it cannot read as typ: recorded
// with its type and ignored, never failed (a genuine event voicehook does
// not understand is no error of the sender's).
func ignoredShape(body []byte, segmentID, typ string, err error) Parsed {
	return Parsed{
		Outcome: voicehook.Outcome{Kind: voicehook.OutcomeIgnored, EventType: typ, SegmentID: segmentID,
			Message: fmt.Sprintf("%s of a shape voicehook does not know (%v): recorded only", typ, err)},
		DedupeKey: rawKey(body, segmentID),
	}
}

// malformedWith keeps an envelope's id-based dedupe key and its type, and
// ignores an acted-on event whose data voicehook cannot use.
func malformedWith(p Parsed, err error) (Parsed, error) {
	p.Outcome = voicehook.Outcome{Kind: voicehook.OutcomeIgnored, EventType: p.Outcome.EventType, SegmentID: p.Outcome.SegmentID,
		Message: fmt.Sprintf("%s of a shape voicehook does not know (%v): recorded only", p.Outcome.EventType, err)}
	return p, nil
}
