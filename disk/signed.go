package disk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// SignedURL returns a link to key that works until ttl from now, even when the
// handler requires signatures: publicURL/media/<key>?exp=<unix>&sig=<hex>,
// where sig is HMAC-SHA256(signingKey, key + "\n" + exp). The NCA backend
// hands such a link to NCA so it can pull a file without media being public.
func (s *Storage) SignedURL(key string, ttl time.Duration) string {
	at := s.clock.Now().Add(ttl)
	exp := at.Unix()
	if at.Nanosecond() > 0 {
		exp++ // round up so that a sub-second ttl is not already expired
	}
	e := strconv.FormatInt(exp, 10)
	return s.URL(key) + "?exp=" + e + "&sig=" + s.sign(key, e)
}

func (s *Storage) sign(key, exp string) string {
	mac := hmac.New(sha256.New, s.signingKey)
	mac.Write([]byte(key + "\n" + exp))
	return hex.EncodeToString(mac.Sum(nil))
}

// checkSignature says why q does not carry a valid, unexpired signature for
// key, or returns nil. Its messages are shown to whoever follows the link.
func (s *Storage) checkSignature(key string, q url.Values) error {
	exp, sig := q.Get("exp"), q.Get("sig")
	if exp == "" || sig == "" {
		return errors.New("this media requires a signed link (exp and sig query parameters); ask voicehook for a fresh one")
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return errors.New("the media link's exp parameter is not a unix time")
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return errors.New("the media link's sig parameter is not hex")
	}
	want, _ := hex.DecodeString(s.sign(key, exp))
	// Check the signature before the expiry so that a forged link learns
	// nothing from the message it gets back.
	if !hmac.Equal(got, want) {
		return errors.New("the media link's signature does not match (altered link, or signed with another key)")
	}
	if now := s.clock.Now(); now.Unix() > unix {
		return fmt.Errorf("the media link expired at %s; ask voicehook for a fresh one", time.Unix(unix, 0).UTC().Format(time.RFC3339))
	}
	return nil
}
