package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// csrf protects the admin pages' POSTs (replay, replay all, sign in, sign
// out) twice over: the browser must say the request is not cross-site
// (Sec-Fetch-Site, else Origin, checked against the public URL and the
// request's own host by net/http's CrossOriginProtection), and the form must
// carry a token that only a page of this server holds: an HMAC of the
// session under a server key.
type csrf struct {
	key []byte
	cop *http.CrossOriginProtection
}

func newCSRF(s *Server) *csrf {
	c := &csrf{cop: http.NewCrossOriginProtection()}
	if s.AdminToken != "" {
		// Derived from the token, so every replica agrees on it.
		m := hmac.New(sha256.New, []byte(s.AdminToken))
		m.Write([]byte("voicehook csrf key"))
		c.key = m.Sum(nil)
	} else {
		// Loopback-only pages: one process, a key of its own.
		c.key = make([]byte, 32)
		_, _ = rand.Read(c.key)
	}
	if o := publicOrigin(s.PublicURL); o != "" {
		// The public URL's origin is trusted even when the request's Host
		// differs (a reverse proxy that rewrites it).
		_ = c.cop.AddTrustedOrigin(o)
	}
	return c
}

// publicOrigin is scheme://host[:port] of a public URL, or "".
func publicOrigin(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// token is the form token for a session ("" for the loopback-only pages).
func (c *csrf) token(purpose, session string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("voicehook csrf\x00" + purpose + "\x00" + session))
	return hex.EncodeToString(m.Sum(nil))
}

var (
	errCrossSite = errors.New("cross-site request refused")
	errFormToken = errors.New("missing or wrong form token; reload the page and try again")
)

// check refuses a cross-site POST, then parses the form and checks its
// csrf_token against the expected one.
func (c *csrf) check(w http.ResponseWriter, r *http.Request, purpose, session string) error {
	if err := c.cop.Check(r); err != nil {
		return errCrossSite
	}
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		return errFormToken
	}
	if !hmac.Equal([]byte(r.PostForm.Get("csrf_token")), []byte(c.token(purpose, session))) {
		return errFormToken
	}
	return nil
}

// loopbackHost reports whether a Host header names this machine: localhost
// or a loopback address. Without --admin-token the pages answer only such
// hosts, so a web page that rebinds its own name to 127.0.0.1 cannot read
// them from the operator's browser.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
