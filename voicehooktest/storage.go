package voicehooktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

// StorageHarness is one Storage backend under test, fresh for each case.
type StorageHarness struct {
	Storage voicehook.Storage
	// Fetch reads the object at a URL Put returned, as a listener following
	// the link would (HTTPFetch for backends whose URLs are plain links).
	Fetch func(ctx context.Context, url string) ([]byte, error)
}

// HTTPFetch is a StorageHarness.Fetch that GETs the URL with c (nil: a
// plain client) and wants 200 OK.
func HTTPFetch(c *http.Client) func(ctx context.Context, url string) ([]byte, error) {
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	return func(ctx context.Context, u string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", u, err)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", u, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("GET %s: reading the body: %w", u, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		return body, nil
	}
}

// RunStorage runs the voicehook.Storage contract against the backend
// newStorage builds; it calls newStorage once per case, in the case's own
// (parallel) subtest, so cases never see each other's objects.
func RunStorage(t *testing.T, newStorage func(t *testing.T) StorageHarness) {
	t.Helper()
	ctx := context.Background()

	// put stores obj and checks the result against what the caller handed
	// over: a backend must not describe audio other than it was given.
	put := func(t *testing.T, h StorageHarness, obj voicehook.AudioObject) voicehook.StoredAudio {
		t.Helper()
		got, err := h.Storage.Put(ctx, obj)
		if err != nil {
			t.Fatalf("Put(%s): %v", obj.Key, err)
		}
		ct := obj.ContentType
		if ct == "" {
			ct = voicehook.ContentTypeOf(obj.Key)
		}
		want := voicehook.StoredAudio{URL: got.URL, Key: obj.Key, SHA256: obj.SHA256, Bytes: obj.Bytes, DurationMS: obj.DurationMS, ContentType: ct}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Put(%s) (-want +got):\n%s", obj.Key, diff)
		}
		if u, err := url.Parse(got.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Errorf("Put(%s) URL %q is not an absolute http(s) URL", obj.Key, got.URL)
		}
		return got
	}
	// readBack wants the URL to serve exactly data.
	readBack := func(t *testing.T, h StorageHarness, u string, data []byte) {
		t.Helper()
		got, err := h.Fetch(ctx, u)
		if err != nil {
			t.Fatalf("reading back %s: %v", u, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s serves %d bytes that differ from the %d stored", u, len(got), len(data))
		}
	}
	contents := func(t *testing.T, obj voicehook.AudioObject) []byte {
		t.Helper()
		data, err := os.ReadFile(obj.Path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	t.Run("Put", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			obj  func(t *testing.T) voicehook.AudioObject
		}{
			{"mp3", func(t *testing.T) voicehook.AudioObject { return AudioObject(t, "", "seg-1", 2*time.Second) }},
			{"one frame", func(t *testing.T) voicehook.AudioObject { return AudioObject(t, "", "seg-1", 30*time.Millisecond) }},
			// The key names the segment as AudioKey makes it path-safe.
			{"odd segment id", func(t *testing.T) voicehook.AudioObject {
				return AudioObject(t, "", "Scene 1/ä?#", time.Second)
			}},
			// The caller may leave the type to the key's extension.
			{"no content type", func(t *testing.T) voicehook.AudioObject {
				obj := AudioObject(t, "", "seg-1", time.Second)
				obj.ContentType = ""
				return obj
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				h := newStorage(t)
				obj := tt.obj(t)
				got := put(t, h, obj)
				readBack(t, h, got.URL, contents(t, obj))
			})
		}
	})

	t.Run("PutTwiceIsTheSameObject", func(t *testing.T) {
		t.Parallel()
		h := newStorage(t)
		obj := AudioObject(t, "", "seg-1", time.Second)
		first := put(t, h, obj)
		second := put(t, h, obj)
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("a repeated Put differs (-first +second):\n%s", diff)
		}
		readBack(t, h, second.URL, contents(t, obj))
	})

	// Retries and replays may put the same audio at the same time (two
	// replicas, or a retry racing a slow first attempt).
	t.Run("ConcurrentPutsAgree", func(t *testing.T) {
		t.Parallel()
		h := newStorage(t)
		obj := AudioObject(t, "", "seg-1", time.Second)
		const n = 4
		got := make([]voicehook.StoredAudio, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { got[i], errs[i] = h.Storage.Put(ctx, obj) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent Puts: %v", err)
		}
		for i := 1; i < n; i++ {
			if diff := cmp.Diff(got[0], got[i]); diff != "" {
				t.Errorf("Put %d differs from Put 0 (-0 +%d):\n%s", i, i, diff)
			}
		}
		readBack(t, h, got[0].URL, contents(t, obj))
	})

	t.Run("DifferentAudioIsKeptApart", func(t *testing.T) {
		t.Parallel()
		h := newStorage(t)
		dir := t.TempDir()
		objs := []voicehook.AudioObject{
			AudioObject(t, dir, "seg-1", time.Second),
			AudioObject(t, dir, "seg-1", 2*time.Second), // a second take for the same segment
			AudioObject(t, dir, "seg-2", 3*time.Second),
		}
		keyOf := map[string]string{} // URL → key
		var urls []string
		for _, obj := range objs {
			got := put(t, h, obj)
			if other, dup := keyOf[got.URL]; dup {
				t.Errorf("%s and %s share the URL %s", other, obj.Key, got.URL)
			}
			keyOf[got.URL] = obj.Key
			urls = append(urls, got.URL)
		}
		// Read back once every object is stored: a later Put must not
		// have overwritten an earlier object.
		for i, obj := range objs {
			readBack(t, h, urls[i], contents(t, obj))
		}
	})

	// A Temporary file is the caller's own download, which the backend may
	// move instead of copying; the caller deletes it after Put if it is
	// still there, and the stored audio must not depend on it.
	t.Run("TemporaryFile", func(t *testing.T) {
		t.Parallel()
		h := newStorage(t)
		obj := AudioObject(t, "", "seg-1", time.Second)
		obj.Temporary = true
		data := contents(t, obj)
		got := put(t, h, obj)
		if err := os.Remove(obj.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("deleting the temporary file after Put: %v", err)
		}
		readBack(t, h, got.URL, data)

		// A retry with a fresh download of the same audio lands on the
		// same object.
		again := AudioObject(t, "", "seg-1", time.Second)
		again.Temporary = true
		second := put(t, h, again)
		if diff := cmp.Diff(got, second); diff != "" {
			t.Errorf("the same audio put again differs (-first +second):\n%s", diff)
		}
		readBack(t, h, second.URL, data)
	})

	// A file that vanished or changed under the caller is a transient
	// error: the caller retries from a fresh download.
	t.Run("BadSourceIsTransient", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name   string
			change func(t *testing.T, obj *voicehook.AudioObject)
		}{
			{"missing file", func(t *testing.T, obj *voicehook.AudioObject) {
				if err := os.Remove(obj.Path); err != nil {
					t.Fatal(err)
				}
			}},
			{"size differs", func(_ *testing.T, obj *voicehook.AudioObject) { obj.Bytes++ }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				h := newStorage(t)
				obj := AudioObject(t, "", "seg-1", time.Second)
				tt.change(t, &obj)
				got, err := h.Storage.Put(ctx, obj)
				if err == nil {
					t.Fatalf("Put = %+v, want an error", got)
				}
				if voicehook.IsPermanent(err) {
					t.Errorf("Put = %v, want a transient error", err)
				}
			})
		}
	})

	t.Run("CancelledContextIsTransient", func(t *testing.T) {
		t.Parallel()
		h := newStorage(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := h.Storage.Put(cctx, AudioObject(t, "", "seg-1", time.Second))
		if err == nil || voicehook.IsPermanent(err) {
			t.Errorf("Put with a cancelled context = %v, want a transient error", err)
		}
	})

	t.Run("Check", func(t *testing.T) {
		t.Parallel()
		h := newStorage(t)
		if err := h.Storage.Check(ctx); err != nil {
			t.Fatalf("Check on a healthy backend: %v", err)
		}
	})
}
