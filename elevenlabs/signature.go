package elevenlabs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
)

// HeaderName is the header ElevenLabs signs webhook deliveries in.
const HeaderName = "ElevenLabs-Signature"

// Defaults for Verifier's window. The official SDKs reject timestamps older
// than 30 minutes and accept any future one; voicehook also bounds the future
// so a leaked signature cannot be minted for later replay.
const (
	DefaultMaxAge    = 30 * time.Minute
	DefaultMaxFuture = 5 * time.Minute
)

// Verification failures. Their messages (and the details wrapped around
// them) never contain a secret or an expected signature, so they are safe to
// return to the client and to use, through Reason, as metric labels.
var (
	ErrNoSignature        = errors.New("missing " + HeaderName + " header")
	ErrMalformedSignature = errors.New("malformed " + HeaderName + " header")
	ErrStaleSignature     = errors.New("signature timestamp is too old")
	ErrFutureSignature    = errors.New("signature timestamp is in the future")
	ErrBadSignature       = errors.New("signature does not match")
	// ErrNoSecret means the verifier has no secret to check against; it fails
	// closed rather than accepting unsigned deliveries.
	ErrNoSecret = errors.New("no webhook secret configured")
)

// Reason maps a verification error to a short, fixed label for metrics and
// logs: "missing", "malformed", "stale", "future", "mismatch",
// "unconfigured", "error" for anything else and "" for nil.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoSignature):
		return "missing"
	case errors.Is(err, ErrMalformedSignature):
		return "malformed"
	case errors.Is(err, ErrStaleSignature):
		return "stale"
	case errors.Is(err, ErrFutureSignature):
		return "future"
	case errors.Is(err, ErrBadSignature):
		return "mismatch"
	case errors.Is(err, ErrNoSecret):
		return "unconfigured"
	default:
		return "error"
	}
}

// maxTimestampDigits bounds t= so that later arithmetic in seconds cannot
// overflow; 12 digits reach the year 33658.
const maxTimestampDigits = 12

// ParseHeader splits an ElevenLabs-Signature value into its timestamp, exactly
// as sent (it is part of the signed message), and the decoded v0 signatures.
// Parts are separated by "," and may carry spaces; unknown parts are ignored
// so that a future scheme can be added beside v0.
func ParseHeader(h string) (ts string, sigs [][]byte, err error) {
	if strings.TrimSpace(h) == "" {
		return "", nil, ErrNoSignature
	}
	seenT := false
	for part := range strings.SplitSeq(h, ",") {
		part = strings.TrimSpace(part)
		switch {
		case strings.HasPrefix(part, "t="):
			// Two timestamps would make the signed message ambiguous.
			if seenT {
				return "", nil, fmt.Errorf("%w: more than one t= part", ErrMalformedSignature)
			}
			seenT = true
			ts = part[len("t="):]
			if !isDigits(ts) || len(ts) > maxTimestampDigits {
				return "", nil, fmt.Errorf("%w: t= is not a unix time in seconds", ErrMalformedSignature)
			}
		case strings.HasPrefix(part, "v0="):
			sig, decErr := hex.DecodeString(part[len("v0="):])
			if decErr != nil || len(sig) != sha256.Size {
				return "", nil, fmt.Errorf("%w: v0= is not a hex HMAC-SHA256", ErrMalformedSignature)
			}
			sigs = append(sigs, sig)
		}
	}
	if !seenT {
		return "", nil, fmt.Errorf("%w: no t= part", ErrMalformedSignature)
	}
	if len(sigs) == 0 {
		return "", nil, fmt.Errorf("%w: no v0= part", ErrMalformedSignature)
	}
	return ts, sigs, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Sign returns the full header value ElevenLabs would send for body at t.
// Tests and the replay tooling use it; the key is the secret's bytes as
// given, "wsec_" prefix included, as in the official SDKs.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v0=" + hex.EncodeToString(mac(secret, ts, body))
}

// mac computes HMAC-SHA256(secret, ts + "." + body) without copying body.
func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verifier checks ElevenLabs-Signature headers.
type Verifier struct {
	// Secrets are all accepted, so a secret can be rotated without dropping
	// deliveries signed with the old one. Blank entries are skipped.
	Secrets []string
	// Clock defaults to the system clock.
	Clock voicehook.Clock
	// MaxAge is how old a timestamp may be (default DefaultMaxAge).
	MaxAge time.Duration
	// MaxFuture is how far ahead a timestamp may be (default
	// DefaultMaxFuture), for senders whose clock runs fast.
	MaxFuture time.Duration
}

// Verify reports whether header is a valid signature of body by one of
// v.Secrets, made within the allowed window. Errors wrap one of the Err*
// sentinels above.
func (v *Verifier) Verify(header string, body []byte) error {
	c, err := v.Begin(header)
	if err != nil {
		return err
	}
	_, _ = c.Write(body)
	return c.Verify()
}

// Begin checks what the header alone can prove (its form, its window, that
// a secret is configured) and returns a Check that hashes the body as it is
// written: a server can refuse a stale or malformed header before reading a
// byte of the body, and verify a large body while it streams in.
func (v *Verifier) Begin(header string) (*Check, error) {
	ts, sigs, err := ParseHeader(header)
	if err != nil {
		return nil, err
	}
	// The window is checked before any HMAC so that replaying an old header
	// on a many-megabyte body costs no hashing.
	if err := v.checkWindow(ts); err != nil {
		return nil, err
	}
	c := &Check{sigs: sigs}
	for _, secret := range v.Secrets {
		// Surrounding spaces come from lists like "a, b" in configuration;
		// no real secret has them.
		secret = strings.TrimSpace(secret)
		if secret == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		c.macs = append(c.macs, m)
	}
	if len(c.macs) == 0 {
		return nil, ErrNoSecret
	}
	return c, nil
}

// Check is a signature check under way: write the body to it, then Verify.
type Check struct {
	sigs [][]byte
	macs []hash.Hash // one per secret
}

// Write hashes the next part of the body; it never fails.
func (c *Check) Write(p []byte) (int, error) {
	for _, m := range c.macs {
		m.Write(p)
	}
	return len(p), nil
}

// Verify reports whether the body written so far is what the header signed.
func (c *Check) Verify() error {
	for _, m := range c.macs {
		want := m.Sum(nil)
		for _, sig := range c.sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return ErrBadSignature
}

func (v *Verifier) checkWindow(ts string) error {
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil { // unreachable after ParseHeader; kept for safety
		return fmt.Errorf("%w: t= is not a unix time in seconds", ErrMalformedSignature)
	}
	clock := v.Clock
	if clock == nil {
		clock = voicehook.SystemClock{}
	}
	maxAge, maxFuture := v.MaxAge, v.MaxFuture
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if maxFuture <= 0 {
		maxFuture = DefaultMaxFuture
	}
	// Whole seconds on both sides: t has no finer resolution, and t is at
	// most 12 digits, so the subtraction cannot overflow.
	age := clock.Now().Unix() - t
	switch {
	case age > int64(maxAge/time.Second):
		return fmt.Errorf("%w: signed %ds ago, limit %s", ErrStaleSignature, age, maxAge)
	case -age > int64(maxFuture/time.Second):
		return fmt.Errorf("%w: signed %ds ahead, limit %s", ErrFutureSignature, -age, maxFuture)
	}
	return nil
}
