package s3

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const testBucket = "voice"

// fakeS3 is gofakes3 on a loopback httptest server, with a hook that can
// answer a request in its place (to inject S3 errors) or rewrite its reply.
type fakeS3 struct {
	srv     *httptest.Server
	backend *s3mem.Backend

	mu   sync.Mutex
	hook func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
}

func newFakeS3(t *testing.T) *fakeS3 { return startFakeS3(t, false) }

// startFakeS3 serves over TLS when useTLS: minio-go then sends plain bodies;
// over HTTP it uses aws-chunked streaming signatures, which gofakes3 decodes
// for single PUTs but not for multi-part parts.
func startFakeS3(t *testing.T, useTLS bool) *fakeS3 {
	t.Helper()
	f := &fakeS3{backend: s3mem.New()}
	fake := gofakes3.New(f.backend).Server()
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		hook := f.hook
		f.mu.Unlock()
		if hook != nil && hook(w, r, fake) {
			return
		}
		fake.ServeHTTP(w, r)
	}))
	if useTLS {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	if err := f.backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeS3) setHook(h func(w http.ResponseWriter, r *http.Request, next http.Handler) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// config points at the fake with path-style addressing; objects are public
// at <server>/<bucket>/<key> because gofakes3 does not check auth.
func (f *fakeS3) config() Config {
	return Config{
		Endpoint:  f.srv.URL,
		Region:    "us-east-1",
		Bucket:    testBucket,
		AccessKey: "AKIATESTTESTTEST",
		SecretKey: "test-secret-key",
		PathStyle: true,
		PublicURL: f.srv.URL + "/" + testBucket + "/",
	}
}

func (f *fakeS3) storage(t *testing.T) *Storage {
	t.Helper()
	return f.storageFor(t, f.config())
}

// storageFor builds a Storage that trusts the fake's certificate and sees
// no AWS_* environment.
func (f *fakeS3) storageFor(t *testing.T, cfg Config) *Storage {
	t.Helper()
	s, err := newStorage(cfg, noEnv, f.srv.Client().Transport)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// s3Error answers like S3 does when it refuses a request.
func s3Error(w http.ResponseWriter, r *http.Request, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code +
			`</Code><Message>injected ` + code + `</Message><RequestId>1</RequestId></Error>`))
	}
}

func noEnv(string) string { return "" }
