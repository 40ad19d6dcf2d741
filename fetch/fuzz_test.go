package fetch

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// FuzzSniffDuration feeds arbitrary bytes to Sniff, to Duration under every
// format and to Save: none may panic or loop, Duration may only fail with
// ErrMalformed (the file is readable), and Save only with permanent errors.
func FuzzSniffDuration(f *testing.F) {
	d := 50 * time.Millisecond
	for _, seed := range [][]byte{
		audiotest.MP3(d),
		audiotest.MP3WithID3(d),
		audiotest.MP3WithXing(d),
		append(audiotest.ID3v2("f", true), audiotest.MP3Frames(3)...),
		vbriClaims(7),
		audiotest.WAV(d),
		wavStreaming(d),
		audiotest.FLAC(d),
		audiotest.OggOpus(d),
		audiotest.MP3Frames(2)[:500],
		audiotest.FLAC(d)[:30],
		audiotest.OggOpus(d)[:60],
		[]byte("ID3\x04\x00\x10\x00\x00\x00\x01"),
		[]byte("<html>"),
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		format, contentType, ok := Sniff(data[:min(len(data), sniffLen)])
		if ok != (format != "" && contentType != "") {
			t.Fatalf("Sniff = %q, %q, %v", format, contentType, ok)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "input")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{FormatMP3, FormatWAV, FormatOGG, FormatFLAC} {
			got, err := Duration(path, format)
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Duration(%s) = %v, want nil or ErrMalformed", format, err)
			}
			if got < 0 || got > maxDuration {
				t.Fatalf("Duration(%s) = %v", format, got)
			}
		}
		file, err := Save(bytes.NewReader(data), dir, int64(len(data)))
		if err != nil && !voicehook.IsPermanent(err) {
			t.Fatalf("Save = %v, want nil or a permanent error", err)
		}
		if err == nil && (file.Bytes != int64(len(data)) || file.Format == "") {
			t.Fatalf("Save = %+v", file)
		}
	})
}
