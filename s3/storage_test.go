package s3

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/voicehooktest"
)

// TestStorageContract runs the Storage suite every backend passes against
// gofakes3, over HTTP (minio-go signs streaming aws-chunked bodies) and
// HTTPS (plain bodies), reading objects back at their public URL.
func TestStorageContract(t *testing.T) {
	t.Parallel()
	for _, useTLS := range []bool{false, true} {
		name := "http"
		if useTLS {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			voicehooktest.RunStorage(t, func(t *testing.T) voicehooktest.StorageHarness {
				f := startFakeS3(t, useTLS)
				return voicehooktest.StorageHarness{Storage: f.storage(t), Fetch: voicehooktest.HTTPFetch(f.srv.Client())}
			})
		})
	}
}

// TestPutObject: the URL escapes the key under the public URL, the object
// carries its content type, and files above 16 MiB go up in parts.
func TestPutObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tls  bool
		size int
	}{
		{"single part", false, 64 << 10},
		{"multi-part above 16 MiB", true, 17 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startFakeS3(t, tt.tls)
			s := f.storage(t)
			data := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16)
			obj := voicehooktest.AudioFile(t, "", "segments/seg 1/abc.mp3", data)

			got, err := s.Put(context.Background(), obj)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if diff := cmp.Diff(f.srv.URL+"/voice/segments/seg%201/abc.mp3", got.URL); diff != "" {
				t.Errorf("URL (-want +got):\n%s", diff)
			}
			info, err := s.client.StatObject(context.Background(), testBucket, obj.Key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatalf("StatObject: %v", err)
			}
			if diff := cmp.Diff([]any{"audio/mpeg", int64(len(data))}, []any{info.ContentType, info.Size}); diff != "" {
				t.Errorf("stored Content-Type and size (-want +got):\n%s", diff)
			}
			body, err := voicehooktest.HTTPFetch(f.srv.Client())(context.Background(), got.URL)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, data) {
				t.Errorf("object downloaded from %s differs from the file", got.URL)
			}
		})
	}
}

// TestPutTwiceWritesOneObject: the key is the object; a repeat overwrites
// it rather than adding another.
func TestPutTwiceWritesOneObject(t *testing.T) {
	t.Parallel()
	f := newFakeS3(t)
	s := f.storage(t)
	obj := voicehooktest.AudioFile(t, "", "segments/s1/x.mp3", []byte("same audio twice"))
	for range 2 {
		if _, err := s.Put(context.Background(), obj); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	var keys []string
	for o := range s.client.ListObjects(context.Background(), testBucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	if diff := cmp.Diff([]string{"segments/s1/x.mp3"}, keys); diff != "" {
		t.Errorf("bucket contents (-want +got):\n%s", diff)
	}
}

func TestPutErrors(t *testing.T) {
	t.Parallel()
	type result struct {
		Permanent bool
		Mentions  bool
	}
	failPut := func(status int, code string) func(http.ResponseWriter, *http.Request, http.Handler) bool {
		return func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
			if r.Method != http.MethodPut {
				return false
			}
			s3Error(w, r, status, code)
			return true
		}
	}
	// rewriteHead lets the fake answer HEAD, then changes one header, as a
	// store that lost or altered bytes would.
	rewriteHead := func(header, value string) func(http.ResponseWriter, *http.Request, http.Handler) bool {
		return func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if r.Method != http.MethodHead {
				return false
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set(header, value)
			w.WriteHeader(rec.Code)
			return true
		}
	}
	tests := []struct {
		name    string
		bucket  string
		key     string
		hook    func(http.ResponseWriter, *http.Request, http.Handler) bool
		mention string
		want    result
	}{
		{name: "missing bucket", bucket: "no-such-bucket", mention: "does not exist", want: result{true, true}},
		{name: "access denied", hook: failPut(403, "AccessDenied"), mention: "s3:PutObject", want: result{true, true}},
		{name: "bad secret", hook: failPut(403, "SignatureDoesNotMatch"), mention: "secret key", want: result{true, true}},
		{name: "key rejected", hook: failPut(400, "KeyTooLongError"), mention: "object key", want: result{true, true}},
		{name: "slow down", hook: failPut(503, "SlowDown"), mention: "SlowDown", want: result{false, true}},
		{name: "internal error", hook: failPut(500, "InternalError"), mention: "InternalError", want: result{false, true}},
		{name: "clock skew", hook: failPut(403, "RequestTimeTooSkewed"), mention: "RequestTimeTooSkewed", want: result{false, true}},
		{name: "absolute key", key: "/etc/x.mp3", mention: "invalid storage key", want: result{true, true}},
		{name: "dot dot key", key: "segments/../x.mp3", mention: "invalid storage key", want: result{true, true}},
		{name: "size differs after upload", hook: rewriteHead("Content-Length", "3"), mention: "holds 3 bytes", want: result{false, true}},
		{name: "etag differs after upload", hook: rewriteHead("ETag", `"0123456789abcdef0123456789abcdef"`), mention: "ETag", want: result{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeS3(t)
			f.setHook(tt.hook)
			cfg := f.config()
			if tt.bucket != "" {
				cfg.Bucket = tt.bucket
			}
			s := f.storageFor(t, cfg)
			key := "segments/s1/x.mp3"
			if tt.key != "" {
				key = tt.key
			}
			obj := voicehooktest.AudioFile(t, "", key, []byte("some audio bytes"))
			_, err := s.Put(context.Background(), obj)
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			got := result{voicehook.IsPermanent(err), strings.Contains(err.Error(), tt.mention)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Put error %q (-want +got):\n%s", err, diff)
			}
			if strings.Contains(err.Error(), cfg.SecretKey) {
				t.Errorf("error leaks the secret key: %q", err)
			}
		})
	}
}

func TestPutNetworkErrorIsTransient(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	s, err := New(Config{
		Endpoint: "http://" + addr, Region: "us-east-1", Bucket: testBucket,
		AccessKey: "a", SecretKey: "b", PathStyle: true, PublicURL: "http://" + addr + "/voice",
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(context.Background(), voicehooktest.AudioFile(t, "", "segments/s/x.mp3", []byte("audio")))
	if err == nil || voicehook.IsPermanent(err) {
		t.Errorf("Put to a closed port = %v, want a transient error", err)
	}
}
