package fetch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrMalformed is wrapped by Duration's errors when a file has the signature
// of a format but not a readable structure (an MP3 without frames, a WAV
// without a data chunk), as opposed to failing to read the file.
var ErrMalformed = errors.New("malformed audio")

// formatError is a structural problem in a file of a given format. It is
// ErrMalformed without repeating those words in every message.
type formatError struct {
	format string
	msg    string
}

func (e *formatError) Error() string        { return "malformed " + e.format + ": " + e.msg }
func (e *formatError) Is(target error) bool { return target == ErrMalformed }

func malformed(format, msg string, args ...any) error {
	return &formatError{format: format, msg: fmt.Sprintf(msg, args...)}
}

// maxDuration bounds what Duration reports: a header claiming more is
// corrupt (and would overflow time.Duration arithmetic).
const maxDuration = 1000 * 24 * time.Hour

// Duration reads how long the audio in path plays, for a format as returned
// by Sniff. MP3 walks the frames (or trusts a Xing/Info/VBRI frame count),
// WAV divides the data chunk by the byte rate, FLAC reads STREAMINFO, Ogg
// (Opus or Vorbis) reads the last page's granule position. A zero duration
// with no error means the file does not say (a FLAC stream of unknown
// length, an Ogg codec other than Opus or Vorbis). Structural problems wrap
// ErrMalformed.
func Duration(path string, format string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read audio duration: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("read audio duration: %w", err)
	}
	switch format {
	case FormatMP3:
		return mp3Duration(f)
	case FormatWAV:
		return wavDuration(f, st.Size())
	case FormatFLAC:
		return flacDuration(f)
	case FormatOGG:
		return oggDuration(f, st.Size())
	}
	return 0, fmt.Errorf("read audio duration: unknown format %q", format)
}

// ratio converts n units at perSecond units a second into a duration,
// without overflowing for large n. ok is false for an implausible result.
func ratio(n, perSecond int64) (d time.Duration, ok bool) {
	if n < 0 || perSecond <= 0 {
		return 0, false
	}
	secs := n / perSecond
	if secs > int64(maxDuration/time.Second) {
		return 0, false
	}
	rem := n % perSecond
	return time.Duration(secs)*time.Second + time.Duration(rem*int64(time.Second)/perSecond), true
}

// readFullAt reads len(b) bytes at off, reporting io.ErrUnexpectedEOF (not
// io.EOF) when the file is shorter, so callers can tell "truncated" apart.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
