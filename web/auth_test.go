package web

import (
	"net/http/httptest"
	"testing"
)

func TestAdminAllowedWithoutToken(t *testing.T) {
	t.Parallel()
	s := &Server{}
	cases := []struct {
		remote, host string
		want         bool
	}{
		{"127.0.0.1:5000", "localhost:8080", true},
		{"[::1]:5000", "[::1]:8080", true},
		{"127.0.0.1:5000", "127.0.0.1:8080", true},
		// A DNS-rebinding page reaches loopback under a name it controls.
		{"127.0.0.1:5000", "rebind.attacker.example:8080", false},
		{"192.0.2.10:5000", "localhost:8080", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/api/events", nil)
		r.RemoteAddr, r.Host = c.remote, c.host
		if got := s.adminAllowed(r); got != c.want {
			t.Errorf("remote %s host %s: allowed = %v, want %v", c.remote, c.host, got, c.want)
		}
	}
}

func TestAdminAllowedWithToken(t *testing.T) {
	t.Parallel()
	s := &Server{AdminToken: "tok"}
	cases := []struct {
		auth string
		want bool
	}{
		{"Bearer tok", true},
		// The auth-scheme is case-insensitive (RFC 7235, section 2.1).
		{"bearer tok", true},
		{"BEARER tok", true},
		{"bEaReR  tok", true},
		{"Bearer nope", false},
		{"Bearertok", false},
		{"Basic tok", false},
		{"tok", false},
		{"", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/api/events", nil)
		r.RemoteAddr = "127.0.0.1:5000"
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if got := s.adminAllowed(r); got != c.want {
			t.Errorf("Authorization %q: allowed = %v, want %v", c.auth, got, c.want)
		}
	}
}
