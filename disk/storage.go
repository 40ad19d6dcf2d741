// Package disk stores audio on the local file system under the data dir's
// media/ directory and serves it back over HTTP, either publicly or only
// through short-lived signed links (which is how the NCA Toolkit backend lets
// NCA pull a file it is asked to copy).
package disk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/voicehook/voicehook"
)

// minSigningKey is the shortest signing key New accepts: a short key would let
// anyone guess signatures and read media that is meant to be private.
const minSigningKey = 16

// Storage keeps audio under a root directory. It is safe for concurrent use.
type Storage struct {
	root       string
	publicURL  string
	signingKey []byte
	clock      voicehook.Clock
}

// Option configures a Storage.
type Option func(*Storage)

// WithClock sets the clock used to stamp and check link expiry (tests use a
// fake one). The default is the system clock.
func WithClock(c voicehook.Clock) Option {
	return func(s *Storage) { s.clock = c }
}

// New returns a Storage writing under root, creating the directory if needed.
// publicURL is how others reach this server (--public-url), e.g.
// https://voice.example.com; media lives under publicURL/media/. signingKey
// signs short-lived links and must hold at least 16 random bytes.
func New(root, publicURL string, signingKey []byte, opts ...Option) (*Storage, error) {
	if root == "" {
		return nil, errors.New("disk: media directory is empty: set --data-dir")
	}
	base, err := parsePublicURL(publicURL)
	if err != nil {
		return nil, err
	}
	if len(signingKey) < minSigningKey {
		return nil, fmt.Errorf("disk: media signing key has %d bytes; need at least %d random bytes", len(signingKey), minSigningKey)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("disk: create media directory: %w", err)
	}
	s := &Storage{
		root:       root,
		publicURL:  base,
		signingKey: append([]byte(nil), signingKey...),
		clock:      voicehook.SystemClock{},
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

func parsePublicURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("disk: public URL %q must be an absolute http(s) URL such as https://voice.example.com: set --public-url", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// URL is the public address of key: publicURL/media/<key>, each path segment
// escaped so that odd segment ids survive the trip through a URL.
func (s *Storage) URL(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return s.publicURL + mediaPrefix + strings.Join(segs, "/")
}

// Put copies obj into root/<obj.Key> atomically and checks what landed on
// disk; a Temporary obj with a hash is moved into place instead when it is
// on the same file system (see moveInto). Storing the same key again with
// the same bytes writes nothing.
func (s *Storage) Put(ctx context.Context, obj voicehook.AudioObject) (voicehook.StoredAudio, error) {
	if err := checkKey(obj.Key); err != nil {
		return voicehook.StoredAudio{}, err
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return voicehook.StoredAudio{}, fmt.Errorf("disk: open media directory: %w", err)
	}
	defer root.Close()

	want := strings.ToLower(obj.SHA256)
	// A retry after a crash or a replay: the file is already there, whole.
	if want != "" {
		if sum, n, err := hashFile(ctx, root, obj.Key); err == nil && sum == want && n == obj.Bytes {
			return s.stored(obj, sum, n), nil
		}
	}

	if obj.Temporary && want != "" {
		err := moveInto(ctx, root, obj)
		if err == nil {
			return s.stored(obj, want, obj.Bytes), nil
		}
		if !errors.Is(err, errCannotMove) {
			return voicehook.StoredAudio{}, err
		}
	}

	sum, n, err := writeAtomic(ctx, root, obj.Key, obj.Path, func(sum string, n int64) error {
		return compare("source file", obj, sum, n)
	})
	if err != nil {
		return voicehook.StoredAudio{}, err
	}

	// Read back what the file system now holds under the key.
	gotSum, gotN, err := hashFile(ctx, root, obj.Key)
	if err != nil {
		return voicehook.StoredAudio{}, fmt.Errorf("disk: read back %s: %w", obj.Key, err)
	}
	if gotSum != sum || gotN != n {
		return voicehook.StoredAudio{}, fmt.Errorf("disk: %s reads back as %d bytes sha256 %s, wrote %d bytes sha256 %s", obj.Key, gotN, gotSum, n, sum)
	}
	return s.stored(obj, sum, n), nil
}

// compare checks size and hash against what the caller said obj holds. A
// mismatch means the file changed under us: transient, the caller retries
// from a fresh download.
func compare(what string, obj voicehook.AudioObject, sum string, n int64) error {
	if n != obj.Bytes {
		return fmt.Errorf("disk: %s %s has %d bytes, expected %d", what, obj.Path, n, obj.Bytes)
	}
	if obj.SHA256 != "" && !strings.EqualFold(sum, obj.SHA256) {
		return fmt.Errorf("disk: %s %s has sha256 %s, expected %s", what, obj.Path, sum, obj.SHA256)
	}
	return nil
}

func (s *Storage) stored(obj voicehook.AudioObject, sum string, n int64) voicehook.StoredAudio {
	ct := obj.ContentType
	if ct == "" {
		ct = voicehook.ContentTypeOf(obj.Key)
	}
	return voicehook.StoredAudio{
		URL:         s.URL(obj.Key),
		Key:         obj.Key,
		SHA256:      sum,
		Bytes:       n,
		DurationMS:  obj.DurationMS,
		ContentType: ct,
	}
}
