package voicehook

import (
	"context"
	"fmt"
	"time"
)

// Voice notices: ElevenLabs tells a workspace when a shared voice is to be
// removed (voice_removal_notice), when that is called off
// (voice_removal_notice_withdrawn) and when it is gone (voice_removed).
// voicehook keeps the latest word about each voice, and shows it on every
// segment whose voiceover it generated with that voice, so an operator can
// regenerate the segment while the voice still exists.

// Voice notice kinds, as ElevenLabs names the events.
const (
	VoiceRemovalNotice          = "voice_removal_notice"
	VoiceRemovalNoticeWithdrawn = "voice_removal_notice_withdrawn"
	VoiceRemoved                = "voice_removed"
)

// VoiceNotice is the latest word about one voice.
type VoiceNotice struct {
	VoiceID string
	// Kind is VoiceRemovalNotice, VoiceRemovalNoticeWithdrawn or
	// VoiceRemoved.
	Kind string
	// EventID is the event that brought it; At is when it arrived.
	EventID string
	At      time.Time
}

// Active reports whether the notice still warns (a withdrawn one does not).
func (n VoiceNotice) Active() bool {
	return n.Kind == VoiceRemovalNotice || n.Kind == VoiceRemoved
}

// Text is what a segment voiced with the voice shows.
func (n VoiceNotice) Text() string {
	day := n.At.UTC().Format(time.DateOnly)
	if n.Kind == VoiceRemoved {
		return fmt.Sprintf("voice %s was removed (ElevenLabs voice_removed, %s): regenerate this segment with another voice", n.VoiceID, day)
	}
	return fmt.Sprintf("voice %s is scheduled for removal (ElevenLabs voice_removal_notice, %s): regenerate this segment before it goes", n.VoiceID, day)
}

// VoiceNotices keeps the voice notices beside the generations (whatever
// keeps the records: the voices are known only for jobs voicehook
// generated).
type VoiceNotices interface {
	// NoteVoice records n as the voice's latest notice unless a later one
	// is already recorded (safe to repeat, in any order), and returns how
	// many segments have a voiceover generated with the voice.
	NoteVoice(ctx context.Context, n VoiceNotice) (segments int, err error)
	// SegmentVoiceNotice returns the active notice on the voice of the
	// segment's newest generated voiceover; ErrNotFound if there is none.
	SegmentVoiceNotice(ctx context.Context, segmentID string) (VoiceNotice, error)
}
