package s3

import (
	"context"
	"io"

	"github.com/minio/minio-go/v7"

	"github.com/voicehook/voicehook"
)

var _ voicehook.AudioReader = (*Storage)(nil)

// OpenAudio reads back the object stored under key (voiceover QA sends it
// to speech to text when the bucket's URLs are not public HTTPS).
func (s *Storage) OpenAudio(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.classify("reading "+key, err)
	}
	// GetObject sends nothing until the first read or Stat: ask now, so a
	// missing object is an error here rather than mid-upload.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.classify("reading "+key, err)
	}
	return obj, nil
}
