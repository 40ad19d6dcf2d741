package audiotest

import (
	"encoding/binary"
	"time"
)

// The MP3 stream the generators build.
const (
	MP3SampleRate   = 44100
	MP3FrameSamples = 1152 // MPEG-1 Layer III
	MP3Bitrate      = 128000
	// A frame holds 144 × bitrate / sample rate = 417.96 bytes: frames are
	// 417 bytes, or 418 with the padding byte that keeps the average exact.
	mp3FrameNum = 144 * MP3Bitrate
	// Side information of an MPEG-1 mono frame; a Xing tag follows it.
	mp3SideInfo = 17
)

// MP3FrameDuration is how long one frame plays (about 26.1 ms).
const MP3FrameDuration = time.Duration(MP3FrameSamples * int64(time.Second) / MP3SampleRate)

// MP3FrameCount is the number of frames MP3 uses for d: d rounded to the
// nearest whole frame.
func MP3FrameCount(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	perFrame := int64(MP3FrameSamples) * int64(time.Second)
	return int((int64(d)*MP3SampleRate + perFrame/2) / perFrame)
}

// MP3 returns about d of silence (MP3FrameCount(d) frames) as a bare MPEG
// audio stream: valid frame headers, zeroed side information and main data,
// which decoders play as silence.
func MP3(d time.Duration) []byte {
	return MP3Frames(MP3FrameCount(d))
}

// MP3WithID3 is MP3 behind an ID3v2.4 tag holding a title, as most encoders
// write.
func MP3WithID3(d time.Duration) []byte {
	return append(ID3v2("voicehook test", false), MP3(d)...)
}

// MP3WithXing is MP3 led by a Xing frame that states the number of audio
// frames and bytes, as VBR encoders write (the Xing frame plays nothing).
func MP3WithXing(d time.Duration) []byte {
	audio := MP3(d)
	n := MP3FrameCount(d)
	return append(XingFrame(n, len(audio)), audio...)
}

// MP3Frames returns n silent frames, padded so the stream averages exactly
// 128 kbit/s.
func MP3Frames(n int) []byte {
	var out []byte
	for i := range n {
		// Frame i is padded when the running total of ideal frame sizes
		// crosses a byte boundary one further than 417 bytes would.
		padded := (int64(i+1)*mp3FrameNum)/MP3SampleRate-(int64(i)*mp3FrameNum)/MP3SampleRate > 417
		out = append(out, MP3Frame(padded)...)
	}
	return out
}

// MP3Frame returns one silent frame: header FF FB 9x C0 (MPEG-1, Layer III,
// no CRC, 128 kbit/s, 44.1 kHz, mono) and zeroes.
func MP3Frame(padded bool) []byte {
	size := mp3FrameNum / MP3SampleRate
	b2 := byte(0x90) // bitrate index 9 (128 kbit/s), sample rate index 0
	if padded {
		size++
		b2 |= 0x02
	}
	frame := make([]byte, size)
	copy(frame, []byte{0xFF, 0xFB, b2, 0xC0})
	return frame
}

// XingFrame returns an unpadded silent frame carrying a Xing tag that says
// the stream after it has frames frames and bytes bytes.
func XingFrame(frames, bytes int) []byte {
	frame := MP3Frame(false)
	tag := frame[4+mp3SideInfo:]
	copy(tag, "Xing")
	binary.BigEndian.PutUint32(tag[4:], 0x1|0x2) // frames and bytes present
	binary.BigEndian.PutUint32(tag[8:], uint32(frames))
	binary.BigEndian.PutUint32(tag[12:], uint32(bytes))
	return frame
}

// ID3v2 returns an ID3v2.4 tag with one TIT2 (title) frame. Without a
// footer it carries 64 bytes of padding, as taggers leave; with one it
// cannot (the format forbids padding before a footer).
func ID3v2(title string, footer bool) []byte {
	text := append([]byte{3}, title...) // 3: UTF-8
	body := []byte("TIT2")
	body = append(body, synchsafe(len(text))...)
	body = append(body, 0, 0) // frame flags
	body = append(body, text...)
	flags := byte(0)
	if footer {
		flags = 0x10
	} else {
		body = append(body, make([]byte, 64)...)
	}
	header := append([]byte{'I', 'D', '3', 4, 0, flags}, synchsafe(len(body))...)
	tag := append(header, body...)
	if footer {
		tag = append(tag, '3', 'D', 'I', 4, 0, flags)
		tag = append(tag, synchsafe(len(body))...)
	}
	return tag
}

// synchsafe encodes n in four bytes of seven bits each, as ID3v2 sizes are.
func synchsafe(n int) []byte {
	return []byte{byte(n >> 21 & 0x7F), byte(n >> 14 & 0x7F), byte(n >> 7 & 0x7F), byte(n & 0x7F)}
}
