package fetch

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/voicehook/voicehook"
)

// DefaultMaxBytes is the size limit when none is given: about nine hours
// of 128 kbit/s MP3, more than any single voiceover, far less than a disk.
const DefaultMaxBytes int64 = 512 << 20

var (
	// ErrTooLarge is wrapped by the permanent error for audio over the
	// size limit.
	ErrTooLarge = errors.New("over the size limit")
	// ErrNotAudio is wrapped by the permanent error for content that is not
	// a format Sniff knows.
	ErrNotAudio = errors.New("not mp3, wav, ogg or flac")
)

// File is audio saved on local disk, checked and measured.
type File struct {
	Path   string
	Bytes  int64
	SHA256 string // lowercase hex
	// ContentType is sniffed from the bytes, never taken from a server.
	ContentType string
	Format      string // FormatMP3, FormatWAV, FormatOGG or FormatFLAC
	DurationMS  int64  // 0 when the format does not say
}

// Save streams r into a new file in dir (the system temporary directory if
// dir is empty), hashing as it goes, never holding it whole in memory. Past
// maxBytes (DefaultMaxBytes if maxBytes <= 0) it stops, deletes the file and
// returns a permanent error; so does content that is not audio. For inline
// base64 audio, pass base64.NewDecoder(base64.StdEncoding, src): corrupt
// base64 is a permanent error too. On any error no file is left behind.
func Save(r io.Reader, dir string, maxBytes int64) (File, error) {
	return save(r, dir, maxBytes, "", nil)
}

// Save is the package's Save within f.Temp's budget (if f or f.Temp is nil,
// there is none).
func (f *Fetcher) Save(r io.Reader, dir string, maxBytes int64) (File, error) {
	var temp *TempDir
	if f != nil {
		temp = f.Temp
	}
	return save(r, dir, maxBytes, "", temp)
}

// save is Save with a note on what the server claimed the content was
// (", server said Content-Type …"), for the not-audio message, and the temp
// folder whose budget bounds it (nil: none). Over the budget it fails with
// a transient error wrapping ErrTempFull, before or while writing.
func save(r io.Reader, dir string, maxBytes int64, serverSaid string, temp *TempDir) (_ File, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if err := temp.room(); err != nil {
		return File{}, fmt.Errorf("save audio: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "audio-*")
	if err != nil {
		return File{}, fmt.Errorf("create audio file: %w", err)
	}
	path := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close() // may already be closed; the file goes anyway
			os.Remove(path)
		}
	}()

	hash := sha256.New()
	head := &headBuffer{}
	// One byte past the limit tells "exactly maxBytes" from "more".
	var to io.Writer = io.MultiWriter(tmp, hash, head)
	if temp != nil {
		to = &budgetWriter{w: to, temp: temp}
	}
	n, err := io.Copy(to, io.LimitReader(r, maxBytes+1))
	if err != nil {
		var corrupt base64.CorruptInputError
		if errors.As(err, &corrupt) {
			return File{}, voicehook.Permanent("audio is not valid base64", err)
		}
		return File{}, fmt.Errorf("save audio: %w", err)
	}
	if n > maxBytes {
		return File{}, tooLarge(maxBytes, ErrTooLarge)
	}
	if err := tmp.Close(); err != nil {
		return File{}, fmt.Errorf("save audio: %w", err)
	}

	format, contentType, ok := Sniff(head.b)
	if !ok {
		return File{}, notAudio(head.b, serverSaid)
	}
	d, err := Duration(path, format)
	if errors.Is(err, ErrMalformed) {
		return File{}, voicehook.Permanent("not audio", err)
	}
	if err != nil {
		return File{}, err
	}
	return File{
		Path:        path,
		Bytes:       n,
		SHA256:      hex.EncodeToString(hash.Sum(nil)),
		ContentType: contentType,
		Format:      format,
		DurationMS:  d.Milliseconds(),
	}, nil
}

func tooLarge(maxBytes int64, err error) error {
	return voicehook.Permanent(fmt.Sprintf("audio larger than %d bytes", maxBytes), err)
}

// notAudio says what the content started with, short: an operator can tell
// an HTML error page or a JSON error from a damaged file at a glance.
func notAudio(head []byte, serverSaid string) error {
	if len(head) == 0 {
		return voicehook.Permanent("not audio", fmt.Errorf("empty%s: %w", serverSaid, ErrNotAudio))
	}
	show := head[:min(len(head), 16)]
	return voicehook.Permanent("not audio",
		fmt.Errorf("starts with %x (%q)%s: %w", show, printable(show), serverSaid, ErrNotAudio))
}

// printable shows bytes as ASCII with everything unprintable as '.'.
func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// headBuffer keeps the first sniffLen bytes written to it.
type headBuffer struct{ b []byte }

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := sniffLen - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
