package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const sessionCookie = "voicehook_session"

// loginCookie carries a random value between the sign-in form and its POST,
// so the form's token proves the POST came from a form this server served.
const loginCookie = "voicehook_login"

// sessionLifetime is how long a sign-in lasts, however busy: a copied cookie
// is useless after it even if nobody signs out.
const sessionLifetime = 12 * time.Hour

// Sessions: each sign-in makes a new session, a random id and the time it
// was issued, sealed in the cookie with an HMAC under a key derived from
// the admin token. The cookie alone proves a session was issued by a
// server holding the token, so every replica accepts it without shared
// state, and changing the token ends every session. What the cookie cannot
// say is that the operator signed out: signing out records the session's
// id in SessionRevocations until the session would have expired anyway,
// and every request with a session cookie checks that record. With the SQL
// store behind SessionRevocations all replicas see a sign-out at once.

// SessionRevocations remembers sessions that were signed out, until the
// given time (past it the session has expired anyway and may be forgotten).
type SessionRevocations interface {
	RevokeSession(ctx context.Context, id string, until time.Time) error
	SessionRevoked(ctx context.Context, id string) (bool, error)
}

// session is one sign-in, as read back from its cookie.
type session struct {
	id     string
	issued time.Time
}

func (s *Server) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// sessionKey seals session cookies: derived from the admin token, so the
// token itself never sits in a cookie and every replica agrees on it.
func (s *Server) sessionKey() []byte {
	m := hmac.New(sha256.New, []byte(s.AdminToken))
	m.Write([]byte("voicehook admin session v2"))
	return m.Sum(nil)
}

// sessionMAC is the seal over "id.issued".
func (s *Server) sessionMAC(payload string) []byte {
	m := hmac.New(sha256.New, s.sessionKey())
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// newSessionValue makes the cookie of a new session: id.issued.mac.
func (s *Server) newSessionValue() string {
	payload := randomToken() + "." + strconv.FormatInt(s.now().Unix(), 10)
	return payload + "." + hex.EncodeToString(s.sessionMAC(payload))
}

// parseSession checks a cookie's seal and age. It does not consult the
// revocations (see sessionFrom).
func (s *Server) parseSession(value string) (session, bool) {
	if s.AdminToken == "" {
		return session{}, false
	}
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return session{}, false
	}
	payload, sealHex := value[:i], value[i+1:]
	seal, err := hex.DecodeString(sealHex)
	if err != nil || !hmac.Equal(seal, s.sessionMAC(payload)) {
		return session{}, false
	}
	id, issuedText, ok := strings.Cut(payload, ".")
	unix, err := strconv.ParseInt(issuedText, 10, 64)
	if !ok || id == "" || err != nil {
		return session{}, false
	}
	issued := time.Unix(unix, 0)
	now := s.now()
	// A session from the future (clock skew between replicas) gets a
	// minute's grace, no more.
	if now.Sub(issued) > sessionLifetime || issued.Sub(now) > time.Minute {
		return session{}, false
	}
	return session{id: id, issued: issued}, true
}

// sessionFrom returns the request's live session: sealed by this server,
// not expired, not signed out. A revocation store that cannot answer
// refuses the session (fail closed) and says why in the log.
func (s *Server) sessionFrom(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	sess, ok := s.parseSession(c.Value)
	if !ok {
		return session{}, false
	}
	revoked, err := s.revocations().SessionRevoked(r.Context(), sess.id)
	if err != nil {
		s.logger().Warn("session refused: cannot read sign-outs", "err", err)
		return session{}, false
	}
	return sess, !revoked
}

// revokeSession signs a session out on every replica that shares the
// revocations.
func (s *Server) revokeSession(ctx context.Context, sess session) error {
	if err := s.revocations().RevokeSession(ctx, sess.id, sess.issued.Add(sessionLifetime)); err != nil {
		return fmt.Errorf("recording sign-out: %w", err)
	}
	return nil
}

// revocations is SessionRevocations, or this process's memory when none
// was given (one process: nothing to share).
func (s *Server) revocations() SessionRevocations {
	if s.SessionRevocations != nil {
		return s.SessionRevocations
	}
	s.memOnce.Do(func() { s.memRevocations = &memoryRevocations{now: s.now, until: map[string]time.Time{}} })
	return s.memRevocations
}

// memoryRevocations is SessionRevocations for one process.
type memoryRevocations struct {
	now   func() time.Time
	mu    sync.Mutex
	until map[string]time.Time
}

func (m *memoryRevocations) RevokeSession(_ context.Context, id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, u := range m.until {
		if now.After(u) {
			delete(m.until, k) // expired anyway: forget
		}
	}
	m.until[id] = until
	return nil
}

func (m *memoryRevocations) SessionRevoked(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.until[id]
	return ok, nil
}

// tokenMatches compares a submitted admin token with --admin-token in
// constant time, whatever their lengths.
func (s *Server) tokenMatches(got string) bool {
	return secretMatches(got, s.AdminToken)
}

// secretMatches compares got with a configured secret in constant time,
// whatever their lengths; an unset secret matches nothing.
func secretMatches(got, want string) bool {
	if want == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return hmac.Equal(a[:], b[:])
}

// secureCookies: cookies are marked Secure when the public URL is https, so
// a browser never sends the session over plain HTTP.
func (s *Server) secureCookies() bool {
	return strings.HasPrefix(strings.ToLower(s.PublicURL), "https://")
}

// setSession signs the browser in with a new session: an HttpOnly,
// SameSite=Strict cookie that the browser keeps no longer than the server
// honours it.
func (s *Server) setSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.newSessionValue(), Path: "/", MaxAge: int(sessionLifetime / time.Second),
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

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}
