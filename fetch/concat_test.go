package fetch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/internal/audiotest"
)

func TestConcatMP3(t *testing.T) {
	t.Parallel()
	id3v1 := append([]byte("TAG"), make([]byte, 125)...)
	frames := func(n int) []byte { return audiotest.MP3Frames(n) }
	xingNoCountFrame := audiotest.XingFrame(0, 0)
	binary.BigEndian.PutUint32(xingNoCountFrame[4+17+4:], 0x2) // bytes only
	// A frame with a Fraunhofer VBRI header claiming 777 frames.
	vbri := audiotest.MP3Frame(false)
	copy(vbri[36:], "VBRI")
	binary.BigEndian.PutUint32(vbri[50:], 777)
	tag := audiotest.ID3v2("first", false)
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

	tests := []struct {
		name   string
		parts  [][]byte
		frames []int  // audio frames in each part
		want   []byte // the exact output
	}{
		{"one part", [][]byte{frames(10)}, []int{10}, frames(10)},
		{"bare parts", [][]byte{frames(10), frames(25), frames(1)}, []int{10, 25, 1}, cat(frames(10), frames(25), frames(1))},
		{"first part's ID3v2 kept",
			[][]byte{cat(tag, frames(5)), frames(7)}, []int{5, 7}, cat(tag, frames(5), frames(7))},
		{"later parts' ID3v2 dropped",
			[][]byte{frames(5), cat(audiotest.ID3v2("second", true), frames(7)), cat(audiotest.ID3v2("a", false), audiotest.ID3v2("b", true), frames(3))},
			[]int{5, 7, 3}, cat(frames(5), frames(7), frames(3))},
		{"Xing frames dropped",
			[][]byte{cat(tag, audiotest.XingFrame(40, 0), frames(40)), cat(audiotest.XingFrame(9999, 0), frames(8))},
			[]int{40, 8}, cat(tag, frames(40), frames(8))},
		{"Xing without a count dropped", [][]byte{cat(xingNoCountFrame, frames(4)), frames(2)}, []int{4, 2}, cat(frames(4), frames(2))},
		{"VBRI frame dropped", [][]byte{frames(3), cat(vbri, frames(5))}, []int{3, 5}, cat(frames(3), frames(5))},
		{"ID3v1 and junk dropped",
			[][]byte{cat(frames(6), id3v1), cat(frames(2), []byte("APETAGEX junk")), cat(audiotest.ID3v2("t", false), make([]byte, 999), frames(3), id3v1)},
			[]int{6, 2, 3}, cat(frames(6), frames(2), frames(3))},
		{"truncated last frame dropped", [][]byte{frames(5)[:5*417-10], frames(2)}, []int{4, 2}, cat(frames(4), frames(2))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, durations, err := ConcatMP3(tc.parts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.want) {
				t.Errorf("output differs: %d bytes, want %d", len(out), len(tc.want))
			}
			var want []time.Duration
			var sum time.Duration
			total := 0
			for _, n := range tc.frames {
				d := time.Duration(int64(n) * audiotest.MP3FrameSamples * int64(time.Second) / audiotest.MP3SampleRate)
				if approx := time.Duration(n) * audiotest.MP3FrameDuration; d-approx > time.Microsecond {
					t.Errorf("%d frames: %v, about %v", n, d, approx)
				}
				want = append(want, d)
				sum += d
				total += n
			}
			if diff := cmp.Diff(want, durations); diff != "" {
				t.Errorf("durations (-want +got):\n%s", diff)
			}
			got, err := mp3Duration(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			// The whole plays as long as its parts, to rounding.
			whole := time.Duration(int64(total) * audiotest.MP3FrameSamples * int64(time.Second) / audiotest.MP3SampleRate)
			if got != whole || sum-whole > time.Duration(len(tc.frames)) || whole-sum > time.Duration(len(tc.frames)) {
				t.Errorf("output plays %v (whole %v), parts sum to %v", got, whole, sum)
			}
			if f, _, ok := Sniff(out); !ok || f != FormatMP3 {
				t.Errorf("output sniffs as %q", f)
			}
		})
	}
}

// TestConcatMP3Durations: durations of audiotest clips are their whole
// frames, and the concatenation plays their sum.
func TestConcatMP3Durations(t *testing.T) {
	t.Parallel()
	lengths := []time.Duration{1500 * time.Millisecond, 60 * time.Millisecond, 10 * time.Second, 333 * time.Millisecond}
	parts := [][]byte{
		audiotest.MP3WithID3(lengths[0]),
		audiotest.MP3(lengths[1]),
		audiotest.MP3WithXing(lengths[2]),
		append(audiotest.MP3WithID3(lengths[3]), append([]byte("TAG"), make([]byte, 125)...)...),
	}
	out, durations, err := ConcatMP3(parts)
	if err != nil {
		t.Fatal(err)
	}
	var sum time.Duration
	for i, d := range lengths {
		want := time.Duration(audiotest.MP3FrameCount(d)) * audiotest.MP3FrameDuration
		if diff := durations[i] - want; diff < 0 || diff > time.Microsecond {
			t.Errorf("part %d: %v, want %v", i+1, durations[i], want)
		}
		sum += durations[i]
	}
	got, err := mp3Duration(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if diff := got - sum; diff < 0 || diff > time.Microsecond {
		t.Errorf("output plays %v, parts sum to %v", got, sum)
	}
	if n := bytes.Count(out, []byte("ID3")); n != 1 || !bytes.HasPrefix(out, []byte("ID3")) {
		t.Errorf("output has %d ID3 tags", n)
	}
	if bytes.Contains(out, []byte("Xing")) || bytes.Contains(out, []byte("TAG")) {
		t.Error("output kept a Xing frame or an ID3v1 tag")
	}
}

func TestConcatMP3Refuses(t *testing.T) {
	t.Parallel()
	ok := audiotest.MP3Frames(3)
	tests := []struct {
		name      string
		parts     [][]byte
		want      string
		malformed bool
	}{
		{"no parts", nil, "no parts", false},
		{"empty part", [][]byte{ok, {}}, "part 2 of 2: malformed mp3: the part is empty", true},
		{"WAV", [][]byte{audiotest.WAV(time.Second), ok}, "part 1 of 2: malformed mp3: the part is wav audio, not MP3", true},
		{"text", [][]byte{ok, []byte(strings.Repeat("not audio at all ", 100))}, "part 2 of 2: malformed mp3: no MPEG audio frame found", true},
		{"only a Xing frame", [][]byte{audiotest.XingFrame(10, 0)}, "part 1 of 1: malformed mp3: no complete audio frame", true},
		{"other sample rate", [][]byte{ok, concatFrames(t, [4]byte{0xFF, 0xFB, 0x94, 0xC0}, 3)},
			"part 2 of 2 is MPEG-1 Layer III, 48000 Hz, part 1 is MPEG-1 Layer III, 44100 Hz", false},
		{"other version", [][]byte{concatFrames(t, [4]byte{0xFF, 0xF3, 0x80, 0xC4}, 3), ok},
			"part 2 of 2 is MPEG-1 Layer III, 44100 Hz, part 1 is MPEG-2 Layer III, 22050 Hz", false},
		{"other layer", [][]byte{ok, concatFrames(t, [4]byte{0xFF, 0xFD, 0x90, 0xC0}, 3)},
			"part 2 of 2 is MPEG-1 Layer II, 44100 Hz", false},
	}
	for _, tc := range tests {
		out, durations, err := ConcatMP3(tc.parts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrMalformed) != tc.malformed {
			t.Errorf("%s: err = %v, want %q (malformed %v)", tc.name, err, tc.want, tc.malformed)
		}
		if out != nil || durations != nil {
			t.Errorf("%s: output returned with an error", tc.name)
		}
	}
}

// concatFrames is n zeroed frames behind header.
func concatFrames(t *testing.T, header [4]byte, n int) []byte {
	t.Helper()
	h, ok := parseFrameHeader(header[:])
	if !ok {
		t.Fatalf("bad header % x", header)
	}
	var out []byte
	for range n {
		f := make([]byte, h.size)
		copy(f, header[:])
		out = append(out, f...)
	}
	return out
}
