package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"
)

// probePrefix is where Check writes its probe objects.
const probePrefix = "voicehook-check/"

// Check proves, before going live, that the bucket exists, that the
// credentials can write and read back an object, and that objects are
// readable at PublicURL (the links voicehook stores). It writes a small
// probe object and removes it.
func (s *Storage) Check(ctx context.Context) error {
	where := fmt.Sprintf("bucket %q at %s", s.bucket, s.endpoint)
	exists, err := s.client.BucketExists(ctx, s.bucket)
	switch {
	case err != nil && !isAccessDenied(err):
		return fmt.Errorf("%w (checking that %s exists)", s.classify("check bucket", err), where)
	case err == nil && !exists:
		return fmt.Errorf("s3: %s does not exist: create it, or fix the S3 bucket name, endpoint or region", where)
	}
	// Access denied on HEAD bucket only means the credentials lack
	// s3:ListBucket, which voicehook does not need; the probe decides.

	key := probePrefix + rand.Text() + ".txt"
	body := []byte("voicehook storage check; safe to delete\n")
	_, err = s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{
		ContentType:    "text/plain",
		SendContentMd5: true,
	})
	if err != nil {
		return fmt.Errorf("%w (writing probe object %s)", s.classify("write to "+where, err), key)
	}
	// From here on the probe exists; remove it whatever else fails.
	checkErr := s.checkProbe(ctx, key, int64(len(body)))
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !isAccessDenied(err) {
		// voicehook never deletes, so a policy without s3:DeleteObject is
		// fine; any other failure is worth knowing about.
		return errors.Join(checkErr, fmt.Errorf("%w (removing probe object %s; delete it by hand)", s.classify("clean up", err), key))
	}
	return checkErr
}

func (s *Storage) checkProbe(ctx context.Context, key string, size int64) error {
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return fmt.Errorf("%w (reading back probe object %s; voicehook needs s3:GetObject to verify uploads)", s.classify("read back", err), key)
	}
	if info.Size != size {
		return fmt.Errorf("s3: probe object %s reads back as %d bytes, wrote %d", key, info.Size, size)
	}
	u := s.URL(key)
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return fmt.Errorf("s3: public URL: %w", err)
	}
	resp, err := s.web.Do(req)
	if err != nil {
		return fmt.Errorf("s3: stored objects are not reachable at the public URL: HEAD %s: %w: fix the S3 public URL", u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("s3: stored objects are not publicly readable: HEAD %s answered %s: "+
			"allow public reads on the bucket (or on its keys), or set the S3 public URL to a CDN or custom domain that serves it", u, resp.Status)
	}
	return nil
}

func isAccessDenied(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == "AccessDenied" || er.StatusCode == http.StatusForbidden)
}
