package audiotest

import (
	"encoding/binary"
	"time"
)

// The Ogg Opus stream Ogg builds.
const (
	// OpusPreSkip is the pre-skip OggOpus writes in its OpusHead, the
	// usual encoder delay of 6.5 ms at 48 kHz.
	OpusPreSkip    = 312
	opusRate       = 48000
	opusFrame      = 960 // 20 ms
	packetsPerPage = 50  // one second per page
	oggSerial      = 0x766F6963
)

// opusSilence is a 20 ms CELT-only full-band mono frame (TOC 0xF8) that
// decodes to silence.
var opusSilence = []byte{0xF8, 0xFF, 0xFE}

// OggOpus returns d of silence (rounded down to whole 48 kHz samples) as an
// Ogg Opus file: OpusHead and OpusTags pages, then 20 ms packets, the last
// page's granule position trimming the end to exactly d.
func OggOpus(d time.Duration) []byte {
	samples := max(int64(d)*opusRate/int64(time.Second), 0)
	packets := int((samples + opusFrame - 1) / opusFrame)

	head := []byte("OpusHead")
	head = append(head, 1, 1) // version, channels
	head = binary.LittleEndian.AppendUint16(head, OpusPreSkip)
	head = binary.LittleEndian.AppendUint32(head, opusRate) // input sample rate, informative
	head = append(head, 0, 0, 0)                            // output gain, channel mapping family 0

	vendor := "voicehook audiotest"
	tags := []byte("OpusTags")
	tags = binary.LittleEndian.AppendUint32(tags, uint32(len(vendor)))
	tags = append(tags, vendor...)
	tags = binary.LittleEndian.AppendUint32(tags, 0) // no user comments

	var out []byte
	seq := uint32(0)
	page := func(flags byte, granule int64, packets ...[]byte) {
		out = append(out, oggPage(flags, granule, seq, packets)...)
		seq++
	}
	page(0x02, 0, head) // beginning of stream
	if packets == 0 {
		page(0x04, 0, tags) // end of stream
		return out
	}
	page(0x00, 0, tags)
	for first := 0; first < packets; first += packetsPerPage {
		n := min(packets-first, packetsPerPage)
		batch := make([][]byte, n)
		for i := range batch {
			batch[i] = opusSilence
		}
		granule := OpusPreSkip + int64(first+n)*opusFrame
		flags := byte(0)
		if first+n == packets {
			flags = 0x04
			granule = OpusPreSkip + samples // end trimming
		}
		page(flags, granule, batch...)
	}
	return out
}

// oggPage builds one page holding whole packets (each under 255 bytes).
func oggPage(flags byte, granule int64, seq uint32, packets [][]byte) []byte {
	p := []byte("OggS")
	p = append(p, 0, flags)
	p = binary.LittleEndian.AppendUint64(p, uint64(granule))
	p = binary.LittleEndian.AppendUint32(p, oggSerial)
	p = binary.LittleEndian.AppendUint32(p, seq)
	p = append(p, 0, 0, 0, 0) // CRC, filled in below
	p = append(p, byte(len(packets)))
	for _, pk := range packets {
		p = append(p, byte(len(pk)))
	}
	for _, pk := range packets {
		p = append(p, pk...)
	}
	binary.LittleEndian.PutUint32(p[22:], oggCRC(p))
	return p
}

// oggCRC is the CRC-32 of the Ogg format: polynomial 0x04C11DB7, not
// reflected, initial value 0 (unlike hash/crc32's IEEE).
func oggCRC(b []byte) uint32 {
	var c uint32
	for _, x := range b {
		c ^= uint32(x) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
	}
	return c
}
