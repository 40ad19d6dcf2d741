package audiotest

import (
	"encoding/binary"
	"time"
)

// The WAV stream WAV builds.
const (
	WAVSampleRate = 8000
	wavBytesPer   = 2 // 16-bit mono
)

// WAV returns d of silence (rounded down to whole samples) as a canonical
// 44-byte-header PCM WAV file: 16-bit, mono, 8 kHz.
func WAV(d time.Duration) []byte {
	samples := max(int64(d)*WAVSampleRate/int64(time.Second), 0)
	dataLen := int(samples) * wavBytesPer
	b := make([]byte, 44+dataLen)
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], uint32(36+dataLen))
	copy(b[8:], "WAVE")
	copy(b[12:], "fmt ")
	le.PutUint32(b[16:], 16)                        // fmt chunk size
	le.PutUint16(b[20:], 1)                         // PCM
	le.PutUint16(b[22:], 1)                         // channels
	le.PutUint32(b[24:], WAVSampleRate)             // sample rate
	le.PutUint32(b[28:], WAVSampleRate*wavBytesPer) // byte rate
	le.PutUint16(b[32:], wavBytesPer)               // block align
	le.PutUint16(b[34:], 16)                        // bits per sample
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(dataLen))
	return b
}
