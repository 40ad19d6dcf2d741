package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
)

// Tokens authenticates callback URLs: a token is an HMAC of the segment id
// under a server key, so it cannot be forged or moved to another segment.
type Tokens struct{ key []byte }

// NewTokens uses key (at least 16 bytes of secret).
func NewTokens(key []byte) *Tokens { return &Tokens{key: key} }

// For returns the token of a segment.
func (t *Tokens) For(segmentID string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("voicehook callback\x00" + segmentID))
	return hex.EncodeToString(m.Sum(nil))[:40]
}

// Valid checks a token in constant time.
func (t *Tokens) Valid(segmentID, token string) bool {
	return hmac.Equal([]byte(t.For(segmentID)), []byte(token))
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
