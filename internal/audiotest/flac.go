package audiotest

import (
	"crypto/md5"
	"encoding/binary"
	"time"
)

// The FLAC stream FLAC builds.
const (
	FLACSampleRate = 8000
	flacBlockSize  = 4096
)

// FLAC returns d of silence (rounded down to whole samples) as a FLAC file:
// 16-bit mono 8 kHz, a STREAMINFO block with the total sample count and MD5,
// and one frame per 4096 samples, each a CONSTANT subframe of zero.
func FLAC(d time.Duration) []byte {
	total := max(int64(d)*FLACSampleRate/int64(time.Second), 0)
	out := []byte("fLaC")
	out = append(out, 0x80, 0, 0, 34) // last metadata block, STREAMINFO, 34 bytes
	out = append(out, streamInfo(total)...)
	for n, frame := int64(0), uint64(0); n < total; frame++ {
		block := min(total-n, flacBlockSize)
		out = append(out, flacFrame(frame, int(block))...)
		n += block
	}
	return out
}

func streamInfo(total int64) []byte {
	si := make([]byte, 34)
	binary.BigEndian.PutUint16(si[0:], flacBlockSize) // min block size
	binary.BigEndian.PutUint16(si[2:], flacBlockSize) // max block size
	// Bytes 4–9: min and max frame size, 0 for "unknown".
	// Sample rate (20 bits), channels-1 (3 bits: 0), bits-1 (5 bits: 15),
	// total samples (36 bits).
	packed := uint64(FLACSampleRate)<<44 | 0<<41 | 15<<36 | uint64(total)&(1<<36-1)
	binary.BigEndian.PutUint64(si[10:], packed)
	// The MD5 of the decoded samples (little-endian 16-bit zeroes).
	sum := md5.New()
	zeros := make([]byte, 4096)
	for left := total * 2; left > 0; left -= int64(len(zeros)) {
		sum.Write(zeros[:min(left, int64(len(zeros)))])
	}
	copy(si[18:], sum.Sum(nil))
	return si
}

// flacFrame is one fixed-blocksize frame of block zero samples.
func flacFrame(number uint64, block int) []byte {
	f := []byte{0xFF, 0xF8} // sync, fixed block size
	blockCode := byte(0xC)  // 4096 samples
	if block != flacBlockSize {
		blockCode = 0x7 // 16-bit (block-1) after the frame number
	}
	f = append(f, blockCode<<4|0x4) // sample rate code 4: 8 kHz
	f = append(f, 0x0<<4|0x4<<1)    // mono, 16 bits per sample
	f = append(f, utf8Number(number)...)
	if blockCode == 0x7 {
		f = binary.BigEndian.AppendUint16(f, uint16(block-1))
	}
	f = append(f, crc8(f))
	// Subframe: zero pad bit, type CONSTANT (000000), no wasted bits, then
	// the 16-bit value; it ends on a byte boundary.
	f = append(f, 0x00, 0x00, 0x00)
	return binary.BigEndian.AppendUint16(f, crc16(f))
}

// utf8Number codes a frame number the way FLAC does: UTF-8's scheme
// extended to 36 bits.
func utf8Number(n uint64) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	// At least one continuation byte of six bits; each further one takes a
	// bit from the lead byte.
	cont := []byte{0x80 | byte(n&0x3F)}
	n >>= 6
	lead, room := byte(0xC0), uint64(0x1F)
	for n > room {
		cont = append([]byte{0x80 | byte(n&0x3F)}, cont...)
		n >>= 6
		lead = lead>>1 | 0x80
		room >>= 1
	}
	return append([]byte{lead | byte(n)}, cont...)
}

func crc8(b []byte) byte {
	var c byte
	for _, x := range b {
		c ^= x
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
	}
	return c
}

func crc16(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c ^= uint16(x) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x8005
			} else {
				c <<= 1
			}
		}
	}
	return c
}
