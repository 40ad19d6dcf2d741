package disk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/voicehooktest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestSignedURL(t *testing.T) {
	t.Parallel()
	s, _ := newTestStorage(t, WithClock(voicehooktest.NewClockAt(t0)))
	exp := t0.Add(10 * time.Minute).Unix()
	mac := hmac.New(sha256.New, testKey)
	mac.Write([]byte("segments/s1/a b.mp3\n" + itoa(exp)))
	want := "https://voice.example.com/media/segments/s1/a%20b.mp3?exp=" + itoa(exp) + "&sig=" + hex.EncodeToString(mac.Sum(nil))

	got := s.SignedURL("segments/s1/a b.mp3", 10*time.Minute)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SignedURL (-want +got):\n%s", diff)
	}
	// A sub-second ttl rounds up instead of expiring at once.
	u, err := url.Parse(s.SignedURL("k.mp3", 300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(itoa(t0.Unix()+1), u.Query().Get("exp")); diff != "" {
		t.Errorf("exp for a 300ms ttl (-want +got):\n%s", diff)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

type response struct {
	Status      int
	Body        string
	ContentType string
	Range       string
}

func TestHandler(t *testing.T) {
	t.Parallel()
	s, root := newTestStorage(t, WithClock(voicehooktest.NewClockAt(t0)))
	ctx := context.Background()
	for key, body := range map[string]string{
		"segments/s1/voice.mp3": "mp3-bytes-0123456789",
		"segments/s1/voice.wav": "RIFF....WAVE",
		"segments/s1/voice.ogg": "OggS",
		"segments/s1/voi.flac":  "fLaC",
	} {
		if _, err := s.Put(ctx, voicehooktest.AudioFile(t, "", key, []byte(body))); err != nil {
			t.Fatalf("Put %s: %v", key, err)
		}
	}
	// A file outside the root, reachable only through a symlink inside it.
	secret := filepath.Join(t.TempDir(), "secret.mp3")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "segments", "s1", "escape.mp3")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "segments", "s1", tempPrefix+"partial"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}

	signed := func(key string, ttl time.Duration) string {
		u, err := url.Parse(s.SignedURL(key, ttl))
		if err != nil {
			t.Fatal(err)
		}
		return u.RequestURI()
	}
	expired := signed("segments/s1/voice.mp3", -time.Minute)
	valid := signed("segments/s1/voice.mp3", time.Minute)
	otherKey := strings.Replace(signed("segments/s1/voice.wav", time.Minute), "voice.wav", "voice.mp3", 1)
	tampered := strings.Replace(valid, "exp=", "exp=9", 1)

	const (
		mp3Body = "mp3-bytes-0123456789"
		json    = "application/json"
	)
	tests := []struct {
		name      string
		signedReq bool
		method    string
		target    string
		rangeHdr  string
		want      response
		wantMsg   string
	}{
		{name: "public get", target: "/media/segments/s1/voice.mp3",
			want: response{Status: 200, Body: mp3Body, ContentType: "audio/mpeg"}},
		{name: "public head", method: http.MethodHead, target: "/media/segments/s1/voice.mp3",
			want: response{Status: 200, ContentType: "audio/mpeg"}},
		{name: "range", target: "/media/segments/s1/voice.mp3", rangeHdr: "bytes=0-3",
			want: response{Status: 206, Body: "mp3-", ContentType: "audio/mpeg", Range: "bytes 0-3/20"}},
		{name: "wav", target: "/media/segments/s1/voice.wav",
			want: response{Status: 200, Body: "RIFF....WAVE", ContentType: "audio/wav"}},
		{name: "ogg", target: "/media/segments/s1/voice.ogg",
			want: response{Status: 200, Body: "OggS", ContentType: "audio/ogg"}},
		{name: "flac", target: "/media/segments/s1/voi.flac",
			want: response{Status: 200, Body: "fLaC", ContentType: "audio/flac"}},
		{name: "missing", target: "/media/segments/s1/nope.mp3",
			want: response{Status: 404, ContentType: json}, wantMsg: "no such media"},
		{name: "directory", target: "/media/segments/s1",
			want: response{Status: 404, ContentType: json}, wantMsg: "no such media"},
		{name: "dot dot", target: "/media/../" + filepath.Base(root) + "/segments/s1/voice.mp3",
			want: response{Status: 404, ContentType: json}, wantMsg: "no such media"},
		{name: "symlink out of root", target: "/media/segments/s1/escape.mp3",
			want: response{Status: 404, ContentType: json}, wantMsg: "no such media"},
		{name: "temp file", target: "/media/segments/s1/" + tempPrefix + "partial",
			want: response{Status: 404, ContentType: json}, wantMsg: "no such media"},
		{name: "wrong prefix", target: "/files/segments/s1/voice.mp3",
			want: response{Status: 404, ContentType: json}, wantMsg: "no such media"},
		{name: "post", method: http.MethodPost, target: "/media/segments/s1/voice.mp3",
			want: response{Status: 405, ContentType: json}, wantMsg: "GET and HEAD"},
		{name: "public ignores expired signature", target: expired,
			want: response{Status: 200, Body: mp3Body, ContentType: "audio/mpeg"}},
		{name: "signed mode valid", signedReq: true, target: valid,
			want: response{Status: 200, Body: mp3Body, ContentType: "audio/mpeg"}},
		{name: "signed mode valid range", signedReq: true, target: valid, rangeHdr: "bytes=10-",
			want: response{Status: 206, Body: "0123456789", ContentType: "audio/mpeg", Range: "bytes 10-19/20"}},
		{name: "signed mode unsigned", signedReq: true, target: "/media/segments/s1/voice.mp3",
			want: response{Status: 403, ContentType: json}, wantMsg: "requires a signed link"},
		{name: "signed mode expired", signedReq: true, target: expired,
			want: response{Status: 403, ContentType: json}, wantMsg: "expired at 2026-03-01T11:59:00Z"},
		{name: "signed mode tampered exp", signedReq: true, target: tampered,
			want: response{Status: 403, ContentType: json}, wantMsg: "does not match"},
		{name: "signed mode other key's signature", signedReq: true, target: otherKey,
			want: response{Status: 403, ContentType: json}, wantMsg: "does not match"},
		{name: "signed mode bad hex", signedReq: true, target: "/media/segments/s1/voice.mp3?exp=1&sig=zz",
			want: response{Status: 403, ContentType: json}, wantMsg: "not hex"},
		{name: "signed mode bad exp", signedReq: true, target: "/media/segments/s1/voice.mp3?exp=soon&sig=00",
			want: response{Status: 403, ContentType: json}, wantMsg: "not a unix time"},
		{name: "signed mode checks signature before existence", signedReq: true, target: "/media/segments/s1/nope.mp3",
			want: response{Status: 403, ContentType: json}, wantMsg: "requires a signed link"},
	}
	public, private := s.Handler(false), s.Handler(true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "http://voice.example.com/", nil)
			u, err := url.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			req.URL = u // keep ".." in the path, as a raw client could send it
			if tt.rangeHdr != "" {
				req.Header.Set("Range", tt.rangeHdr)
			}
			rec := httptest.NewRecorder()
			h := public
			if tt.signedReq {
				h = private
			}
			h.ServeHTTP(rec, req)
			got := response{
				Status:      rec.Code,
				ContentType: rec.Header().Get("Content-Type"),
				Range:       rec.Header().Get("Content-Range"),
			}
			body := rec.Body.String()
			want := tt.want
			if tt.wantMsg != "" {
				if !strings.Contains(body, tt.wantMsg) {
					t.Errorf("body %q does not contain %q", body, tt.wantMsg)
				}
			} else {
				got.Body = body
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if method == http.MethodHead && rec.Header().Get("Content-Length") != "20" {
				t.Errorf("HEAD Content-Length = %q, want 20", rec.Header().Get("Content-Length"))
			}
		})
	}
}

// TestHandlerOverHTTP runs the handler behind a real server on loopback, as
// NCA would reach it, including the expiry moving past a link.
func TestHandlerOverHTTP(t *testing.T) {
	t.Parallel()
	clock := voicehooktest.NewClockAt(t0)
	s, _ := newTestStorage(t, WithClock(clock))
	if _, err := s.Put(context.Background(), voicehooktest.AudioFile(t, "", "segments/s/v.mp3", []byte("hello audio"))); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/media/", s.Handler(true))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	link, err := url.Parse(s.SignedURL("segments/s/v.mp3", time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	target := srv.URL + link.RequestURI()
	get := func() int {
		resp, err := srv.Client().Get(target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != http.StatusOK {
		t.Errorf("fresh link: status %d, want 200", got)
	}
	clock.Set(t0.Add(2 * time.Minute))
	if got := get(); got != http.StatusForbidden {
		t.Errorf("expired link: status %d, want 403", got)
	}
}
