package fetch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

const (
	id3HeaderLen = 10
	// mp3SyncWindow is how far past the ID3v2 tags the first frame is looked
	// for: some encoders leave padding or junk there.
	mp3SyncWindow = 64 << 10
)

// mp3Duration walks an MPEG audio stream: it skips leading ID3v2 tags, finds
// the first frame, and either trusts a Xing/Info or VBRI frame count in it
// or counts the frames, stopping cleanly at the first thing that is not a
// frame of the same stream (an ID3v1 "TAG", an APE tag, trailing junk).
func mp3Duration(r io.Reader) (time.Duration, error) {
	br := bufio.NewReaderSize(r, mp3SyncWindow)
	if err := skipID3v2(br); err != nil {
		return 0, err
	}
	first, err := syncFirstFrame(br)
	if err != nil {
		return 0, err
	}

	frame, err := br.Peek(first.size)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read mp3: %w", err)
	}
	frames, hasTag, hasCount := vbrFrameCount(frame, first)
	if hasCount {
		d, ok := ratio(frames*int64(first.samples), int64(first.sampleRate))
		if !ok {
			return 0, malformed(FormatMP3, "VBR header claims %d frames", frames)
		}
		return d, nil
	}

	var samples int64
	if hasTag {
		// A Xing/Info frame without a count carries no audio: skip it.
		if n, err := br.Discard(first.size); n < first.size {
			if errors.Is(err, io.EOF) {
				return 0, nil
			}
			return 0, fmt.Errorf("read mp3: %w", err)
		}
	}
	for {
		b, err := br.Peek(4)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read mp3: %w", err)
		}
		h, ok := parseFrameHeader(b)
		if !ok || !h.sameStream(first) {
			break // ID3v1 "TAG", APE tag or junk: the audio ends here
		}
		if n, err := br.Discard(h.size); n < h.size {
			if errors.Is(err, io.EOF) {
				break // a truncated last frame does not play
			}
			return 0, fmt.Errorf("read mp3: %w", err)
		}
		samples += int64(h.samples)
	}
	d, _ := ratio(samples, int64(first.sampleRate))
	return d, nil
}

// skipID3v2 discards every ID3v2 tag at the start (some files carry more
// than one), footer included.
func skipID3v2(br *bufio.Reader) error {
	for {
		hdr, err := br.Peek(id3HeaderLen)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read mp3: %w", err)
		}
		if !isID3v2(hdr) {
			return nil
		}
		size := id3HeaderLen + (int(hdr[6])<<21 | int(hdr[7])<<14 | int(hdr[8])<<7 | int(hdr[9]))
		if hdr[5]&0x10 != 0 { // footer present: a copy of the header at the end
			size += id3HeaderLen
		}
		if n, err := br.Discard(size); n < size {
			if errors.Is(err, io.EOF) {
				return malformed(FormatMP3, "ID3v2 tag of %d bytes runs past the end of the file", size)
			}
			return fmt.Errorf("read mp3: %w", err)
		}
	}
}

// syncFirstFrame finds the first frame header within mp3SyncWindow bytes
// and discards what precedes it. A candidate must be followed by a header of
// the same stream (or by the end of the file or of the window), so a stray
// 0xFFE pattern in junk is not taken for audio.
func syncFirstFrame(br *bufio.Reader) (frameHeader, error) {
	window, err := br.Peek(mp3SyncWindow)
	atEOF := errors.Is(err, io.EOF)
	if err != nil && !atEOF {
		return frameHeader{}, fmt.Errorf("read mp3: %w", err)
	}
	for i := 0; i+4 <= len(window); i++ {
		if window[i] != 0xFF {
			continue
		}
		h, ok := parseFrameHeader(window[i:])
		if !ok {
			continue
		}
		next := i + h.size
		switch {
		case next+4 <= len(window):
			n, ok := parseFrameHeader(window[next:])
			if !ok || !h.sameStream(n) {
				continue
			}
		case atEOF && next > len(window):
			continue // a lone truncated frame is not audio
		}
		if _, err := br.Discard(i); err != nil {
			return frameHeader{}, fmt.Errorf("read mp3: %w", err)
		}
		return h, nil
	}
	return frameHeader{}, malformed(FormatMP3, "no MPEG audio frame found")
}

// vbrFrameCount looks for a Xing/Info (LAME, Xing) or VBRI (Fraunhofer)
// header in the first frame of a Layer III stream. hasTag says the frame is
// such a header (and so holds no audio); hasCount that it gives the number
// of audio frames, the tag frame itself not included.
func vbrFrameCount(frame []byte, h frameHeader) (frames int64, hasTag, hasCount bool) {
	if h.layer != 3 {
		return 0, false, false
	}
	offsets := []int{4 + h.sideInfoLen()}
	if h.crc {
		offsets = append(offsets, 6+h.sideInfoLen())
	}
	for _, off := range offsets {
		if len(frame) < off+8 {
			continue
		}
		if id := string(frame[off : off+4]); id != "Xing" && id != "Info" {
			continue
		}
		const framesFlag = 1
		flags := binary.BigEndian.Uint32(frame[off+4:])
		if flags&framesFlag == 0 || len(frame) < off+12 {
			return 0, true, false
		}
		n := int64(binary.BigEndian.Uint32(frame[off+8:]))
		return n, true, n > 0
	}
	// VBRI sits 32 bytes after the header whatever the mode:
	// "VBRI", version, delay, quality (2 bytes each), bytes, frames (4 each).
	const vbri = 4 + 32
	if len(frame) >= vbri+18 && string(frame[vbri:vbri+4]) == "VBRI" {
		n := int64(binary.BigEndian.Uint32(frame[vbri+14:]))
		return n, true, n > 0
	}
	return 0, false, false
}
