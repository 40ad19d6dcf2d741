package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// requireAdmin guards the API (and the admin pages): with --admin-token a
// request must carry it as a bearer token (or a signed-in session cookie);
// without one, only loopback clients are served, so an unconfigured server
// exposes nothing.
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
	if got, ok := bearerToken(r); ok {
		return s.tokenMatches(got)
	}
	_, ok := s.sessionFrom(r)
	return ok
}

// requireMetrics guards /metrics: open when no token is configured (as
// before, for scrapers on a private network), else a bearer token must be
// --metrics-token or --admin-token. A scraper can so be given a token that
// opens nothing but /metrics.
func (s *Server) requireMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.AdminToken == "" && s.MetricsToken == "" {
			next.ServeHTTP(w, r)
			return
		}
		if got, ok := bearerToken(r); ok && (secretMatches(got, s.MetricsToken) || secretMatches(got, s.AdminToken)) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="voicehook"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
	})
}

// bearerToken reads "Authorization: Bearer <token>". The scheme is
// case-insensitive and may be followed by more than one space (RFC 7235,
// section 2.1: auth-scheme 1*SP token68).
func bearerToken(r *http.Request) (string, bool) {
	scheme, rest, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
