package fetch

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/internal/audiotest"
)

func TestSniff(t *testing.T) {
	t.Parallel()
	type result struct {
		Format, ContentType string
		OK                  bool
	}
	mp3 := result{FormatMP3, "audio/mpeg", true}
	none := result{}
	second := time.Second
	tests := []struct {
		name string
		head []byte
		want result
	}{
		{"mp3 frames", audiotest.MP3(second), mp3},
		{"mp3 one frame", audiotest.MP3Frame(false), mp3},
		{"mp3 header only", audiotest.MP3Frame(false)[:4], mp3},
		{"mp3 with ID3v2", audiotest.MP3WithID3(second), mp3},
		{"ID3v2 tag alone", audiotest.ID3v2("title", true), mp3},
		{"mp3 with Xing", audiotest.MP3WithXing(second), mp3},
		{"mpeg-2 layer III", mpegFrames(t, [4]byte{0xFF, 0xF3, 0x84, 0xC4}, 3), mp3},
		{"mpeg-2.5 layer III", mpegFrames(t, [4]byte{0xFF, 0xE3, 0x88, 0xC4}, 3), mp3},
		{"mpeg-1 layer II", mpegFrames(t, [4]byte{0xFF, 0xFD, 0xA0, 0x04}, 3), mp3},
		{"mpeg-1 layer I", mpegFrames(t, [4]byte{0xFF, 0xFF, 0x90, 0x04}, 3), mp3},
		{"wav", audiotest.WAV(second), result{FormatWAV, "audio/wav", true}},
		{"ogg opus", audiotest.OggOpus(second), result{FormatOGG, "audio/ogg", true}},
		{"flac", audiotest.FLAC(second), result{FormatFLAC, "audio/flac", true}},

		{"empty", nil, none},
		{"html", []byte("<!DOCTYPE html><html><body>Not found</body></html>"), none},
		{"json", []byte(`{"detail":{"status":"invalid_api_key"}}`), none},
		{"RIFF but AVI", []byte("RIFF\x00\x00\x00\x00AVI LIST"), none},
		{"ID3 with bad version", []byte("ID3\x09\x00\x00\x00\x00\x00\x00"), none},
		{"ID3 with non-synchsafe size", []byte("ID3\x04\x00\x00\x00\x00\x80\x00"), none},
		{"ID3 too short", []byte("ID3\x04"), none},
		{"OggS with bad version", []byte("OggS\x01"), none},
		{"sync with reserved version", []byte{0xFF, 0xEB, 0x90, 0xC0}, none},
		{"sync with reserved layer", []byte{0xFF, 0xF9, 0x90, 0xC0}, none},
		{"sync with free bitrate", []byte{0xFF, 0xFB, 0x00, 0xC0}, none},
		{"sync with bad bitrate", []byte{0xFF, 0xFB, 0xF0, 0xC0}, none},
		{"sync with reserved sample rate", []byte{0xFF, 0xFB, 0x9C, 0xC0}, none},
		{"sync with reserved emphasis", []byte{0xFF, 0xFB, 0x90, 0xC2}, none},
		// A valid header followed, where the next frame should start, by
		// something else: a stray sync pattern, not MP3.
		{"sync not followed by a frame", append(audiotest.MP3Frame(false), "<html>"...), none},
		{"all 0xFF", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			head := tt.head[:min(len(tt.head), sniffLen)]
			var got result
			got.Format, got.ContentType, got.OK = Sniff(head)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Sniff (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFrameHeader(t *testing.T) {
	t.Parallel()
	type frame struct {
		Version, Layer, Bitrate, SampleRate, Samples, Size int
	}
	tests := []struct {
		name   string
		header [4]byte
		want   frame
	}{
		{"mpeg-1 layer III 128k 44.1k", [4]byte{0xFF, 0xFB, 0x90, 0xC0}, frame{mpeg1, 3, 128000, 44100, 1152, 417}},
		{"mpeg-1 layer III 128k 44.1k padded", [4]byte{0xFF, 0xFB, 0x92, 0xC0}, frame{mpeg1, 3, 128000, 44100, 1152, 418}},
		{"mpeg-1 layer III 320k 48k crc", [4]byte{0xFF, 0xFA, 0xE4, 0x00}, frame{mpeg1, 3, 320000, 48000, 1152, 960}},
		{"mpeg-1 layer II 192k 48k", [4]byte{0xFF, 0xFD, 0xA4, 0x04}, frame{mpeg1, 2, 192000, 48000, 1152, 576}},
		{"mpeg-1 layer I 256k 44.1k", [4]byte{0xFF, 0xFF, 0x80, 0x04}, frame{mpeg1, 1, 256000, 44100, 384, 276}},
		{"mpeg-2 layer III 64k 22.05k", [4]byte{0xFF, 0xF3, 0x80, 0xC4}, frame{mpeg2, 3, 64000, 22050, 576, 208}},
		{"mpeg-2 layer II 64k 24k", [4]byte{0xFF, 0xF5, 0x84, 0xC4}, frame{mpeg2, 2, 64000, 24000, 1152, 384}},
		{"mpeg-2.5 layer III 32k 8k", [4]byte{0xFF, 0xE3, 0x48, 0xC4}, frame{mpeg25, 3, 32000, 8000, 576, 288}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, ok := parseFrameHeader(tt.header[:])
			if !ok {
				t.Fatalf("parseFrameHeader(% x) refused a valid header", tt.header)
			}
			got := frame{h.version, h.layer, h.bitrate, h.sampleRate, h.samples, h.size}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseFrameHeader(% x) (-want +got):\n%s", tt.header, diff)
			}
		})
	}
}

// mpegFrames builds n zeroed frames behind the given header, which must be
// valid, for streams audiotest does not generate.
func mpegFrames(t testing.TB, header [4]byte, n int) []byte {
	t.Helper()
	h, ok := parseFrameHeader(header[:])
	if !ok {
		t.Fatalf("test header % x is not valid", header)
	}
	var out []byte
	for range n {
		frame := make([]byte, h.size)
		copy(frame, header[:])
		out = append(out, frame...)
	}
	return out
}
