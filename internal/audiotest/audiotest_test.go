package audiotest

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMP3FrameCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{-time.Second, 0},
		{MP3FrameDuration, 1},
		{MP3FrameDuration*3/2 + time.Microsecond, 2}, // rounds to the nearest frame
		{time.Second, 38},       // 38.28 frames
		{10 * time.Second, 383}, // 382.8 frames
	}
	for _, tt := range tests {
		if got := MP3FrameCount(tt.d); got != tt.want {
			t.Errorf("MP3FrameCount(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// Padding keeps the stream at exactly 128 kbit/s: n frames take
// floor(n × 417.96) bytes.
func TestMP3FramesAverageBitrate(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 10, 441, 1000} {
		got := len(MP3Frames(n))
		want := n * mp3FrameNum / MP3SampleRate
		if got != want {
			t.Errorf("len(MP3Frames(%d)) = %d, want %d", n, got, want)
		}
	}
}

func TestMP3Headers(t *testing.T) {
	t.Parallel()
	stream := MP3(time.Second)
	var headers [][]byte
	for off := 0; off < len(stream); {
		h := stream[off : off+4]
		headers = append(headers, h)
		size := 417
		if h[2]&0x02 != 0 {
			size++
		}
		off += size
	}
	if len(headers) != 38 {
		t.Fatalf("walked %d frames, want 38", len(headers))
	}
	for i, h := range headers {
		want := []byte{0xFF, 0xFB, 0x90 | h[2]&0x02, 0xC0}
		if diff := cmp.Diff(want, h); diff != "" {
			t.Errorf("frame %d header (-want +got):\n%s", i, diff)
		}
	}
}

func TestMP3WithXing(t *testing.T) {
	t.Parallel()
	stream := MP3WithXing(time.Second)
	x := stream[:417]
	tag := x[4+mp3SideInfo:]
	got := []any{string(tag[:4]), binary.BigEndian.Uint32(tag[4:]), binary.BigEndian.Uint32(tag[8:]), binary.BigEndian.Uint32(tag[12:])}
	want := []any{"Xing", uint32(3), uint32(38), uint32(len(MP3(time.Second)))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Xing tag (-want +got):\n%s", diff)
	}
	if !bytes.Equal(stream[417:], MP3(time.Second)) {
		t.Error("audio after the Xing frame differs from MP3")
	}
}

func TestID3v2(t *testing.T) {
	t.Parallel()
	for _, footer := range []bool{false, true} {
		tag := ID3v2("title", footer)
		size := int(tag[6])<<21 | int(tag[7])<<14 | int(tag[8])<<7 | int(tag[9])
		total := 10 + size
		if footer {
			total += 10
			if got := string(tag[len(tag)-10 : len(tag)-7]); got != "3DI" {
				t.Errorf("footer starts %q, want 3DI", got)
			}
		}
		if total != len(tag) {
			t.Errorf("footer=%v: header says %d bytes, tag has %d", footer, total, len(tag))
		}
	}
}

func TestWAVHeader(t *testing.T) {
	t.Parallel()
	w := WAV(1500 * time.Millisecond)
	le := binary.LittleEndian
	type header struct {
		RIFF, WAVE, Fmt, Data                    string
		RIFFSize, FmtSize, ByteRate, DataSize    uint32
		Format, Channels, BlockAlign, BitsSample uint16
		SampleRate                               uint32
		Len                                      int
	}
	got := header{
		string(w[0:4]), string(w[8:12]), string(w[12:16]), string(w[36:40]),
		le.Uint32(w[4:]), le.Uint32(w[16:]), le.Uint32(w[28:]), le.Uint32(w[40:]),
		le.Uint16(w[20:]), le.Uint16(w[22:]), le.Uint16(w[32:]), le.Uint16(w[34:]),
		le.Uint32(w[24:]), len(w),
	}
	want := header{"RIFF", "WAVE", "fmt ", "data", 36 + 24000, 16, 16000, 24000, 1, 1, 2, 16, 8000, 44 + 24000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WAV header (-want +got):\n%s", diff)
	}
}

func TestFLACFrames(t *testing.T) {
	t.Parallel()
	f := FLAC(time.Second) // 8000 samples: one frame of 4096, one of 3904
	const header = 4 + 4 + 34
	first := f[header:]
	want := []byte{0xFF, 0xF8, 0xC4, 0x08, 0x00}
	if diff := cmp.Diff(want, first[:5]); diff != "" {
		t.Errorf("first frame header (-want +got):\n%s", diff)
	}
	if got := first[5]; got != crc8(first[:5]) {
		t.Errorf("first frame CRC-8 = %#x, want %#x", got, crc8(first[:5]))
	}
	frameLen := 6 + 3 + 2
	if got, want := binary.BigEndian.Uint16(first[frameLen-2:]), crc16(first[:frameLen-2]); got != want {
		t.Errorf("first frame CRC-16 = %#x, want %#x", got, want)
	}
	// The last frame gives its size: 16-bit (block-1) after the number.
	last := first[frameLen:]
	if got := binary.BigEndian.Uint16(last[5:]); got != 3903 {
		t.Errorf("last frame block size-1 = %d, want 3903", got)
	}
	if len(f) != header+frameLen+frameLen+2 {
		t.Errorf("FLAC is %d bytes, want %d", len(f), header+2*frameLen+2)
	}
}

func TestUTF8Number(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    uint64
		want []byte
	}{
		{0, []byte{0x00}},
		{0x7F, []byte{0x7F}},
		{0x80, []byte{0xC2, 0x80}},
		{0x7FF, []byte{0xDF, 0xBF}},
		{0x800, []byte{0xE0, 0xA0, 0x80}},
		{0xFFFF, []byte{0xEF, 0xBF, 0xBF}},
		{0x10000, []byte{0xF0, 0x90, 0x80, 0x80}},
		{1 << 35, []byte{0xFE, 0xA0, 0x80, 0x80, 0x80, 0x80, 0x80}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, utf8Number(tt.n)); diff != "" {
			t.Errorf("utf8Number(%#x) (-want +got):\n%s", tt.n, diff)
		}
	}
}

// The CRCs match the catalogue's check values for "123456789".
func TestCRCs(t *testing.T) {
	t.Parallel()
	check := []byte("123456789")
	got := []uint32{uint32(crc8(check)), uint32(crc16(check)), oggCRC(check)}
	want := []uint32{
		0xF4,       // CRC-8 (poly 0x07)
		0xFEE8,     // CRC-16/UMTS (poly 0x8005, init 0)
		0x89A1897F, // CRC-32 poly 0x04C11DB7, init 0, no final xor (CRC-32/POSIX without its xor)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CRCs (-want +got):\n%s", diff)
	}
}

func TestOggOpusPages(t *testing.T) {
	t.Parallel()
	o := OggOpus(2500 * time.Millisecond) // 125 packets: pages of 50, 50, 25
	type page struct {
		Flags   byte
		Granule int64
		Seq     uint32
		Packets int
	}
	var got []page
	for off := 0; off < len(o); {
		p := o[off:]
		if string(p[:4]) != "OggS" {
			t.Fatalf("no page at %d", off)
		}
		n := int(p[26])
		size := 27 + n
		for _, l := range p[27 : 27+n] {
			size += int(l)
		}
		crc := binary.LittleEndian.Uint32(p[22:])
		check := append([]byte{}, p[:size]...)
		copy(check[22:], []byte{0, 0, 0, 0})
		if oggCRC(check) != crc {
			t.Errorf("page %d: bad CRC", len(got))
		}
		got = append(got, page{p[5], int64(binary.LittleEndian.Uint64(p[6:])), binary.LittleEndian.Uint32(p[18:]), n})
		off += size
	}
	want := []page{
		{0x02, 0, 0, 1},
		{0x00, 0, 1, 1},
		{0x00, OpusPreSkip + 50*960, 2, 50},
		{0x00, OpusPreSkip + 100*960, 3, 50},
		{0x04, OpusPreSkip + 120000, 4, 25},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	d := 700 * time.Millisecond
	for name, gen := range map[string]func(time.Duration) []byte{
		"MP3": MP3, "MP3WithID3": MP3WithID3, "MP3WithXing": MP3WithXing,
		"WAV": WAV, "FLAC": FLAC, "OggOpus": OggOpus,
	} {
		if !bytes.Equal(gen(d), gen(d)) {
			t.Errorf("%s is not deterministic", name)
		}
	}
}
