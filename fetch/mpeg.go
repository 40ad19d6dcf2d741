package fetch

// MPEG audio frame headers (MPEG-1, MPEG-2 and the unofficial MPEG-2.5;
// Layers I, II and III), as described in ISO/IEC 11172-3 and 13818-3.
//
//	AAAAAAAA AAABBCCD EEEEFFGH IIJJKLMM
//	A sync (11 bits set)  B version  C layer  D no CRC
//	E bitrate index       F sample rate index  G padding  H private
//	I channel mode        J mode extension  K copyright  L original  M emphasis

const (
	mpeg1  = 1
	mpeg2  = 2
	mpeg25 = 25
)

// bitrates in kbit/s by [MPEG-1?][layer-1][index]; index 0 is "free format"
// (frame size unknowable from the header, refused here) and 15 is invalid.
var bitrates = [2][3][15]int{
	{ // MPEG-2 and MPEG-2.5
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	},
	{ // MPEG-1
		{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
	},
}

var sampleRates = map[int][3]int{
	mpeg1:  {44100, 48000, 32000},
	mpeg2:  {22050, 24000, 16000},
	mpeg25: {11025, 12000, 8000},
}

type frameHeader struct {
	version    int // mpeg1, mpeg2 or mpeg25
	layer      int // 1, 2 or 3
	bitrate    int // bit/s
	sampleRate int // Hz
	mono       bool
	crc        bool // a 16-bit CRC follows the header
	samples    int  // samples per channel in this frame
	size       int  // bytes, header included
}

// parseFrameHeader decodes the 4-byte header at the start of b. It refuses
// reserved values and free-format bitrates, so that every accepted frame has
// a known, non-zero size and a walk over frames always moves forward.
func parseFrameHeader(b []byte) (frameHeader, bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return frameHeader{}, false
	}
	var h frameHeader
	switch (b[1] >> 3) & 3 {
	case 0:
		h.version = mpeg25
	case 2:
		h.version = mpeg2
	case 3:
		h.version = mpeg1
	default:
		return frameHeader{}, false
	}
	layerBits := (b[1] >> 1) & 3
	if layerBits == 0 {
		return frameHeader{}, false
	}
	h.layer = 4 - int(layerBits)
	bitrateIndex := int(b[2] >> 4)
	rateIndex := int(b[2]>>2) & 3
	if bitrateIndex == 0 || bitrateIndex == 15 || rateIndex == 3 {
		return frameHeader{}, false
	}
	if b[3]&3 == 2 { // reserved emphasis
		return frameHeader{}, false
	}
	v1 := 0
	if h.version == mpeg1 {
		v1 = 1
	}
	h.bitrate = bitrates[v1][h.layer-1][bitrateIndex] * 1000
	h.sampleRate = sampleRates[h.version][rateIndex]
	h.mono = b[3]>>6 == 3
	h.crc = b[1]&1 == 0
	padding := int(b[2]>>1) & 1

	switch {
	case h.layer == 1:
		h.samples = 384
		h.size = (12*h.bitrate/h.sampleRate + padding) * 4
	case h.layer == 3 && h.version != mpeg1:
		h.samples = 576
		h.size = 72*h.bitrate/h.sampleRate + padding
	default: // Layer II, and Layer III of MPEG-1
		h.samples = 1152
		h.size = 144*h.bitrate/h.sampleRate + padding
	}
	return h, true
}

// sameStream reports whether o can follow h in one stream. Bitrate may vary
// (VBR) but version, layer and sample rate may not; requiring that keeps a
// frame walk from wandering into data that merely contains 0xFFE bits.
func (h frameHeader) sameStream(o frameHeader) bool {
	return h.version == o.version && h.layer == o.layer && h.sampleRate == o.sampleRate
}

// sideInfoLen is the size of the Layer III side information that follows
// the header (and its CRC); a Xing/Info tag starts right after it.
func (h frameHeader) sideInfoLen() int {
	switch {
	case h.version == mpeg1 && h.mono:
		return 17
	case h.version == mpeg1:
		return 32
	case h.mono:
		return 9
	default:
		return 17
	}
}
