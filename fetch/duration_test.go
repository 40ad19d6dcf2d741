package fetch

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/internal/audiotest"
)

func TestDuration(t *testing.T) {
	t.Parallel()
	const frame = audiotest.MP3FrameDuration
	xingClaims := func(frames int) []byte {
		// A Xing frame claiming more frames than follow: the count, not
		// the walk, must decide.
		return append(audiotest.XingFrame(frames, 0), audiotest.MP3Frames(10)...)
	}
	id3v1 := append([]byte("TAG"), make([]byte, 125)...)
	tests := []struct {
		name      string
		data      []byte
		format    string
		want      time.Duration
		tolerance time.Duration
	}{
		{"mp3 cbr 1s", audiotest.MP3(time.Second), FormatMP3, time.Second, frame},
		{"mp3 cbr 10s", audiotest.MP3(10 * time.Second), FormatMP3, 10 * time.Second, frame},
		{"mp3 cbr 100ms", audiotest.MP3(100 * time.Millisecond), FormatMP3, 100 * time.Millisecond, frame},
		{"mp3 exact frames", audiotest.MP3Frames(100), FormatMP3, 100 * frame, time.Millisecond},
		{"mp3 with ID3v2", audiotest.MP3WithID3(3 * time.Second), FormatMP3, 3 * time.Second, frame},
		{"mp3 with ID3v2 footer",
			append(audiotest.ID3v2("footer", true), audiotest.MP3(2*time.Second)...),
			FormatMP3, 2 * time.Second, frame},
		{"mp3 with two ID3v2 tags",
			append(append(audiotest.ID3v2("one", false), audiotest.ID3v2("two", true)...), audiotest.MP3(time.Second)...),
			FormatMP3, time.Second, frame},
		{"mp3 with junk before the first frame",
			append(append(audiotest.ID3v2("t", false), make([]byte, 1000)...), audiotest.MP3(time.Second)...),
			FormatMP3, time.Second, frame},
		{"mp3 with ID3v1 trailer",
			append(audiotest.MP3(2*time.Second), id3v1...),
			FormatMP3, 2 * time.Second, frame},
		{"mp3 with trailing junk",
			append(audiotest.MP3(2*time.Second), []byte("APETAGEX and then some junk")...),
			FormatMP3, 2 * time.Second, frame},
		{"mp3 truncated mid-frame",
			audiotest.MP3Frames(50)[:50*417-100],
			FormatMP3, 49 * frame, time.Millisecond},
		{"mp3 with Xing", audiotest.MP3WithXing(5 * time.Second), FormatMP3, 5 * time.Second, frame},
		{"mp3 with Xing count", xingClaims(1000), FormatMP3, 1000 * frame, time.Millisecond},
		{"mp3 with Xing, no count", xingNoCount(10), FormatMP3, 10 * frame, time.Millisecond},
		{"mp3 with VBRI count", vbriClaims(2000), FormatMP3, 2000 * frame, time.Millisecond},
		{"mpeg-2 layer III", mpegFrames(t, [4]byte{0xFF, 0xF3, 0x80, 0xC4}, 100), FormatMP3,
			100 * 576 * time.Second / 22050, time.Millisecond},
		{"mpeg-2.5 layer III", mpegFrames(t, [4]byte{0xFF, 0xE3, 0x48, 0xC4}, 100), FormatMP3,
			100 * 576 * time.Second / 8000, time.Millisecond},
		{"mpeg-1 layer II", mpegFrames(t, [4]byte{0xFF, 0xFD, 0xA4, 0x04}, 100), FormatMP3,
			100 * 1152 * time.Second / 48000, time.Millisecond},
		{"mpeg-1 layer I", mpegFrames(t, [4]byte{0xFF, 0xFF, 0x80, 0x04}, 100), FormatMP3,
			100 * 384 * time.Second / 44100, time.Millisecond},

		{"wav 1s", audiotest.WAV(time.Second), FormatWAV, time.Second, 0},
		{"wav 2.5s", audiotest.WAV(2500 * time.Millisecond), FormatWAV, 2500 * time.Millisecond, 0},
		{"wav empty", audiotest.WAV(0), FormatWAV, 0, 0},
		{"wav streaming length", wavStreaming(time.Second), FormatWAV, time.Second, 0},
		{"wav with extra chunk", wavWithList(time.Second), FormatWAV, time.Second, 0},

		{"flac 1s", audiotest.FLAC(time.Second), FormatFLAC, time.Second, 0},
		{"flac 90s", audiotest.FLAC(90 * time.Second), FormatFLAC, 90 * time.Second, 0},
		{"flac unknown length", audiotest.FLAC(0), FormatFLAC, 0, 0},

		{"ogg opus 3.5s", audiotest.OggOpus(3500 * time.Millisecond), FormatOGG, 3500 * time.Millisecond, 0},
		{"ogg opus 70s", audiotest.OggOpus(70 * time.Second), FormatOGG, 70 * time.Second, 0},
		{"ogg opus empty", audiotest.OggOpus(0), FormatOGG, 0, 0},
		{"ogg unknown codec", []byte("OggS\x00\x02" + string(make([]byte, 21)) + "\x00"), FormatOGG, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Duration(writeTemp(t, tt.data), tt.format)
			if err != nil {
				t.Fatalf("Duration: %v", err)
			}
			if diff := got - tt.want; diff < -tt.tolerance || diff > tt.tolerance {
				t.Errorf("Duration = %v, want %v ± %v", got, tt.want, tt.tolerance)
			}
		})
	}
}

func TestDurationMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    []byte
		format  string
		wantErr string
	}{
		{"mp3 tag only", audiotest.ID3v2("t", false), FormatMP3, "malformed mp3: no MPEG audio frame found"},
		{"mp3 tag then html", append(audiotest.ID3v2("t", false), "<html></html>"...), FormatMP3,
			"malformed mp3: no MPEG audio frame found"},
		{"mp3 tag larger than file", []byte("ID3\x04\x00\x00\x7f\x7f\x7f\x7f"), FormatMP3,
			"malformed mp3: ID3v2 tag of 268435465 bytes runs past the end of the file"},
		{"mp3 empty", nil, FormatMP3, "malformed mp3: no MPEG audio frame found"},
		{"wav without data", audiotest.WAV(time.Second)[:36], FormatWAV, "malformed wav: no data chunk"},
		{"wav data before fmt", wavDataFirst(), FormatWAV, "malformed wav: data chunk before fmt chunk"},
		{"wav byte rate 0", wavByteRate0(), FormatWAV, "malformed wav: byte rate 0"},
		{"wav not RIFF", []byte("RIFX\x00\x00\x00\x00WAVE"), FormatWAV, "malformed wav: no RIFF/WAVE header"},
		{"wav truncated", []byte("RIFF"), FormatWAV, "malformed wav: truncated RIFF header"},
		{"flac truncated", audiotest.FLAC(time.Second)[:20], FormatFLAC, "malformed flac: truncated STREAMINFO"},
		{"flac without STREAMINFO", flacFirstBlock(4), FormatFLAC, "malformed flac: first metadata block is not STREAMINFO"},
		{"ogg without pages", []byte("OggX not really"), FormatOGG, "malformed ogg: no first page"},
		{"ogg opus without a granule", oggNoGranule(), FormatOGG,
			"malformed ogg: no final page with a granule position"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Duration(writeTemp(t, tt.data), tt.format)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Duration error = %v, want ErrMalformed", err)
			}
			if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDurationUnknownFormatAndMissingFile(t *testing.T) {
	t.Parallel()
	path := writeTemp(t, audiotest.MP3(time.Second))
	if _, err := Duration(path, "aac"); err == nil {
		t.Error("Duration with an unknown format: no error")
	}
	_, err := Duration(filepath.Join(t.TempDir(), "missing"), FormatMP3)
	if err == nil || errors.Is(err, ErrMalformed) {
		t.Errorf("Duration of a missing file = %v, want an I/O error", err)
	}
}

func writeTemp(t testing.TB, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audio")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// xingNoCount is a Xing frame whose flags leave out the frame count,
// followed by n frames: the walk must not count the Xing frame itself.
func xingNoCount(n int) []byte {
	x := audiotest.XingFrame(0, 0)
	binary.BigEndian.PutUint32(x[4+17+4:], 0x2) // bytes only
	return append(x, audiotest.MP3Frames(n)...)
}

// vbriClaims is a frame with a Fraunhofer VBRI header claiming frames
// frames, followed by a few real frames.
func vbriClaims(frames uint32) []byte {
	v := audiotest.MP3Frame(false)
	copy(v[36:], "VBRI")
	binary.BigEndian.PutUint16(v[40:], 1)
	binary.BigEndian.PutUint32(v[50:], frames)
	return append(v, audiotest.MP3Frames(5)...)
}

// wavStreaming is a WAV whose RIFF and data sizes are 0xFFFFFFFF, as
// writers that stream leave them.
func wavStreaming(d time.Duration) []byte {
	w := audiotest.WAV(d)
	binary.LittleEndian.PutUint32(w[4:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(w[40:], 0xFFFFFFFF)
	return w
}

// wavWithList puts an odd-sized LIST chunk (padded to even) between fmt and
// data.
func wavWithList(d time.Duration) []byte {
	w := audiotest.WAV(d)
	list := []byte("LIST\x05\x00\x00\x00INFO!\x00")
	out := append([]byte{}, w[:36]...)
	out = append(out, list...)
	return append(out, w[36:]...)
}

func wavDataFirst() []byte {
	w := audiotest.WAV(time.Second)
	out := append([]byte{}, w[:12]...)
	out = append(out, w[36:]...)
	return append(out, w[12:36]...)
}

func wavByteRate0() []byte {
	w := audiotest.WAV(time.Second)
	binary.LittleEndian.PutUint32(w[28:], 0)
	return w
}

// flacFirstBlock is a FLAC file whose first metadata block has the given
// type instead of STREAMINFO (0).
func flacFirstBlock(blockType byte) []byte {
	f := audiotest.FLAC(time.Second)
	f[4] = 0x80 | blockType
	return f
}

// oggNoGranule is an Ogg Opus header page alone, with its granule position
// set to -1 ("no packet ends here").
func oggNoGranule() []byte {
	page := append([]byte{}, audiotest.OggOpus(time.Second)[:47]...)
	binary.LittleEndian.PutUint64(page[6:], ^uint64(0))
	return page
}
