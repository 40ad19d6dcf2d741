package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

const sessionCookie = "voicehook_session"

// sessionValue is what the session cookie holds: derived from the admin
// token, so changing the token signs everyone out, and the token itself
// never sits in a cookie.
func (s *Server) sessionValue() string {
	m := hmac.New(sha256.New, []byte(s.AdminToken))
	m.Write([]byte("voicehook admin session"))
	return hex.EncodeToString(m.Sum(nil))
}
