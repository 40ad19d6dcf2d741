package elevenlabs

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/fetch"
)

// The rules of redirect following, as pure functions: nothing here dials.

func TestKeepsKey(t *testing.T) {
	t.Parallel()
	const api = "https://api.elevenlabs.io/v1/studio/projects/p/snapshots/s/stream"
	tests := []struct {
		name string
		via  []string // the requests so far, the first being the API call
		next string
		want bool
	}{
		{"same origin, other path", []string{api}, "https://api.elevenlabs.io/v1/other", true},
		{"explicit default port", []string{api}, "https://api.elevenlabs.io:443/x", true},
		{"host case differs", []string{api}, "https://API.ElevenLabs.io/x", true},
		{"other host", []string{api}, "https://cdn.elevenlabs.io/x", false},
		{"other port", []string{api}, "https://api.elevenlabs.io:8443/x", false},
		{"downgrade to http", []string{api}, "http://api.elevenlabs.io/x", false},
		{"back after leaving", []string{api, "https://cdn.example.com/a"}, "https://api.elevenlabs.io/x", false},
		{"still home after a same-origin hop", []string{api, "https://api.elevenlabs.io/a"}, "https://api.elevenlabs.io/b", true},
	}
	for _, tt := range tests {
		var via []*http.Request
		for _, v := range tt.via {
			via = append(via, &http.Request{URL: mustURL(t, v)})
		}
		if got := keepsKey(mustURL(t, tt.next), via); got != tt.want {
			t.Errorf("%s: keepsKey = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckRedirect(t *testing.T) {
	t.Parallel()
	first := &http.Request{URL: mustURL(t, "https://api.elevenlabs.io/v1/stream")}
	tests := []struct {
		name      string
		hops      int // redirects already taken before this one
		next      string
		wantErr   string
		wantKey   bool
		permanent bool
	}{
		{name: "first redirect, same origin", next: "https://api.elevenlabs.io/v2/stream", wantKey: true},
		{name: "fifth redirect, elsewhere", hops: 4, next: "https://cdn.example.com/a"},
		{name: "sixth redirect", hops: 5, next: "https://cdn.example.com/a", wantErr: "more than 5 redirects", permanent: true},
		{name: "to ftp", next: "ftp://cdn.example.com/a", wantErr: "not http(s) (ftp://cdn.example.com)", permanent: true},
		{name: "signature never quoted", next: "gopher://cdn.example.com/a?X-Amz-Signature=secret", wantErr: "gopher://cdn.example.com)", permanent: true},
	}
	for _, tt := range tests {
		via := []*http.Request{first}
		for range tt.hops {
			via = append(via, &http.Request{URL: mustURL(t, "https://api.elevenlabs.io/hop")})
		}
		req := &http.Request{URL: mustURL(t, tt.next), Header: http.Header{"Xi-Api-Key": {"k"}, "Referer": {"https://api.elevenlabs.io/v1/stream"}}}
		err := checkRedirect(req, via)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || voicehook.IsPermanent(err) != tt.permanent || strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: err = %v, want permanent %q", tt.name, err, tt.wantErr)
			}
			continue
		case err != nil:
			t.Errorf("%s: err = %v", tt.name, err)
			continue
		}
		if got := req.Header.Get("xi-api-key") != ""; got != tt.wantKey {
			t.Errorf("%s: key kept = %v, want %v", tt.name, got, tt.wantKey)
		}
		if req.Header.Get("Referer") != "" {
			t.Errorf("%s: Referer kept", tt.name)
		}
	}
}

// TestHopAddressPolicy: the dial hook refuses, with errRefusedHop, every
// address voicehook's download policy refuses, and passes public ones.
func TestHopAddressPolicy(t *testing.T) {
	t.Parallel()
	control := controlFor(fetch.CheckAddr)
	for _, tt := range []struct {
		address string
		refused bool
	}{
		{"127.0.0.1:443", true},
		{"[::1]:443", true},
		{"10.1.2.3:443", true},
		{"192.168.0.10:80", true},
		{"169.254.169.254:80", true},
		{"[fd00:ec2::254]:80", true},
		{"[::ffff:127.0.0.1]:443", true},
		{"not an address", true},
		{"203.0.113.7:443", false},
		{"[2001:db8::1]:443", false},
	} {
		err := control("tcp", tt.address, nil)
		if got := err != nil; got != tt.refused {
			t.Errorf("%s: err = %v, want refused %v", tt.address, err, tt.refused)
		}
		if err != nil && !errors.Is(err, errRefusedHop) {
			t.Errorf("%s: err %v does not wrap errRefusedHop", tt.address, err)
		}
	}
}

// TestHostPort: the transport trusts BaseURL's host:port in the form it
// is dialled, default port filled in.
func TestHostPort(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://api.elevenlabs.io":         "api.elevenlabs.io:443",
		"http://API.example.com/x":          "api.example.com:80",
		"http://127.0.0.1:8080/v1":          "127.0.0.1:8080",
		"https://[2001:db8::1]/v1":          "[2001:db8::1]:443",
		"https://[2001:db8::1]:8443/v1?x=1": "[2001:db8::1]:8443",
	} {
		if got := hostPort(mustURL(t, raw)); got != want {
			t.Errorf("hostPort(%s) = %s, want %s", raw, got, want)
		}
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
