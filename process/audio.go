package process

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"go.opentelemetry.io/otel/attribute"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/tracing"
)

// obtainAndStore gets the audio from wherever the callback says it is,
// verifies it is audio, and stores it.
func (s *step) obtainAndStore(ctx context.Context, src voicehook.AudioSource) (voicehook.StoredAudio, error) {
	file, err := s.obtain(ctx, src)
	if err != nil {
		return voicehook.StoredAudio{}, err
	}
	defer removeQuietly(file.Path)
	obj := voicehook.AudioObject{
		Key:         voicehook.AudioKey(s.job.SegmentID, file.SHA256, file.Format),
		Path:        file.Path,
		ContentType: file.ContentType,
		SHA256:      file.SHA256,
		Bytes:       file.Bytes,
		DurationMS:  file.DurationMS,
		Temporary:   true, // obtain's file, removed below
	}
	pctx, span := tracing.Start(ctx, "storage.put", attribute.String("voicehook.key", obj.Key), attribute.Int64("voicehook.bytes", obj.Bytes))
	stored, err := s.p.Storage.Put(pctx, obj)
	tracing.End(span, err)
	s.p.count("storage", err)
	if err != nil {
		return stored, fmt.Errorf("storing audio: %w", err)
	}
	return stored, nil
}

func (s *step) obtain(ctx context.Context, src voicehook.AudioSource) (fetch.File, error) {
	switch {
	case src.URL != "":
		dctx, span := tracing.Start(ctx, "fetch.audio")
		f, err := s.p.Fetcher.Download(dctx, src.URL, s.p.TempDir)
		tracing.End(span, err)
		s.p.count("audio_source", err)
		if err != nil {
			return f, fmt.Errorf("downloading audio: %w", err)
		}
		return f, nil
	case len(src.Base64) > 0:
		dec := base64.NewDecoder(base64.StdEncoding, bytes.NewReader(src.Base64))
		// Through the Fetcher: its temp-folder budget bounds every save.
		f, err := s.p.Fetcher.Save(dec, s.p.TempDir, s.p.MaxAudioBytes)
		if err != nil && !voicehook.IsPermanent(err) {
			// Inline audio cannot get better by waiting.
			err = voicehook.Permanent("inline audio unusable", err)
		}
		return f, err
	case src.Spooled:
		if s.p.Spool == nil {
			return fetch.File{}, voicehook.Permanent("spooled call audio, but no spool configured", nil)
		}
		rc, err := s.p.Spool.OpenSpool(ctx, s.ev.ID)
		if errors.Is(err, voicehook.ErrNotFound) {
			return fetch.File{}, voicehook.Permanent("the call's spooled audio is gone (stored and deleted before, or swept)", err)
		}
		if err != nil {
			return fetch.File{}, fmt.Errorf("reading spooled call audio: %w", err)
		}
		defer rc.Close()
		s.spooled = true
		return s.p.Fetcher.Save(rc, s.p.TempDir, s.p.MaxAudioBytes)
	case src.Studio != nil:
		sctx, span := tracing.Start(ctx, "elevenlabs.studio_stream")
		rc, err := s.p.Studio.Stream(sctx, *src.Studio)
		s.p.count("elevenlabs", err)
		if err != nil {
			tracing.End(span, err)
			return fetch.File{}, fmt.Errorf("fetching studio audio: %w", err)
		}
		defer rc.Close()
		// The span lasts until the stream is read: the audio arrives as
		// Save reads it.
		f, err := s.p.Fetcher.Save(io.Reader(rc), s.p.TempDir, s.p.MaxAudioBytes)
		tracing.End(span, err)
		return f, err
	default:
		return fetch.File{}, voicehook.Permanent("no audio URL in webhook payload", nil)
	}
}

func (p *Processor) count(service string, err error) {
	if p.Metrics == nil {
		return
	}
	result := "ok"
	switch {
	case voicehook.IsPermanent(err):
		result = "permanent_error"
	case err != nil:
		result = "transient_error"
	}
	p.Metrics.OutsideCalls.WithLabelValues(service, result).Inc()
}

// dropSpooled deletes the event's spooled audio once no attempt can need it:
// its job has the audio stored for good, or the event can never be claimed.
// A failed or dead event keeps it, for a replay. A failure to delete only
// leaves it for retention to remove.
func (s *step) dropSpooled(ctx context.Context) {
	if !s.spooled {
		return
	}
	if err := s.p.Spool.DeleteSpool(ctx, s.ev.ID); err != nil {
		s.log.WarnContext(ctx, "deleting stored call audio from the spool; retention removes it with the event", "err", err)
	}
}
