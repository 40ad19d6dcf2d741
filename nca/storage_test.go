package nca

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/audiotest"
	"github.com/voicehook/voicehook/nca/ncatest"
	"github.com/voicehook/voicehook/voicehooktest"
)

// oneFrame is the shortest audio: one MP3 frame, 417 bytes.
const oneFrame = audiotest.MP3FrameDuration

// TestStorageContract runs the Storage suite every backend passes against
// the NCA emulator, reading objects back at the public URL NCA returns:
// with files staged on a plain loopback server, and as voicehook wires it,
// staged in local media behind signed links.
func TestStorageContract(t *testing.T) {
	t.Parallel()
	stages := []struct {
		name  string
		stage func(t *testing.T) func(context.Context, voicehook.AudioObject) (string, error)
	}{
		{"stager", func(t *testing.T) func(context.Context, voicehook.AudioObject) (string, error) {
			return newStager(t).Stage
		}},
		{"disk staging", diskStage},
	}
	for _, st := range stages {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			voicehooktest.RunStorage(t, func(t *testing.T) voicehooktest.StorageHarness {
				return voicehooktest.StorageHarness{
					Storage: newStorage(t, newEmulator(t), st.stage(t)),
					Fetch:   voicehooktest.HTTPFetch(nil),
				}
			})
		})
	}
}

// TestPutEndToEnd: NCA is asked to copy the staged file through a signed
// link, under the whole key (segments/<segment>/<sha256>.mp3), publicly, and the copy's size is checked
// with one HEAD.
func TestPutEndToEnd(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t)
	s := newStorage(t, emu, diskStage(t))

	obj := voicehooktest.AudioObject(t, "", "seg-1", 2*time.Second)
	got, err := s.Put(context.Background(), obj)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	// The whole key, folders included, as every backend names objects.
	filename := obj.Key
	if want := "segments/seg-1/" + obj.SHA256 + ".mp3"; filename != want {
		t.Fatalf("fixture key %q, want %q", filename, want)
	}
	if diff := cmp.Diff(emu.FileURL(filename), got.URL); diff != "" {
		t.Errorf("URL (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(obj.Path)
	if err != nil {
		t.Fatal(err)
	}
	stored, ok := emu.File(filename)
	if !ok || !bytes.Equal(stored, data) {
		t.Errorf("NCA holds %d bytes under %s (found %v), want the %d staged", len(stored), filename, ok, len(data))
	}
	ups := emu.Uploads()
	if len(ups) != 1 {
		t.Fatalf("NCA got %d uploads, want 1", len(ups))
	}
	if diff := cmp.Diff(ncatest.Upload{FileURL: ups[0].FileURL, Filename: filename, Public: true}, ups[0]); diff != "" {
		t.Errorf("upload request (-want +got):\n%s", diff)
	}
	if u, err := url.Parse(ups[0].FileURL); err != nil || u.Query().Get("sig") == "" || u.Query().Get("exp") == "" {
		t.Errorf("NCA was given %q, want a signed media link", ups[0].FileURL)
	}
	if n := emu.Requests(ncatest.RouteFileHEAD); n != 1 {
		t.Errorf("stored file was HEAD-checked %d times, want 1", n)
	}
}

// TestPutAgainUploadsAgain: NCA has no "exists" check, so a repeat uploads
// again, overwriting the same object with the same bytes.
func TestPutAgainUploadsAgain(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t)
	s := newStorage(t, emu, newStager(t).Stage)
	obj := voicehooktest.AudioObject(t, "", "seg-1", time.Second)
	for range 2 {
		if _, err := s.Put(context.Background(), obj); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if n := emu.Requests(ncatest.RouteUpload); n != 2 {
		t.Errorf("uploads = %d, want 2", n)
	}
}

func TestPutVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(*ncatest.Server)
		wantRoute string
	}{
		{"legacy url field", func(e *ncatest.Server) { e.SetMode(ncatest.LegacyURLField) }, ncatest.RouteFileHEAD},
		{"HEAD unsupported falls back to a ranged GET", func(e *ncatest.Server) { e.SetHEADUnsupported(true) }, ncatest.RouteFileGET},
		{"recovers after a failure", func(e *ncatest.Server) { e.FailNext(1, 503) }, ncatest.RouteFileHEAD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t)
			tt.setup(emu)
			s := newStorage(t, emu, newStager(t).Stage)
			obj := voicehooktest.AudioObject(t, "", "seg-1", time.Second)
			ctx := context.Background()
			got, err := s.Put(ctx, obj)
			if err != nil && tt.name == "recovers after a failure" {
				got, err = s.Put(ctx, obj)
			}
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if diff := cmp.Diff(emu.FileURL(obj.Key), got.URL); diff != "" {
				t.Errorf("URL (-want +got):\n%s", diff)
			}
			if emu.Requests(tt.wantRoute) != 1 {
				t.Errorf("%s requests = %d, want 1", tt.wantRoute, emu.Requests(tt.wantRoute))
			}
		})
	}
}

func TestPutErrors(t *testing.T) {
	t.Parallel()
	type result struct {
		Permanent bool
		Mentions  bool
	}
	permanentStage := func(context.Context, voicehook.AudioObject) (string, error) {
		return "", voicehook.Permanent("audio is gone", nil)
	}
	transientStage := func(context.Context, voicehook.AudioObject) (string, error) {
		return "", errors.New("disk busy")
	}
	tests := []struct {
		name    string
		setup   func(*ncatest.Server)
		cfg     func(*Config, *ncatest.Server)
		key     string
		timeout time.Duration
		mention string
		want    result
	}{
		{name: "wrong API key", cfg: func(c *Config, _ *ncatest.Server) { c.APIKey = "wrong-key-123" },
			mention: "NCA API key rejected", want: result{true, true}},
		{name: "401", setup: func(e *ncatest.Server) { e.FailNext(1, 401) }, mention: "--nca-api-key", want: result{true, true}},
		{name: "400", setup: func(e *ncatest.Server) { e.FailNext(1, 400) }, mention: "Invalid payload", want: result{true, true}},
		{name: "500 download failed", cfg: func(c *Config, _ *ncatest.Server) {
			c.Stage = func(context.Context, voicehook.AudioObject) (string, error) {
				return "http://127.0.0.1:1/missing.mp3", nil
			}
		}, mention: "could not copy the staged file", want: result{false, true}},
		{name: "500 staged link 404", cfg: func(c *Config, e *ncatest.Server) {
			c.Stage = func(context.Context, voicehook.AudioObject) (string, error) { return e.URL + "/nothing-here.mp3", nil }
		}, mention: "404 Client Error", want: result{false, true}},
		{name: "500", setup: func(e *ncatest.Server) { e.FailNext(1, 500) }, mention: "HTTP 500", want: result{false, true}},
		// No retry enables ACLs on the bucket: fail at once, saying what to
		// change.
		{name: "bucket ACLs disabled", setup: func(e *ncatest.Server) { e.SetACLsDisabled(true) },
			mention: `Object Ownership is "Bucket owner enforced"`, want: result{true, true}},
		{name: "429", setup: func(e *ncatest.Server) { e.FailNext(1, 429) }, mention: "MAX_QUEUE_LENGTH", want: result{false, true}},
		{name: "502", setup: func(e *ncatest.Server) { e.FailNext(1, 502) }, mention: "HTTP 502", want: result{false, true}},
		{name: "503", setup: func(e *ncatest.Server) { e.FailNext(1, 503) }, mention: "Service Unavailable", want: result{false, true}},
		{name: "504", setup: func(e *ncatest.Server) { e.FailNext(1, 504) }, mention: "HTTP 504", want: result{false, true}},
		{name: "timeout", setup: func(e *ncatest.Server) { e.SetDelay(10 * time.Second) }, timeout: 200 * time.Millisecond,
			mention: "deadline exceeded", want: result{false, true}},
		{name: "malformed JSON", setup: func(e *ncatest.Server) { e.SetMode(ncatest.MalformedJSON) },
			mention: `not NCA's JSON envelope`, want: result{false, true}},
		{name: "envelope code 500", setup: func(e *ncatest.Server) { e.SetMode(ncatest.EnvelopeError) },
			mention: "code 500", want: result{false, true}},
		{name: "private presigned reply", setup: func(e *ncatest.Server) { e.SetMode(ncatest.IgnorePublic) },
			mention: "presigned", want: result{true, true}},
		{name: "presigned reply claiming public", setup: func(e *ncatest.Server) { e.SetMode(ncatest.PresignedPublic) },
			mention: "X-Amz-", want: result{true, true}},
		{name: "stored copy truncated", setup: func(e *ncatest.Server) { e.SetTruncate(1) },
			mention: "has 416 bytes, staged 417", want: result{false, true}},
		{name: "truncated, HEAD unsupported", setup: func(e *ncatest.Server) { e.SetTruncate(4); e.SetHEADUnsupported(true) },
			mention: "has 413 bytes, staged 417", want: result{false, true}},
		{name: "stage fails permanently", cfg: func(c *Config, _ *ncatest.Server) { c.Stage = permanentStage },
			mention: "audio is gone", want: result{true, true}},
		{name: "stage fails transiently", cfg: func(c *Config, _ *ncatest.Server) { c.Stage = transientStage },
			mention: "disk busy", want: result{false, true}},
		{name: "absolute key", key: "/etc/passwd", mention: "invalid storage key", want: result{true, true}},
		{name: "dot dot key", key: "segments/../x.mp3", mention: "invalid storage key", want: result{true, true}},
		{name: "wrong base URL", cfg: func(c *Config, e *ncatest.Server) { c.BaseURL = e.URL + "/not-nca" },
			mention: "--nca-url", want: result{true, true}},
		{name: "NCA down", cfg: func(c *Config, _ *ncatest.Server) { c.BaseURL = "http://" + closedAddr(t) },
			mention: "connection refused", want: result{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t)
			if tt.setup != nil {
				tt.setup(emu)
			}
			cfg := Config{BaseURL: emu.URL, APIKey: testAPIKey, Stage: newStager(t).Stage}
			if tt.cfg != nil {
				tt.cfg(&cfg, emu)
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			obj := voicehooktest.AudioObject(t, "", "seg-1", oneFrame) // 417 bytes
			if tt.key != "" {
				obj.Key = tt.key
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err = s.Put(ctx, obj)
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			got := result{voicehook.IsPermanent(err), strings.Contains(err.Error(), tt.mention)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Put error %q (-want +got):\n%s", err, diff)
			}
			if strings.Contains(err.Error(), cfg.APIKey) {
				t.Errorf("error leaks the API key: %q", err)
			}
		})
	}
}

// TestRedirectKeepsKeyHome: a redirecting base URL must not carry the API key
// to another host.
func TestRedirectKeepsKeyHome(t *testing.T) {
	t.Parallel()
	elsewhere := make(chan string, 4)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere <- r.Header.Get("X-API-Key")
	}))
	t.Cleanup(other.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusPermanentRedirect)
	}))
	t.Cleanup(redirector.Close)

	s, err := New(Config{BaseURL: redirector.URL, APIKey: testAPIKey, Stage: newStager(t).Stage})
	if err != nil {
		t.Fatal(err)
	}
	obj := voicehooktest.AudioObject(t, "", "seg-1", time.Second)
	_, err = s.Put(context.Background(), obj)
	if !voicehook.IsPermanent(err) || !strings.Contains(err.Error(), "set --nca-url to the final address") {
		t.Errorf("Put via a redirect = %v, want a permanent error naming the fix", err)
	}
	err = s.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("Check via a redirect = %v, want an error about the redirect", err)
	}
	select {
	case key := <-elsewhere:
		t.Errorf("the redirect target was contacted (with key %v)", key != "")
	default:
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*ncatest.Server)
		cfg   func(*Config, *ncatest.Server)
		want  string // substring of the error; "" means success
	}{
		{name: "wrong key", cfg: func(c *Config, _ *ncatest.Server) { c.APIKey = "nope" },
			want: "NCA Toolkit rejected the API key: set --nca-api-key"},
		{name: "not NCA", cfg: func(c *Config, e *ncatest.Server) { c.BaseURL = e.URL + "/elsewhere" },
			want: "check that --nca-url points at the NCA Toolkit"},
		{name: "down", cfg: func(c *Config, _ *ncatest.Server) { c.BaseURL = "http://" + closedAddr(t) },
			want: "cannot reach the NCA Toolkit"},
		{name: "proxy error", setup: func(e *ncatest.Server) { e.FailNext(1, 502) }, want: "HTTP 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t)
			if tt.setup != nil {
				tt.setup(emu)
			}
			cfg := Config{BaseURL: emu.URL, APIKey: testAPIKey, Stage: newStager(t).Stage}
			if tt.cfg != nil {
				tt.cfg(&cfg, emu)
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(context.Background())
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check = %v, want an error mentioning %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), cfg.APIKey) {
				t.Errorf("error leaks the API key: %q", err)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	stage := func(context.Context, voicehook.AudioObject) (string, error) { return "", nil }
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no base URL", Config{APIKey: "k", Stage: stage}, "--nca-url"},
		{"relative base URL", Config{BaseURL: "nca.example.com", APIKey: "k", Stage: stage}, "--nca-url"},
		{"no key", Config{BaseURL: "https://nca.example.com", Stage: stage}, "--nca-api-key"},
		{"no stage", Config{BaseURL: "https://nca.example.com", APIKey: "k"}, "Stage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestPresignParam(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://b.s3.amazonaws.com/a.mp3":                                        "",
		"https://b.s3.amazonaws.com/a.mp3?versionId=3":                            "",
		"https://b.s3.amazonaws.com/a.mp3?X-Amz-Signature=ab&X-Amz-Expires=1":     "X-Amz-",
		"https://b.s3.amazonaws.com/a.mp3?x-amz-expires=3600":                     "x-amz-expires",
		"https://b.s3.amazonaws.com/a.mp3?AWSAccessKeyId=A&Signature=s&Expires=1": "Signature",
		"https://storage.googleapis.com/b/a.mp3?X-Goog-Signature=ab":              "X-Goog-Signature",
		"https://acct.blob.core.windows.net/c/a.mp3?se=2026&sig=ab":               "sig",
	}
	for raw, want := range tests {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := presignParam(u)
		if (want == "") != (got == "") || !strings.HasPrefix(got, want) {
			t.Errorf("presignParam(%s) = %q, want %q…", raw, got, want)
		}
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
