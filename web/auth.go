package web

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// requireAdmin guards the API (and the admin pages): with --admin-token a
// request must carry it as a bearer token; without one, only loopback
// clients are served, so an unconfigured server exposes nothing.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.adminAllowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		if s.AdminToken == "" {
			writeError(w, http.StatusForbidden, "the API answers only loopback clients unless --admin-token is set")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="voicehook"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
	})
}

func (s *Server) adminAllowed(r *http.Request) bool {
	if s.AdminToken == "" {
		// The Host check stops a DNS-rebinding page in the operator's
		// browser from reaching the API through a name it controls.
		return isLoopback(r.RemoteAddr) && loopbackHost(r.Host)
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		if c, err := r.Cookie(sessionCookie); err == nil {
			got = c.Value
			return subtle.ConstantTimeCompare([]byte(got), []byte(s.sessionValue())) == 1
		}
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.AdminToken)) == 1
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
