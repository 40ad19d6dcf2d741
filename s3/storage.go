package s3

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/voicehook/voicehook"
)

// URL is the public address of key: PublicURL/<key>, each segment escaped.
func (s *Storage) URL(key string) string {
	return s.publicURL + "/" + escapeKey(key)
}

// Put uploads obj under obj.Key and checks what the store now holds. The
// key is derived from the audio's hash, so putting it again writes the same
// object.
func (s *Storage) Put(ctx context.Context, obj voicehook.AudioObject) (voicehook.StoredAudio, error) {
	if err := checkKey(obj.Key); err != nil {
		return voicehook.StoredAudio{}, err
	}
	f, err := os.Open(obj.Path)
	if err != nil {
		return voicehook.StoredAudio{}, fmt.Errorf("s3: open source file: %w", err)
	}
	defer f.Close()
	sums, err := hashSource(f, obj)
	if err != nil {
		return voicehook.StoredAudio{}, err
	}
	ct := obj.ContentType
	if ct == "" {
		ct = voicehook.ContentTypeOf(obj.Key)
	}

	// The client streams the open file (multi-part above 16 MiB, reading
	// parts with ReadAt) and, with SendContentMd5, has the store verify
	// each request body and refuse a damaged one.
	_, err = s.client.PutObject(ctx, s.bucket, obj.Key, f, sums.size, minio.PutObjectOptions{
		ContentType:    ct,
		SendContentMd5: true,
	})
	if err != nil {
		return voicehook.StoredAudio{}, s.classify("upload "+obj.Key, err)
	}

	info, err := s.client.StatObject(ctx, s.bucket, obj.Key, minio.StatObjectOptions{})
	if err != nil {
		return voicehook.StoredAudio{}, s.classify("check uploaded "+obj.Key, err)
	}
	if info.Size != sums.size {
		return voicehook.StoredAudio{}, fmt.Errorf("s3: %s holds %d bytes after upload, sent %d", obj.Key, info.Size, sums.size)
	}
	if etagIsMD5(info) && !strings.EqualFold(info.ETag, sums.md5) {
		return voicehook.StoredAudio{}, fmt.Errorf("s3: %s has ETag %s after upload, sent md5 %s", obj.Key, info.ETag, sums.md5)
	}
	return voicehook.StoredAudio{
		URL:         s.URL(obj.Key),
		Key:         obj.Key,
		SHA256:      sums.sha256,
		Bytes:       sums.size,
		DurationMS:  obj.DurationMS,
		ContentType: ct,
	}, nil
}

type sourceSums struct {
	size        int64
	md5, sha256 string
}

// hashSource reads f once for its size, md5 (to compare with the ETag) and
// sha256 (to compare with what the caller verified), then rewinds it. A
// mismatch with obj means the file changed under us: transient.
func hashSource(f *os.File, obj voicehook.AudioObject) (sourceSums, error) {
	m, h := md5.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(m, h), f)
	if err != nil {
		return sourceSums{}, fmt.Errorf("s3: read source file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return sourceSums{}, fmt.Errorf("s3: rewind source file: %w", err)
	}
	sums := sourceSums{size: n, md5: hex.EncodeToString(m.Sum(nil)), sha256: hex.EncodeToString(h.Sum(nil))}
	if n != obj.Bytes {
		return sourceSums{}, fmt.Errorf("s3: source file %s has %d bytes, expected %d", obj.Path, n, obj.Bytes)
	}
	if obj.SHA256 != "" && !strings.EqualFold(sums.sha256, obj.SHA256) {
		return sourceSums{}, fmt.Errorf("s3: source file %s has sha256 %s, expected %s", obj.Path, sums.sha256, obj.SHA256)
	}
	return sums, nil
}

// etagIsMD5 reports whether the store's ETag is the object's MD5, which holds
// for single-part uploads stored in plain or SSE-S3 form. Multi-part ETags
// carry a "-<parts>" suffix; SSE-KMS and SSE-C ETags are opaque.
func etagIsMD5(info minio.ObjectInfo) bool {
	if len(info.ETag) != 32 || strings.Contains(info.ETag, "-") {
		return false
	}
	if _, err := hex.DecodeString(info.ETag); err != nil {
		return false
	}
	sse := strings.ToLower(info.Metadata.Get("X-Amz-Server-Side-Encryption"))
	if strings.HasPrefix(sse, "aws:kms") {
		return false
	}
	return info.Metadata.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") == ""
}
