package voicehooktest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// AudioObject writes about d of MP3 silence (audiotest.MP3: whole frames)
// to a new file in dir (t.TempDir() if dir is empty) and describes it as
// processing hands audio to a Storage: the key voicehook derives from the
// segment and the hash, and the file's real SHA-256, size and duration.
// Different durations give different audio, hence different keys.
func AudioObject(t testing.TB, dir, segmentID string, d time.Duration) voicehook.AudioObject {
	t.Helper()
	data := audiotest.MP3(d)
	obj := AudioFile(t, dir, "", data)
	obj.Key = voicehook.AudioKey(segmentID, obj.SHA256, "mp3")
	obj.ContentType = "audio/mpeg"
	obj.DurationMS = MP3DurationMS(d)
	return obj
}

// AudioFile writes data to a new file in dir (t.TempDir() if dir is empty)
// and describes it under key, for tests that need exact bytes or an odd
// key. The content type follows the key's extension; the duration is left
// 0, since data need not be audio.
func AudioFile(t testing.TB, dir, key string, data []byte) voicehook.AudioObject {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	f, err := os.CreateTemp(dir, "audio-*.bin")
	if err != nil {
		t.Fatalf("creating an audio file: %v", err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		t.Fatalf("writing audio file %s: %v", f.Name(), err)
	}
	sum := sha256.Sum256(data)
	obj := voicehook.AudioObject{
		Key:    key,
		Path:   f.Name(),
		SHA256: hex.EncodeToString(sum[:]),
		Bytes:  int64(len(data)),
	}
	if key != "" {
		obj.ContentType = voicehook.ContentTypeOf(key)
	}
	return obj
}

// MP3DurationMS is how long audiotest.MP3(d) plays, in milliseconds: d
// rounded to whole frames.
func MP3DurationMS(d time.Duration) int64 {
	return (time.Duration(audiotest.MP3FrameCount(d)) * audiotest.MP3FrameDuration).Milliseconds()
}
