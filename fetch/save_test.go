package fetch

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/audiotest"
)

func TestSave(t *testing.T) {
	t.Parallel()
	mp3 := audiotest.MP3WithID3(2 * time.Second)
	wav := audiotest.WAV(1500 * time.Millisecond)
	flac := audiotest.FLAC(3 * time.Second)
	opus := audiotest.OggOpus(1200 * time.Millisecond)
	tests := []struct {
		name string
		r    func() io.Reader
		data []byte // what the file must hold
		want File
	}{
		{"mp3", func() io.Reader { return bytes.NewReader(mp3) }, mp3,
			File{ContentType: "audio/mpeg", Format: FormatMP3, DurationMS: mp3DurationMS(2 * time.Second)}},
		{"mp3 from base64", func() io.Reader {
			return base64.NewDecoder(base64.StdEncoding, strings.NewReader(base64.StdEncoding.EncodeToString(mp3)))
		}, mp3, File{ContentType: "audio/mpeg", Format: FormatMP3, DurationMS: mp3DurationMS(2 * time.Second)}},
		{"wav", func() io.Reader { return bytes.NewReader(wav) }, wav,
			File{ContentType: "audio/wav", Format: FormatWAV, DurationMS: 1500}},
		{"flac", func() io.Reader { return bytes.NewReader(flac) }, flac,
			File{ContentType: "audio/flac", Format: FormatFLAC, DurationMS: 3000}},
		{"ogg opus", func() io.Reader { return bytes.NewReader(opus) }, opus,
			File{ContentType: "audio/ogg", Format: FormatOGG, DurationMS: 1200}},
		{"exactly at the limit", func() io.Reader { return bytes.NewReader(wav) }, wav,
			File{ContentType: "audio/wav", Format: FormatWAV, DurationMS: 1500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			got, err := Save(tt.r(), dir, int64(len(tt.data)))
			if err != nil {
				t.Fatalf("Save: %v", err)
			}
			want := tt.want
			want.Bytes = int64(len(tt.data))
			want.SHA256 = sha256Hex(tt.data)
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(File{}, "Path")); diff != "" {
				t.Errorf("Save (-want +got):\n%s", diff)
			}
			onDisk, err := os.ReadFile(got.Path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onDisk, tt.data) {
				t.Error("file on disk differs from what was read")
			}
			if !strings.HasPrefix(got.Path, dir) {
				t.Errorf("Path %q not in %q", got.Path, dir)
			}
		})
	}
}

func TestSaveRefuses(t *testing.T) {
	t.Parallel()
	mp3 := audiotest.MP3(time.Second)
	tests := []struct {
		name       string
		r          io.Reader
		max        int64
		wantIs     error
		wantReason string
		wantErr    string
	}{
		{"over the limit", bytes.NewReader(mp3), int64(len(mp3)) - 1, ErrTooLarge,
			fmt.Sprintf("audio larger than %d bytes", len(mp3)-1), ""},
		{"html", strings.NewReader("<!DOCTYPE html>\n<html><body>403 Forbidden</body></html>"), 0, ErrNotAudio,
			"not audio", `not audio: starts with 3c21444f43545950452068746d6c3e0a ("<!DOCTYPE html>."): not mp3, wav, ogg or flac`},
		{"empty", strings.NewReader(""), 0, ErrNotAudio,
			"not audio", "not audio: empty: not mp3, wav, ogg or flac"},
		{"ID3 tag and no frames", bytes.NewReader(audiotest.ID3v2("x", false)), 0, ErrMalformed,
			"not audio", "not audio: malformed mp3: no MPEG audio frame found"},
		{"corrupt base64", base64.NewDecoder(base64.StdEncoding, strings.NewReader("SUQzBAAA!!!!")), 0, nil,
			"audio is not valid base64", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			_, err := Save(tt.r, dir, tt.max)
			assertPermanent(t, err, tt.wantReason)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			if tt.wantErr != "" {
				if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
					t.Errorf("message (-want +got):\n%s", diff)
				}
			}
			assertEmptyDir(t, dir)
		})
	}
}

// A reader that fails (a dropped connection) is a transient error, and the
// partial file goes.
func TestSaveReadErrorIsTransient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := io.MultiReader(bytes.NewReader(audiotest.MP3(time.Second)), errReader{io.ErrUnexpectedEOF})
	_, err := Save(r, dir, 0)
	if err == nil || voicehook.IsPermanent(err) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Save = %v, want a transient error wrapping io.ErrUnexpectedEOF", err)
	}
	assertEmptyDir(t, dir)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// mp3DurationMS is the duration audiotest.MP3 really produces for d: whole
// frames.
func mp3DurationMS(d time.Duration) int64 {
	return (time.Duration(audiotest.MP3FrameCount(d)) * audiotest.MP3FrameDuration).Milliseconds()
}

func assertPermanent(t testing.TB, err error, reason string) {
	t.Helper()
	var pe *voicehook.PermanentError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want a permanent error", err)
	}
	if diff := cmp.Diff(reason, pe.Reason); diff != "" {
		t.Errorf("reason (-want +got):\n%s", diff)
	}
}

func assertEmptyDir(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}
