package voicehook

import (
	"fmt"
	"strings"
	"time"
)

// Job is one voiceover generation request for a segment.
type Job struct {
	ID           string     `json:"id"`
	SegmentID    string     `json:"segment_id"`
	Type         string     `json:"type"`
	Status       JobStatus  `json:"status"`
	ExternalID   string     `json:"external_id,omitempty"`
	ErrorDetails string     `json:"error_details,omitempty"`
	Timestamps   Timestamps `json:"timestamps"`
	CallbackURL  string     `json:"callback_url,omitempty"`
	// Generation is set on jobs voicehook generated.
	Generation *GenerationInfo `json:"generation,omitempty"`
}

// Segment is one scene or chapter whose voiceover a job produces.
type Segment struct {
	ID         string        `json:"id"`
	Status     SegmentStatus `json:"status"`
	Voiceover  string        `json:"voiceover,omitempty"`
	SHA256     string        `json:"sha256,omitempty"`
	Bytes      int64         `json:"bytes,omitempty"`
	DurationMS int64         `json:"duration_ms,omitempty"`
	// Captions is the URL of the voiceover's WebVTT captions, when
	// voicehook generated it.
	Captions  string    `json:"captions,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// Script and VoiceID are read from the user's Airtable base when it
	// names the fields (--airtable-field-script, --airtable-field-voice-id).
	Script  string `json:"-"`
	VoiceID string `json:"-"`
	// VoiceNotice, when set, says the voice of the segment's generated
	// voiceover is being or has been removed (VoiceNotices): regenerate.
	VoiceNotice string `json:"voice_notice,omitempty"`
	// QA is set when the segment's newest voiceover has a QA check (--qa
	// stt): how far its transcript strays from the script.
	QAStatus      QAStatus       `json:"qa_status,omitempty"`
	QAWER         *float64       `json:"qa_wer,omitempty"`
	QADifferences []QADifference `json:"qa_differences,omitempty"`
	QANotes       string         `json:"qa_notes,omitempty"`
	QAJob         string         `json:"qa_job,omitempty"`
}

// WithQA shows c on the segment.
func (s *Segment) WithQA(c QACheck) {
	s.QAStatus, s.QANotes, s.QAJob = c.Status, c.Notes, c.JobID
	if c.State == QAErrored || s.QAStatus == "" {
		s.QAStatus = QAUnchecked
	}
	if c.Result != nil {
		wer := c.Result.WER
		s.QAWER, s.QADifferences = &wer, c.Result.Differences
	}
}

// NewJob is the request to create a job (POST /api/jobs).
type NewJob struct {
	SegmentID  string
	Type       string
	ExternalID string
	// Script, if set, makes voicehook generate the voiceover.
	Script *Script
}

// SupersededBy is the error details of a processing job that a newer job
// for its segment superseded (Records.CreateJob).
func SupersededBy(newJobID string) string { return "superseded by " + newJobID }

// JobQuery finds the job an event belongs to: by segment, or by the id the
// sender knows it by (a Studio project or request id, a conversation id).
type JobQuery struct {
	SegmentID   string
	ExternalIDs []string
}

// String names what the query looks for, as messages say it:
// `segment "seg_1"`, `ids conv_1, ag_1`, both joined by "or", or "" for
// neither.
func (q JobQuery) String() string {
	var parts []string
	if q.SegmentID != "" {
		parts = append(parts, fmt.Sprintf("segment %q", q.SegmentID))
	}
	if len(q.ExternalIDs) > 0 {
		parts = append(parts, "ids "+strings.Join(q.ExternalIDs, ", "))
	}
	return strings.Join(parts, " or ")
}

// JobFilter selects jobs for listing. Zero fields match everything.
type JobFilter struct {
	Status    JobStatus
	SegmentID string
	Limit     int
}

// StoredAudio describes audio that a Storage has kept.
type StoredAudio struct {
	URL         string `json:"url"`
	Key         string `json:"key"`
	SHA256      string `json:"sha256"`
	Bytes       int64  `json:"bytes"`
	DurationMS  int64  `json:"duration_ms"`
	ContentType string `json:"content_type"`
}
