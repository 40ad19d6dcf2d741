package fetch

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// flacDuration reads the STREAMINFO block, which the FLAC format requires to
// be the first metadata block: 20 bits of sample rate and 36 bits of total
// samples (0 when the encoder did not know, e.g. a live stream).
func flacDuration(r io.ReaderAt) (time.Duration, error) {
	// "fLaC", a 4-byte block header, then 34 bytes of STREAMINFO.
	var b [4 + 4 + 34]byte
	if err := readFullAt(r, b[:], 0); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, malformed(FormatFLAC, "truncated STREAMINFO")
		}
		return 0, fmt.Errorf("read flac: %w", err)
	}
	if string(b[:4]) != "fLaC" {
		return 0, malformed(FormatFLAC, "no fLaC signature")
	}
	blockType := b[4] & 0x7F
	blockLen := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
	if blockType != 0 || blockLen < 34 {
		return 0, malformed(FormatFLAC, "first metadata block is not STREAMINFO")
	}
	si := b[8:]
	// Bytes 10–17: sample rate (20 bits), channels-1 (3), bits-1 (5),
	// total samples (36).
	sampleRate := int64(si[10])<<12 | int64(si[11])<<4 | int64(si[12])>>4
	total := int64(si[13]&0x0F)<<32 | int64(si[14])<<24 | int64(si[15])<<16 | int64(si[16])<<8 | int64(si[17])
	if sampleRate == 0 {
		return 0, malformed(FormatFLAC, "sample rate 0")
	}
	d, ok := ratio(total, sampleRate)
	if !ok {
		return 0, malformed(FormatFLAC, "%d samples at %d Hz", total, sampleRate)
	}
	return d, nil
}
