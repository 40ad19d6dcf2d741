package elevenlabs_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/voicehooktest"
)

// The official SDKs' test vectors.
var signatureVectors = []struct {
	secret, body, want string
}{
	{
		secret: "test_secret",
		body:   `{"event_type": "speech.completed", "id": "123456"}`,
		want:   "t=1600000000,v0=f8a0d1dc33ee963cb54d2f31514555995e93313c9d2042c030adbb82b87fae13",
	},
	{
		secret: "webhook_secret",
		body:   `{"eventType":"test_event","data":{"id":"123"}}`,
		want:   "t=1600000000,v0=ea402a10212866fd631bba39e6c765831ac23d3eca6fb0bd9d79a43367554fa9",
	},
}

var vectorTime = time.Unix(1600000000, 0)

func TestSignVectors(t *testing.T) {
	t.Parallel()
	for _, v := range signatureVectors {
		if got := elevenlabs.Sign(v.secret, vectorTime, []byte(v.body)); got != v.want {
			t.Errorf("Sign(%q) = %q, want %q", v.secret, got, v.want)
		}
		ver := &elevenlabs.Verifier{Secrets: []string{v.secret}, Clock: voicehooktest.NewClockAt(vectorTime.Add(time.Minute))}
		if err := ver.Verify(v.want, []byte(v.body)); err != nil {
			t.Errorf("Verify(vector %q) = %v", v.secret, err)
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	const secret = "wsec_current"
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"post_call_audio","data":{"conversation_id":"c1"}}`)
	signed := elevenlabs.Sign(secret, now, body)
	sig := signed[strings.Index(signed, "v0="):]
	at := func(d time.Duration) string { return elevenlabs.Sign(secret, now.Add(d), body) }
	unix := strconv.FormatInt(now.Unix(), 10)

	tests := []struct {
		name    string
		secrets []string
		header  string
		body    []byte
		want    error
		reason  string
	}{
		{name: "valid", header: signed},
		{name: "valid with spaces and unknown parts", header: " t=" + unix + " , v1=zz, " + sig + " "},
		{name: "second v0 matches", header: "t=" + unix + ",v0=" + strings.Repeat("00", 32) + "," + sig},
		{name: "rotated secret", secrets: []string{"wsec_new", secret}, header: signed},
		{name: "secret with spaces from a list", secrets: []string{" " + secret + " "}, header: signed},
		{name: "near future", header: at(4 * time.Minute)},
		{name: "just inside max age", header: at(-30 * time.Minute)},
		{name: "missing header", header: "", want: elevenlabs.ErrNoSignature, reason: "missing"},
		{name: "blank header", header: "  ", want: elevenlabs.ErrNoSignature, reason: "missing"},
		{name: "no t", header: sig, want: elevenlabs.ErrMalformedSignature, reason: "malformed"},
		{name: "no v0", header: "t=" + unix, want: elevenlabs.ErrMalformedSignature, reason: "malformed"},
		{name: "non-numeric t", header: "t=abc," + sig, want: elevenlabs.ErrMalformedSignature, reason: "malformed"},
		{name: "negative t", header: "t=-5," + sig, want: elevenlabs.ErrMalformedSignature, reason: "malformed"},
		{name: "huge t", header: "t=99999999999999999999," + sig, want: elevenlabs.ErrMalformedSignature, reason: "malformed"},
		{name: "two t", header: "t=" + unix + ",t=" + unix + "," + sig, want: elevenlabs.ErrMalformedSignature, reason: "malformed"},
		{name: "bad hex", header: "t=" + unix + ",v0=xyz", want: elevenlabs.ErrMalformedSignature, reason: "malformed"},
		{name: "short hex", header: "t=" + unix + ",v0=abcd", want: elevenlabs.ErrMalformedSignature, reason: "malformed"},
		{name: "wrong secret", secrets: []string{"wsec_other"}, header: signed, want: elevenlabs.ErrBadSignature, reason: "mismatch"},
		{name: "stale", header: at(-31 * time.Minute), want: elevenlabs.ErrStaleSignature, reason: "stale"},
		{name: "far future", header: at(6 * time.Minute), want: elevenlabs.ErrFutureSignature, reason: "future"},
		{name: "body tampered", header: signed, body: []byte(`{"type":"post_call_audio","data":{"conversation_id":"c2"}}`), want: elevenlabs.ErrBadSignature, reason: "mismatch"},
		{name: "timestamp changed", header: "t=" + strconv.FormatInt(now.Unix()+1, 10) + "," + sig, want: elevenlabs.ErrBadSignature, reason: "mismatch"},
		{name: "no secrets configured", secrets: []string{"", " "}, header: signed, want: elevenlabs.ErrNoSecret, reason: "unconfigured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			secrets := tt.secrets
			if secrets == nil {
				secrets = []string{secret}
			}
			b := tt.body
			if b == nil {
				b = body
			}
			v := &elevenlabs.Verifier{Secrets: secrets, Clock: voicehooktest.NewClockAt(now)}
			err := v.Verify(tt.header, b)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if got := elevenlabs.Reason(err); got != tt.reason {
				t.Errorf("Reason = %q, want %q", got, tt.reason)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

func TestVerifyCustomWindow(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	body := []byte("x")
	v := &elevenlabs.Verifier{Secrets: []string{"s"}, Clock: voicehooktest.NewClockAt(now), MaxAge: time.Minute, MaxFuture: time.Second}
	if err := v.Verify(elevenlabs.Sign("s", now.Add(-2*time.Minute), body), body); !errors.Is(err, elevenlabs.ErrStaleSignature) {
		t.Errorf("2m old with MaxAge 1m: %v", err)
	}
	if err := v.Verify(elevenlabs.Sign("s", now.Add(2*time.Second), body), body); !errors.Is(err, elevenlabs.ErrFutureSignature) {
		t.Errorf("2s ahead with MaxFuture 1s: %v", err)
	}
}

func TestParseHeader(t *testing.T) {
	t.Parallel()
	ts, sigs, err := elevenlabs.ParseHeader(signatureVectors[0].want)
	if err != nil || ts != "1600000000" || len(sigs) != 1 || len(sigs[0]) != 32 {
		t.Fatalf("ParseHeader = %q, %d sigs, %v", ts, len(sigs), err)
	}
}

func TestReason(t *testing.T) {
	t.Parallel()
	if got := elevenlabs.Reason(nil); got != "" {
		t.Errorf("Reason(nil) = %q", got)
	}
	if got := elevenlabs.Reason(errors.New("x")); got != "error" {
		t.Errorf("Reason(other) = %q", got)
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, v := range signatureVectors {
		f.Add(v.want, []byte(v.body), v.secret)
	}
	f.Add("", []byte{}, "")
	f.Add("t=,v0=", []byte("{}"), "wsec_x")
	f.Add("t=1,t=2,v0=00", []byte(nil), "s")
	f.Fuzz(func(t *testing.T, header string, body []byte, secret string) {
		ts, sigs, err := elevenlabs.ParseHeader(header)
		if err == nil && (ts == "" || len(sigs) == 0) {
			t.Fatalf("ParseHeader(%q) succeeded with ts %q and %d sigs", header, ts, len(sigs))
		}
		v := &elevenlabs.Verifier{Secrets: []string{secret}, Clock: voicehooktest.NewClockAt(vectorTime)}
		err = v.Verify(header, body)
		if err != nil && elevenlabs.Reason(err) == "error" {
			t.Fatalf("Verify returned an unlabelled error: %v", err)
		}
		// Round trip: whatever the body and secret, a fresh signature verifies.
		signed := elevenlabs.Sign(secret, vectorTime, body)
		err = v.Verify(signed, body)
		if strings.TrimSpace(secret) == "" {
			if !errors.Is(err, elevenlabs.ErrNoSecret) {
				t.Fatalf("blank secret: Verify = %v", err)
			}
			return
		}
		if strings.TrimSpace(secret) != secret {
			return // the verifier trims; Sign does not
		}
		if err != nil {
			t.Fatalf("Verify(Sign(%q, body)) = %v", secret, err)
		}
	})
}

// TestBeginStreams: a check begun from the header alone refuses what the
// header cannot pass, and accepts exactly the signed body however it is cut
// into writes.
func TestBeginStreams(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	v := &elevenlabs.Verifier{Secrets: []string{"old", "new"}, Clock: voicehooktest.NewClockAt(now)}
	body := []byte(`{"type":"post_call_transcription","data":{"conversation_id":"c1"}}`)
	header := elevenlabs.Sign("new", now, body)

	for _, cut := range []int{0, 1, 7, len(body) - 1, len(body)} {
		c, err := v.Begin(header)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		_, _ = c.Write(body[:cut])
		_, _ = c.Write(body[cut:])
		if err := c.Verify(); err != nil {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	c, _ := v.Begin(header)
	_, _ = c.Write(body[:len(body)-1])
	if err := c.Verify(); !errors.Is(err, elevenlabs.ErrBadSignature) {
		t.Errorf("truncated body: %v, want ErrBadSignature", err)
	}

	for name, tc := range map[string]struct {
		v      *elevenlabs.Verifier
		header string
		want   error
	}{
		"stale":     {v, elevenlabs.Sign("new", now.Add(-time.Hour), body), elevenlabs.ErrStaleSignature},
		"future":    {v, elevenlabs.Sign("new", now.Add(time.Hour), body), elevenlabs.ErrFutureSignature},
		"malformed": {v, "t=abc,v0=00", elevenlabs.ErrMalformedSignature},
		"missing":   {v, "", elevenlabs.ErrNoSignature},
		"no secret": {&elevenlabs.Verifier{Secrets: []string{" "}, Clock: voicehooktest.NewClockAt(now)}, header, elevenlabs.ErrNoSecret},
	} {
		if _, err := tc.v.Begin(tc.header); !errors.Is(err, tc.want) {
			t.Errorf("%s: Begin = %v, want %v", name, err, tc.want)
		}
	}
}
