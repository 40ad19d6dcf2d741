package voicehook

import (
	"context"
	"time"
)

// Voiceover QA (--qa stt): once a job whose script is known completes, its
// voiceover is transcribed by ElevenLabs speech to text and the transcript
// compared with the script word for word (package qa). The segment then
// carries qa_status passed or flagged, the word error rate and each
// difference with the audio time where it happens. QA never changes a job's
// or a voiceover's status: it only says how far the audio strays from the
// script.
//
// The QA state lives in the store beside the generations, whatever keeps the
// records; a QA check's row and its queue job are written in one
// transaction.

// TranscriptEventType is the webhook event type that brings a
// speech-to-text transcript (elevenlabs.TypeSpeechToTextTranscription).
const TranscriptEventType = "speech_to_text_transcription"

// QAStatus is what a segment's QA says: the segment's qa_status.
type QAStatus string

const (
	// QAPassed: the transcript matches the script within --qa-max-wer.
	QAPassed QAStatus = "passed"
	// QAFlagged: the transcript strays from the script beyond
	// --qa-max-wer; the differences say where.
	QAFlagged QAStatus = "flagged"
	// QAUnchecked: no verdict (yet): the transcript is awaited, or speech
	// to text failed; QACheck.Notes says which.
	QAUnchecked QAStatus = "unchecked"
)

// QAState is where one QA check is.
type QAState string

const (
	// QAAwaitingAudio: the script of a callback job is known and the job
	// has not completed yet.
	QAAwaitingAudio QAState = "awaiting_audio"
	// QAQueued: the voiceover is stored; the transcription is to be
	// requested.
	QAQueued QAState = "queued"
	// QASubmitted: speech to text accepted the request (RequestID) and
	// will deliver the transcript to the webhook.
	QASubmitted QAState = "submitted"
	// QAChecked: the transcript arrived and was compared (Status passed
	// or flagged).
	QAChecked QAState = "checked"
	// QAErrored: no transcript can be had (speech to text refused the
	// audio, or every attempt failed); Status unchecked.
	QAErrored QAState = "errored"
	// QACancelled: the job failed, so there is no voiceover to check.
	QACancelled QAState = "cancelled"
)

// Final reports whether the check is over.
func (s QAState) Final() bool {
	return s == QAChecked || s == QAErrored || s == QACancelled
}

// Transcript is what speech to text heard.
type Transcript struct {
	LanguageCode        string           `json:"language_code,omitempty"`
	LanguageProbability float64          `json:"language_probability,omitempty"`
	Text                string           `json:"text"`
	Words               []TranscriptWord `json:"words,omitempty"`
}

// TranscriptWord is one token of a transcript with its time in the audio,
// in seconds. Type is "word", "spacing" or "audio_event".
type TranscriptWord struct {
	Text      string  `json:"text"`
	Start     float64 `json:"start"`
	End       float64 `json:"end"`
	Type      string  `json:"type,omitempty"`
	SpeakerID string  `json:"speaker_id,omitempty"`
}

// Difference kinds, as word error rate counts them.
const (
	DiffSubstitution = "substitution"
	DiffDeletion     = "deletion"
	DiffInsertion    = "insertion"
)

// QADifference is one place where the transcript strays from the script.
// Expected is the script's word (empty for an insertion), Heard the
// transcript's (empty for a deletion). At is the audio time in seconds
// where it happens: the heard word's start, or for a deletion where the
// missing word should have been (the end of the word heard before it).
type QADifference struct {
	Kind     string  `json:"kind"`
	Expected string  `json:"expected,omitempty"`
	Heard    string  `json:"heard,omitempty"`
	At       float64 `json:"at"`
	End      float64 `json:"end,omitempty"`
	// ScriptIndex is the position, from 0, of the script's token (its
	// normalised word, qa.Normalize) that differs; for an insertion, of the
	// token that follows it (clamped to the last).
	ScriptIndex int `json:"script_index"`
}

// QAResult is a comparison of a transcript with its script.
type QAResult struct {
	// WER is (substitutions + deletions + insertions) / ScriptWords.
	WER         float64        `json:"wer"`
	ScriptWords int            `json:"script_words"`
	Differences []QADifference `json:"differences"`
}

// QACheck is one job's QA, as the store keeps it.
type QACheck struct {
	JobID     string
	SegmentID string
	// Script is the text the voiceover should say.
	Script string
	State  QAState
	Status QAStatus
	// Audio is the voiceover checked (set once stored).
	Audio *StoredAudio
	// RequestID is speech to text's id for the transcription.
	RequestID string
	// EventID is the webhook event that brought the transcript.
	EventID    string
	Transcript *Transcript
	Result     *QAResult
	// Notes says why a check is unchecked, or sums up a verdict.
	Notes   string
	Created time.Time
	Updated time.Time
}

// QAFilter selects checks for listing.
type QAFilter struct {
	// Status, if set, keeps checks with that status; flagged checks list
	// worst first, others newest first.
	Status QAStatus
	Limit  int
}

// QARun is one attempt at a QA check, as the queue hands it over.
type QARun struct {
	JobID       string
	Attempt     int
	MaxAttempts int
}

// QAChecker runs QA attempts (process.Checker).
type QAChecker interface {
	Check(ctx context.Context, run QARun) RunResult
}

// QAChecks keeps the QA checks and queues their turns.
type QAChecks interface {
	// ExpectScript records the script of a callback job created with text
	// (state QAAwaitingAudio). Safe to repeat.
	ExpectScript(ctx context.Context, job Job, script string) error
	// QueueQA queues the check of job's stored voiceover, in one
	// transaction with its queue job. script is the text it should say;
	// empty means the script ExpectScript recorded, and with none QueueQA
	// does nothing and returns false. A check already queued or further
	// along is left as it is (safe to repeat).
	QueueQA(ctx context.Context, job Job, script string, audio StoredAudio) (bool, error)
	QA(ctx context.Context, jobID string) (QACheck, error)
	// QAByRequest finds the check whose transcription has requestID.
	QAByRequest(ctx context.Context, requestID string) (QACheck, error)
	// SegmentQA returns the check of the segment's newest voiceover that
	// has one (ErrNotFound if none).
	SegmentQA(ctx context.Context, segmentID string) (QACheck, error)
	// SaveQA writes c's state, request, transcript, result and notes,
	// unless the stored check is already final (it then returns
	// ErrFinished and changes nothing).
	SaveQA(ctx context.Context, c QACheck) error
	// ListQA lists checks.
	ListQA(ctx context.Context, f QAFilter) ([]QACheck, error)
}

// QARecords is implemented by records that show a segment's QA themselves
// (Airtable's optional QA fields); SQL records show it from QAChecks.
type QARecords interface {
	SetSegmentQA(ctx context.Context, segmentID string, c QACheck) error
}
