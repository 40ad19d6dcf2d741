package web

// A post_call_audio webhook carries the whole call as base64 MP3: ~1.3 MB a
// minute, ~160 MB for two hours, and ElevenLabs does not retry audio
// webhooks. Such a body is allowed up to --max-call-audio-bytes and is never
// held in memory: as it streams in, its signature is hashed, the audio is
// decoded into the store's Spool under the new event's id (rows of 1 MiB),
// and only the JSON around the audio is kept as the event's payload. The
// event is committed only after the spool is durable and the signature
// checked, so a 200 still means nothing can be lost. A refused upload's
// spool is deleted at once; one cut by a crash is swept at the next start.

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
)

// spoolCallAudioAbove: a post_call_audio body declared larger than this
// (or of unknown length) goes to the spool; smaller ones are read in memory
// like any other body.
const spoolCallAudioAbove = 8 << 20

// DefaultMaxCallAudio fits a two-hour call with room to spare.
const DefaultMaxCallAudio = 256 << 20

func (s *Server) maxCallAudio() int64 {
	if s.Spool == nil {
		return 0
	}
	if s.MaxCallAudioBytes > 0 {
		return s.MaxCallAudioBytes
	}
	return DefaultMaxCallAudio
}

// isLongCallAudio peeks at the body's first bytes: a large post_call_audio
// is spooled. The peeked bytes stay in the body for whoever reads it.
func (s *Server) isLongCallAudio(r *http.Request) bool {
	if s.Spool == nil || (r.ContentLength >= 0 && r.ContentLength <= spoolCallAudioAbove) {
		return false
	}
	br := bufio.NewReaderSize(r.Body, 512)
	prefix, _ := br.Peek(256)
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	return elevenlabs.IsCallAudio(prefix)
}

// receiveCallAudio reads a long post_call_audio into the spool and stores
// its event.
func (s *Server) receiveCallAudio(w http.ResponseWriter, r *http.Request, p proof, segmentID string, start time.Time) {
	// The spool writer's row buffer and the read buffer are all this
	// upload holds; they count against the bodies' budget like any chunk.
	const held = 1<<20 + bodyChunk
	if !s.bodies().take(held) {
		s.bodyReadFailed(w, r, errBodyBudget, s.maxCallAudio())
		return
	}
	defer s.bodies().give(held)

	id := newEventID()                        // the spool is kept under the event's id
	ctx := context.WithoutCancel(r.Context()) // the spool must not be cut half-written by the sender leaving
	spool, err := s.Spool.CreateSpool(ctx, id)
	if err != nil {
		s.Logger.Error("starting the spool", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable; retry")
		return
	}
	discard := func() {
		if err := s.Spool.DeleteSpool(ctx, id); err != nil {
			s.Logger.Warn("deleting a refused upload's spool; the sweep at next start removes it", "event_id", id, "err", err)
		}
	}
	split := elevenlabs.NewCallAudioSplitter(spool)
	sink := io.MultiWriter(p.sink(), split)
	rc := http.NewResponseController(w)
	src := http.MaxBytesReader(w, r.Body, s.maxCallAudio())
	buf := make([]byte, bodyChunk)
	for {
		n, rerr := readFull(rc, src, buf)
		if _, err := sink.Write(buf[:n]); err != nil {
			_ = spool.Close()
			discard()
			s.Metrics.Deliveries.WithLabelValues("read_error").Inc()
			writeError(w, http.StatusBadRequest, "post_call_audio body unusable: "+err.Error())
			return
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			_ = spool.Close()
			discard()
			s.bodyReadFailed(w, r, rerr, s.maxCallAudio())
			return
		}
	}
	if err := spool.Close(); err != nil {
		discard()
		s.Logger.Error("spooling call audio", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable; retry")
		return
	}
	if no := p.verifyBody(); no != nil {
		discard()
		s.refuse(w, r, segmentID, no)
		return
	}
	kept, err := split.Finish()
	if err != nil {
		discard()
		s.Metrics.Deliveries.WithLabelValues("read_error").Inc()
		writeError(w, http.StatusBadRequest, "post_call_audio body unusable: "+err.Error())
		return
	}
	res := s.acknowledge(w, r, s.newEvent(r, p, id, segmentID, kept, start), start)
	switch {
	case res.Err != nil:
		// Not committed (the ack timed out or the store is down): the
		// spool stays, for the commit may still land; the sweep at the
		// next start removes it if not.
	case res.Duplicate:
		discard() // the first delivery's event has its own audio
	default:
		s.Logger.Info("call audio spooled", "event_id", id, "audio_bytes", split.AudioBytes())
	}
}
