package fetch

import "bytes"

// Formats Sniff recognises, and the content types voicehook stores them with.
const (
	FormatMP3  = "mp3"
	FormatWAV  = "wav"
	FormatOGG  = "ogg"
	FormatFLAC = "flac"
)

// sniffLen is how much of the start of a file Sniff is given: enough for two
// MPEG frame headers of the largest frame size (Layer II, 384 kbps, 32 kHz:
// 1728 bytes), so a lone 0xFFE bit pattern in other data is not taken for MP3.
const sniffLen = 4096

// Sniff recognises audio by its first bytes (the content type a server
// reports is not trusted). head should hold the first 4 KiB of the file, or
// all of it if shorter. It knows MP3 (an ID3v2 tag or an MPEG audio frame
// header), WAV (RIFF/WAVE), Ogg and FLAC.
func Sniff(head []byte) (format, contentType string, ok bool) {
	switch {
	case isID3v2(head):
		return FormatMP3, "audio/mpeg", true
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return FormatWAV, "audio/wav", true
	// Byte 4 is the Ogg stream structure version, always 0.
	case len(head) >= 5 && string(head[:4]) == "OggS" && head[4] == 0:
		return FormatOGG, "audio/ogg", true
	case bytes.HasPrefix(head, []byte("fLaC")):
		return FormatFLAC, "audio/flac", true
	case sniffMPEGFrames(head):
		return FormatMP3, "audio/mpeg", true
	}
	return "", "", false
}

// isID3v2 reports whether head starts with a plausible ID3v2 tag header:
// "ID3", a major version 2–4, a revision that is not 0xFF and a synchsafe
// size (every byte below 0x80).
func isID3v2(head []byte) bool {
	if len(head) < id3HeaderLen || string(head[:3]) != "ID3" {
		return false
	}
	if head[3] < 2 || head[3] > 4 || head[4] == 0xFF {
		return false
	}
	return head[6]|head[7]|head[8]|head[9] < 0x80
}

// sniffMPEGFrames accepts head if it starts with a valid MPEG audio frame
// header and, when head is long enough to hold it, the next frame starts
// with a matching header too.
func sniffMPEGFrames(head []byte) bool {
	first, ok := parseFrameHeader(head)
	if !ok {
		return false
	}
	if len(head) < first.size+4 {
		return true
	}
	next, ok := parseFrameHeader(head[first.size:])
	return ok && first.sameStream(next)
}
