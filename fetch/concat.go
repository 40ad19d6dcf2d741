package fetch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"time"
)

// ConcatMP3 joins MP3 clips (say, the parts of a long script spoken one
// request at a time) into one stream that plays them back to back. It keeps
// the first part's leading ID3v2 tags and, of every part, only its MPEG audio
// frames: later parts' ID3v2 tags, junk before the first frame, ID3v1 "TAG"
// and APE trailers, and truncated last frames are dropped, and so is any
// Xing/Info or VBRI frame, since its frame count (and LAME's gapless
// trimming) would describe one part as if it were the whole.
//
// durations[i] is how long part i plays, measured from its frames (samples
// ÷ sample rate), encoder delay and padding included because nothing trims
// them any more: part i starts in out at the sum of durations[:i], which is
// what shifts its alignment. Parts must share MPEG version, layer and
// sample rate (a decoder does not expect them to change mid-stream); an
// empty part or one that is not MP3 is refused. Structural problems wrap
// ErrMalformed.
func ConcatMP3(parts [][]byte) (out []byte, durations []time.Duration, err error) {
	if len(parts) == 0 {
		return nil, nil, errors.New("concatenating MP3: no parts")
	}
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	out = make([]byte, 0, size)
	durations = make([]time.Duration, len(parts))
	var first frameHeader
	for i, p := range parts {
		part, err := clipFrames(p)
		if err != nil {
			return nil, nil, fmt.Errorf("concatenating MP3: part %d of %d: %w", i+1, len(parts), err)
		}
		if i == 0 {
			first = part.header
			out = append(out, part.tags...)
		} else if !first.sameStream(part.header) {
			return nil, nil, fmt.Errorf("concatenating MP3: part %d of %d is %s, part 1 is %s: they cannot share one stream",
				i+1, len(parts), part.header.describe(), first.describe())
		}
		out = append(out, part.audio...)
		d, ok := ratio(part.samples, int64(part.header.sampleRate))
		if !ok {
			return nil, nil, fmt.Errorf("concatenating MP3: part %d of %d: %w", i+1, len(parts), malformed(FormatMP3, "implausible length"))
		}
		durations[i] = d
	}
	return out, durations, nil
}

// mp3Clip is what ConcatMP3 keeps of a clip.
type mp3Clip struct {
	tags    []byte      // the leading ID3v2 tags
	audio   []byte      // the audio frames, contiguous
	header  frameHeader // of the first audio frame
	samples int64       // per channel, in audio
}

// clipFrames finds a clip's audio frames the way mp3Duration walks them, so
// that the durations ConcatMP3 reports agree with Duration's.
func clipFrames(p []byte) (mp3Clip, error) {
	if len(p) == 0 {
		return mp3Clip{}, malformed(FormatMP3, "the part is empty")
	}
	if format, _, ok := Sniff(p[:min(len(p), sniffLen)]); ok && format != FormatMP3 {
		return mp3Clip{}, malformed(FormatMP3, "the part is %s audio, not MP3", format)
	}
	rd := bytes.NewReader(p)
	br := bufio.NewReaderSize(rd, mp3SyncWindow)
	offset := func() int { return len(p) - rd.Len() - br.Buffered() }
	if err := skipID3v2(br); err != nil {
		return mp3Clip{}, err
	}
	tagEnd := offset()
	h, err := syncFirstFrame(br)
	if err != nil {
		return mp3Clip{}, err
	}
	pos := offset()
	if _, hasTag, _ := vbrFrameCount(p[pos:min(pos+h.size, len(p))], h); hasTag {
		pos += h.size // a Xing/Info/VBRI frame plays nothing
	}
	part := mp3Clip{tags: p[:tagEnd], header: h}
	start := pos
	for pos+4 <= len(p) {
		f, ok := parseFrameHeader(p[pos:])
		if !ok || !f.sameStream(h) || pos+f.size > len(p) {
			break // an ID3v1 or APE tag, junk, or a truncated last frame
		}
		pos += f.size
		part.samples += int64(f.samples)
	}
	if part.samples == 0 {
		return mp3Clip{}, malformed(FormatMP3, "no complete audio frame")
	}
	part.audio = p[start:pos]
	return part, nil
}

// describe names a stream's format for errors: "MPEG-1 Layer III, 44100 Hz".
func (h frameHeader) describe() string {
	version := map[int]string{mpeg1: "1", mpeg2: "2", mpeg25: "2.5"}[h.version]
	layer := [...]string{"", "I", "II", "III"}[h.layer]
	return fmt.Sprintf("MPEG-%s Layer %s, %d Hz", version, layer, h.sampleRate)
}
