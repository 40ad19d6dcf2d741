package voicehook

// OutcomeKind is what a callback means for its job, whatever form it came in.
type OutcomeKind string

const (
	// OutcomeCompleted: the audio is ready at Outcome.Audio.
	OutcomeCompleted OutcomeKind = "completed"
	// OutcomeFailed: the generation failed; Outcome.Message says why.
	OutcomeFailed OutcomeKind = "failed"
	// OutcomeProgress: still queued or processing; nothing changes.
	OutcomeProgress OutcomeKind = "progress"
	// OutcomeIgnored: a genuine event voicehook does not act on (another
	// event type). It is recorded and acknowledged, never rejected.
	OutcomeIgnored OutcomeKind = "ignored"
	// OutcomeTranscript: a speech-to-text transcript (Outcome.
	// Transcription) for a QA check; it changes no job.
	OutcomeTranscript OutcomeKind = "transcript"
)

// Outcome is one callback normalised: every payload form the webhook accepts
// becomes one of these.
type Outcome struct {
	Kind OutcomeKind
	// EventType is the sender's event type ("speech.completed",
	// "post_call_audio", "project_conversion_status", or "status:<status>"
	// for the seed's form).
	EventType string
	// SegmentID is the segment named by the callback (the segment_id query
	// parameter), if any.
	SegmentID string
	// ExternalIDs are the sender's ids that a job's external_id may hold, most
	// specific first (request id, chapter id, project id, conversation id).
	ExternalIDs []string
	// Audio says where completed audio comes from.
	Audio AudioSource
	// Message is the failure message, the progress status or why the event
	// is ignored.
	Message string
	// Chapter marks one chapter's Studio conversion event (ChapterID names
	// the chapter): it finishes only a job created for that chapter, and
	// is progress for a whole project's job.
	Chapter   bool
	ChapterID string
	// VoiceID is the voice a voice_removal_notice, voice_removed or
	// voice_removal_notice_withdrawn event is about.
	VoiceID string
	// Transcription is set on a speech_to_text_transcription event.
	Transcription *Transcription
}

// Transcription is a speech-to-text result delivered to the webhook: the
// transcript and what names the QA check it answers.
type Transcription struct {
	// RequestID is speech to text's request id (empty in the bare form).
	RequestID string
	// Metadata is the webhook_metadata object sent with the request, its
	// values as text (voicehook sends "job_id" and "segment_id").
	Metadata   map[string]string
	Transcript Transcript
}

// AudioSource is exactly one of: a URL to download, inline base64 bytes, a
// Studio snapshot to stream from the ElevenLabs API, or audio spooled when
// the webhook arrived.
type AudioSource struct {
	URL    string
	Base64 []byte
	Studio *StudioSnapshot
	// Spooled: a large post_call_audio's audio, which the webhook decoded
	// into the Spool under the event's id as it arrived.
	Spooled bool
}

// IsZero reports whether the source names no audio at all.
func (a AudioSource) IsZero() bool {
	return a.URL == "" && len(a.Base64) == 0 && a.Studio == nil && !a.Spooled
}

// StudioSnapshot names a Studio project or chapter snapshot whose audio is
// streamed from the ElevenLabs API. ChapterID is empty for a whole project.
type StudioSnapshot struct {
	ProjectID         string
	ProjectSnapshotID string
	ChapterID         string
	ChapterSnapshotID string
}
