package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

const sessionCookie = "voicehook_session"

// loginCookie carries a random value between the sign-in form and its POST,
// so the form's token proves the POST came from a form this server served.
const loginCookie = "voicehook_login"

// sessionValue is what the session cookie holds: derived from the admin
// token, so changing the token signs everyone out, and the token itself
// never sits in a cookie.
func (s *Server) sessionValue() string {
	m := hmac.New(sha256.New, []byte(s.AdminToken))
	m.Write([]byte("voicehook admin session"))
	return hex.EncodeToString(m.Sum(nil))
}

// tokenMatches compares a submitted admin token with --admin-token in
// constant time, whatever their lengths.
func (s *Server) tokenMatches(got string) bool {
	if s.AdminToken == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(s.AdminToken))
	return hmac.Equal(a[:], b[:])
}

// secureCookies: cookies are marked Secure when the public URL is https, so
// a browser never sends the session over plain HTTP.
func (s *Server) secureCookies() bool {
	return strings.HasPrefix(strings.ToLower(s.PublicURL), "https://")
}

// setSession signs the browser in: an HttpOnly, SameSite=Strict cookie that
// lasts as long as the browser session.
func (s *Server) setSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.sessionValue(), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(),
	})
}

// clearCookie removes a cookie set by this server.
func (s *Server) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(),
	})
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
