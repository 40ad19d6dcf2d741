package web

import (
	"context"
	"errors"

	"github.com/voicehook/voicehook"
)

// withVoiceNotice sets seg.VoiceNotice from the notice on the voice of its
// generated voiceover. The notice is a warning beside the segment, so a
// store that cannot answer leaves it unset (and logs) rather than failing
// the page.
func (s *Server) withVoiceNotice(ctx context.Context, seg *voicehook.Segment) {
	if s.VoiceNotices == nil {
		return
	}
	n, err := s.VoiceNotices.SegmentVoiceNotice(ctx, seg.ID)
	switch {
	case errors.Is(err, voicehook.ErrNotFound):
	case err != nil:
		s.Logger.Warn("reading the voice notice of a segment", "segment_id", seg.ID, "err", err)
	case n.Active():
		seg.VoiceNotice = n.Text()
	}
}
