package fetch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// wavDuration walks the RIFF chunks for "fmt " (byte rate) and "data" (its
// length). A data length larger than the file, or the 0xFFFFFFFF that
// streaming writers leave, is taken as "up to the end of the file".
func wavDuration(r io.ReaderAt, size int64) (time.Duration, error) {
	var hdr [12]byte
	if err := readFullAt(r, hdr[:], 0); err != nil {
		return 0, wavReadError(err, "RIFF header")
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return 0, malformed(FormatWAV, "no RIFF/WAVE header")
	}
	var byteRate uint32
	haveFmt := false
	// Every chunk moves off forward by at least 8 bytes, so this ends.
	for off := int64(12); off+8 <= size; {
		var ch [8]byte
		if err := readFullAt(r, ch[:], off); err != nil {
			return 0, wavReadError(err, "chunk header")
		}
		id, n := string(ch[:4]), int64(binary.LittleEndian.Uint32(ch[4:]))
		body := off + 8
		switch id {
		case "fmt ":
			if n < 16 {
				return 0, malformed(FormatWAV, "fmt chunk of %d bytes", n)
			}
			var fmtChunk [16]byte
			if err := readFullAt(r, fmtChunk[:], body); err != nil {
				return 0, wavReadError(err, "fmt chunk")
			}
			byteRate = binary.LittleEndian.Uint32(fmtChunk[8:12])
			haveFmt = true
		case "data":
			if !haveFmt {
				return 0, malformed(FormatWAV, "data chunk before fmt chunk")
			}
			if byteRate == 0 {
				return 0, malformed(FormatWAV, "byte rate 0")
			}
			n = min(n, size-body)
			d, ok := ratio(n, int64(byteRate))
			if !ok {
				return 0, malformed(FormatWAV, "%d bytes at %d bytes/s", n, byteRate)
			}
			return d, nil
		}
		off = body + n + n&1 // chunks are padded to an even length
	}
	return 0, malformed(FormatWAV, "no data chunk")
}

func wavReadError(err error, what string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed(FormatWAV, "truncated %s", what)
	}
	return fmt.Errorf("read wav %s: %w", what, err)
}
