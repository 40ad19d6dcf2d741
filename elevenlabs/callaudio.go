package elevenlabs

// A post_call_audio webhook carries the whole call as base64 MP3 in
// data.full_audio: about 1.3 MB per minute, so a two-hour call is ~160 MB of
// JSON. Such a body is never held whole. CallAudioSplitter reads it once, as
// it streams in: the JSON around the audio (a few hundred bytes: type,
// timestamp, agent and conversation ids) is kept, with full_audio's value
// replaced by SpooledAudio, and the audio is decoded from base64 on the fly
// into a writer (the store's spool). The kept JSON then parses like any
// other event, and processing reads the audio back from the spool.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// SpooledAudio stands in the stored payload for full_audio's value once the
// audio itself has been spooled.
const SpooledAudio = "voicehook:spooled"

// maxCallAudioJSON bounds the JSON kept around the audio: a genuine
// post_call_audio has a few hundred bytes of it.
const maxCallAudioJSON = 1 << 20

// callAudioPrefix recognises a post_call_audio body from its first bytes:
// ElevenLabs writes "type" first.
var callAudioPrefix = regexp.MustCompile(`^\s*\{\s*"type"\s*:\s*"post_call_audio"`)

// IsCallAudio reports whether a body starting with prefix is a
// post_call_audio webhook (as ElevenLabs writes it: "type" first).
func IsCallAudio(prefix []byte) bool { return callAudioPrefix.Match(prefix) }

// Splitting failures.
var (
	ErrNoCallAudio    = errors.New("post_call_audio body has no data.full_audio string")
	ErrCallAudioShape = errors.New("post_call_audio body has more than a call's JSON around its audio")
)

const fullAudioKey = "full_audio"

// Scanner states around the audio string.
const (
	scanJSON       = iota
	scanAfterKey   // "full_audio" closed: want ':'
	scanAfterColon // want the opening '"'
	scanAudio      // inside the audio string
	scanDone       // past it
)

// CallAudioSplitter is an io.Writer for a post_call_audio body.
type CallAudioSplitter struct {
	kept  bytes.Buffer
	audio *base64Writer
	err   error
	state int

	// JSON string tracking outside the audio.
	inString, escaped bool
	str               []byte // the current string's bytes, up to len("full_audio")+1
	lastKeyIsAudio    bool   // the string just closed was "full_audio"
	audioEscaped      bool
}

// NewCallAudioSplitter decodes full_audio into audio.
func NewCallAudioSplitter(audio io.Writer) *CallAudioSplitter {
	return &CallAudioSplitter{audio: &base64Writer{w: audio}}
}

// Write scans the next part of the body. It fails once the body cannot be a
// call's audio (the error sticks).
func (s *CallAudioSplitter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	start := 0 // first byte of p not yet routed
	for i := 0; i < len(p); i++ {
		c := p[i]
		if s.state == scanAudio {
			switch {
			case s.audioEscaped:
				s.audioEscaped = false
				if c == '/' {
					s.audio.writeByte('/')
				} // \n, \r: line breaks some encoders insert; skipped
			case c == '\\':
				s.audioEscaped = true
			case c == '"':
				s.state = scanDone
				s.keep([]byte(SpooledAudio + `"`))
			default:
				s.audio.writeByte(c)
			}
			start = i + 1
			if s.audio.err != nil {
				s.err = fmt.Errorf("spooling call audio: %w", s.audio.err)
				return i, s.err
			}
			continue
		}
		s.scan(c)
		if s.state == scanAudio {
			s.keep(p[start : i+1]) // through the opening quote
			start = i + 1
		}
	}
	if s.state != scanAudio {
		s.keep(p[start:])
	}
	if s.err != nil {
		return 0, s.err
	}
	return len(p), nil
}

// scan follows the JSON outside the audio, one byte at a time, to find the
// value of the key "full_audio".
func (s *CallAudioSplitter) scan(c byte) {
	if s.inString {
		switch {
		case s.escaped:
			s.escaped = false
			s.str = append(s.str, 0) // an escape never spells full_audio
		case c == '\\':
			s.escaped = true
		case c == '"':
			s.inString = false
			s.lastKeyIsAudio = string(s.str) == fullAudioKey
		default:
			if len(s.str) <= len(fullAudioKey) {
				s.str = append(s.str, c)
			}
		}
		return
	}
	switch c {
	case ' ', '\t', '\n', '\r':
		return
	}
	switch {
	case s.state == scanJSON && s.lastKeyIsAudio && c == ':':
		s.state = scanAfterColon
	case s.state == scanAfterColon && c == '"':
		s.state = scanAudio
	case s.state == scanAfterColon:
		s.state = scanJSON // full_audio is not a string: no audio
	case c == '"':
		s.inString, s.str = true, s.str[:0]
	}
	s.lastKeyIsAudio = false
}

func (s *CallAudioSplitter) keep(b []byte) {
	if s.kept.Len()+len(b) > maxCallAudioJSON {
		s.err = ErrCallAudioShape
		return
	}
	s.kept.Write(b)
}

// Finish ends the split: it returns the kept JSON (full_audio replaced by
// SpooledAudio) once the whole body has been written.
func (s *CallAudioSplitter) Finish() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.state != scanDone {
		return nil, ErrNoCallAudio
	}
	if err := s.audio.close(); err != nil {
		return nil, fmt.Errorf("spooling call audio: %w", err)
	}
	return s.kept.Bytes(), nil
}

// AudioBytes is how many bytes of audio were decoded so far.
func (s *CallAudioSplitter) AudioBytes() int64 { return s.audio.n }

// base64Writer decodes standard base64 written to it a byte at a time,
// in blocks.
type base64Writer struct {
	w   io.Writer
	in  [4096]byte // a multiple of 4
	nin int
	out [3072]byte
	n   int64
	err error
}

func (b *base64Writer) writeByte(c byte) {
	if b.err != nil {
		return
	}
	b.in[b.nin] = c
	b.nin++
	if b.nin == len(b.in) {
		b.flush(b.nin)
	}
}

func (b *base64Writer) flush(n int) {
	m, err := base64.StdEncoding.Decode(b.out[:], b.in[:n])
	if err != nil {
		b.err = fmt.Errorf("data.full_audio is not base64: %w", err)
		return
	}
	if _, err := b.w.Write(b.out[:m]); err != nil {
		b.err = err
		return
	}
	b.n += int64(m)
	b.nin = 0
}

func (b *base64Writer) close() error {
	if b.err == nil && b.nin > 0 {
		b.flush(b.nin)
	}
	return b.err
}
