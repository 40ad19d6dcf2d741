package fetch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

const (
	oggPageHeaderLen = 27
	// oggMaxPage is the largest possible page: header, 255 lacing values
	// and 255 segments of 255 bytes. The last page starts within this many
	// bytes of the end of the file.
	oggMaxPage = oggPageHeaderLen + 255 + 255*255
)

// oggDuration reads the codec from the first page and the granule position
// (the sample count at the end of the stream) from the last page of the same
// logical stream. It knows Opus (granule at 48 kHz, minus the pre-skip) and
// Vorbis (granule at the stream's sample rate); for another codec it returns
// 0 and no error.
func oggDuration(r io.ReaderAt, size int64) (time.Duration, error) {
	first := make([]byte, min(size, oggPageHeaderLen+255+64))
	if err := readFullAt(r, first, 0); err != nil {
		return 0, fmt.Errorf("read ogg: %w", err)
	}
	if len(first) < oggPageHeaderLen || string(first[:4]) != "OggS" {
		return 0, malformed(FormatOGG, "no first page")
	}
	serial := binary.LittleEndian.Uint32(first[14:18])
	segments := int(first[26])
	if len(first) < oggPageHeaderLen+segments {
		return 0, malformed(FormatOGG, "truncated first page")
	}
	packet := first[oggPageHeaderLen+segments:]

	var rate, preSkip int64
	switch {
	case len(packet) >= 12 && string(packet[:8]) == "OpusHead":
		rate, preSkip = 48000, int64(binary.LittleEndian.Uint16(packet[10:12]))
	case len(packet) >= 16 && string(packet[:7]) == "\x01vorbis":
		rate = int64(binary.LittleEndian.Uint32(packet[12:16]))
	default:
		return 0, nil // a codec whose granule this does not interpret
	}
	if rate == 0 {
		return 0, malformed(FormatOGG, "sample rate 0")
	}

	granule, err := lastGranule(r, size, serial)
	if err != nil {
		return 0, err
	}
	d, ok := ratio(max(granule-preSkip, 0), rate)
	if !ok {
		return 0, malformed(FormatOGG, "granule position %d at %d Hz", granule, rate)
	}
	return d, nil
}

// lastGranule scans the tail of the file backwards for the last page of the
// stream that ends a packet (granule position not -1).
func lastGranule(r io.ReaderAt, size int64, serial uint32) (int64, error) {
	tailLen := min(size, oggMaxPage)
	tail := make([]byte, tailLen)
	if err := readFullAt(r, tail, size-tailLen); err != nil {
		return 0, fmt.Errorf("read ogg: %w", err)
	}
	for i := len(tail); ; {
		i = bytes.LastIndex(tail[:i], []byte("OggS"))
		if i < 0 {
			return 0, malformed(FormatOGG, "no final page with a granule position")
		}
		page := tail[i:]
		if len(page) < oggPageHeaderLen || page[4] != 0 || binary.LittleEndian.Uint32(page[14:18]) != serial {
			continue
		}
		granule := int64(binary.LittleEndian.Uint64(page[6:14]))
		if granule < 0 { // -1: no packet ends on this page
			continue
		}
		return granule, nil
	}
}
