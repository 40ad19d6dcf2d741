package disk

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/voicehook/voicehook"
)

var _ voicehook.AudioReader = (*Storage)(nil)

// OpenAudio reads back the audio stored under key (voiceover QA sends it to
// speech to text when its URL is not public HTTPS).
func (s *Storage) OpenAudio(_ context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, fmt.Errorf("disk: open media directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(key)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("disk: %s: %w", key, voicehook.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("disk: open %s: %w", key, err)
	}
	return f, nil
}
