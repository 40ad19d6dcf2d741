package web

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/voicehook/voicehook/voicehooktest"
)

// signIn goes through the sign-in form as a browser would and returns the
// session cookie it was given.
func (ts *testServer) signIn(t *testing.T) *http.Cookie {
	t.Helper()
	w := ts.do("GET", "/login", reqOpts{})
	var nonce *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == loginCookie {
			nonce = c
		}
	}
	if nonce == nil {
		t.Fatalf("login form set no login cookie: %d", w.Code)
	}
	w = ts.do("POST", "/login", reqOpts{cookies: []*http.Cookie{nonce}, headers: map[string]string{"Sec-Fetch-Site": "same-origin"},
		form: url.Values{"csrf_token": {csrfFrom(t, w.Body.String())}, "token": {testToken}}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign in: %d\n%.300s", w.Code, w.Body.String())
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return c
		}
	}
	t.Fatal("sign in set no session cookie")
	return nil
}

// signedIn reports whether a page answers the cookie (rather than sending
// the browser to sign in).
func (ts *testServer) signedIn(c *http.Cookie) bool {
	return ts.do("GET", "/events", reqOpts{cookies: []*http.Cookie{c}}).Code == http.StatusOK
}

func (ts *testServer) signOut(t *testing.T, c *http.Cookie) {
	t.Helper()
	page := ts.do("GET", "/", reqOpts{cookies: []*http.Cookie{c}}).Body.String()
	w := ts.do("POST", "/logout", reqOpts{cookies: []*http.Cookie{c}, headers: map[string]string{"Sec-Fetch-Site": "same-origin"},
		form: url.Values{"csrf_token": {csrfFrom(t, page)}}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Fatalf("sign out: %d %s", w.Code, w.Header().Get("Location"))
	}
}

// Every sign-in gets a session of its own, and signing out ends that
// session on the server: a copy of the cookie kept from before stops
// working, while another browser's session goes on.
func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testToken, "http://localhost:8080")
	first, second := ts.signIn(t), ts.signIn(t)
	if first.Value == second.Value {
		t.Fatalf("two sign-ins got the same session cookie %q", first.Value)
	}
	if !ts.signedIn(first) || !ts.signedIn(second) {
		t.Fatal("a fresh session is refused")
	}
	ts.signOut(t, first)
	if ts.signedIn(first) {
		t.Error("a copy of a signed-out session cookie still opens the pages")
	}
	if w := ts.do("GET", "/api/events", reqOpts{cookies: []*http.Cookie{first}}); w.Code != http.StatusUnauthorized {
		t.Errorf("a signed-out session cookie on the API: %d, want 401", w.Code)
	}
	if !ts.signedIn(second) {
		t.Error("signing out one browser signed out another")
	}
}

// A session lasts sessionLifetime from sign-in, however it is used.
func TestSessionExpires(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testToken, "http://localhost:8080")
	clock := ts.srv.Clock.(*voicehooktest.Clock)
	c := ts.signIn(t)
	clock.Advance(11 * time.Hour)
	if !ts.signedIn(c) {
		t.Fatal("a session 11 hours old is refused")
	}
	clock.Advance(time.Hour + time.Second)
	if ts.signedIn(c) {
		t.Error("a session over 12 hours old still opens the pages")
	}
}

// A session cookie is the server's own: changing any part of it, or the
// admin token, refuses it.
func TestSessionCookieTampered(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testToken, "http://localhost:8080")
	c := ts.signIn(t)
	b := []byte(c.Value)
	for i := range b {
		forged := append([]byte(nil), b...)
		forged[i] ^= 1
		if ts.signedIn(&http.Cookie{Name: sessionCookie, Value: string(forged)}) {
			t.Fatalf("a cookie changed at byte %d is accepted: %q", i, forged)
		}
	}
	other := newTestServer(t, testToken+"-rotated", "http://localhost:8080")
	if other.signedIn(c) {
		t.Error("a session survives a change of the admin token")
	}
}

// /metrics answers only with a bearer token once one is configured.
func TestMetricsNeedToken(t *testing.T) {
	t.Parallel()
	open := newTestServer(t, "", "")
	if w := open.do("GET", "/metrics", reqOpts{remote: "203.0.113.5:4000"}); w.Code != http.StatusOK {
		t.Errorf("no token configured: /metrics = %d, want 200", w.Code)
	}
	ts := newTestServer(t, testToken, "")
	cases := []struct {
		name string
		auth string
		want int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"admin token", "Bearer " + testToken, http.StatusOK},
		{"scheme in lower case", "bearer " + testToken, http.StatusOK},
		{"token as the scheme", testToken, http.StatusUnauthorized},
	}
	for _, c := range cases {
		h := map[string]string{}
		if c.auth != "" {
			h["Authorization"] = c.auth
		}
		if w := ts.do("GET", "/metrics", reqOpts{headers: h}); w.Code != c.want {
			t.Errorf("%s: /metrics = %d, want %d", c.name, w.Code, c.want)
		}
	}
}

// Replicas share no memory: a session sealed by one is accepted by another
// with the same admin token, and a sign-out recorded in the shared
// revocations (the SQL store in production) is honoured by both.
func TestSessionAcrossReplicas(t *testing.T) {
	t.Parallel()
	a, b := newTestServer(t, testToken, "http://localhost:8080"), newTestServer(t, testToken, "http://localhost:8080")
	shared := &memoryRevocations{now: a.srv.now, until: map[string]time.Time{}}
	a.srv.SessionRevocations, b.srv.SessionRevocations = shared, shared
	c := a.signIn(t)
	if !b.signedIn(c) {
		t.Fatal("a session from one replica is refused by another")
	}
	b.signOut(t, c)
	if a.signedIn(c) {
		t.Error("a session signed out on one replica still works on another")
	}
}
