package fetch

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
)

// Hosts that can never be resolved are refused as permanent by the URL
// check, before any lookup: a browser reads 2130706433 as 127.0.0.1, Go's
// resolver sends it to DNS, which never answers it, so it would only be
// retried until dead. Pure: nothing here resolves or dials.
func TestParseAudioURLHosts(t *testing.T) {
	t.Parallel()
	numeric := []string{
		"2130706433",          // 127.0.0.1 as one decimal number
		"0x7f000001",          // … as one hex number
		"0X7F000001",          // … upper case
		"017700000001",        // … as one octal number
		"0177.0.0.1",          // octal octet
		"0x7f.0.0.1",          // hex octet
		"127.1",               // two parts
		"127.0.1",             // three parts
		"127.000.000.001",     // zero-padded octets
		"1.2.3.4.5",           // five parts
		"256.1.1.1",           // octet out of range
		"127.0.0.1.",          // trailing dot
		"evil.example.0x7f",   // a name ending in a number is an IPv4 to a browser
		"evil.example.1234",   // … decimal too
		"0x",                  // an empty hex number
		"169.254.169.254.",    // metadata with a trailing dot
		"0251.0376.0251.0376", // 169.254.169.254 in octal
	}
	for _, host := range numeric {
		t.Run("refused "+host, func(t *testing.T) {
			t.Parallel()
			_, err := parseAudioURL("http://" + host + "/a.mp3?token=s3cr3t")
			assertPermanent(t, err, "audio URL host is a number in a form that never resolves")
			if !errors.Is(err, ErrUnresolvable) {
				t.Errorf("error %v does not wrap ErrUnresolvable", err)
			}
			if !strings.Contains(err.Error(), "four decimal numbers") || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("message %q: want the fix, never the query", err)
			}
		})
	}
	for _, host := range []string{"127.0.0.1", "203.0.113.7", "[::1]", "[2001:db8::1]", "audio.example.com",
		"audio.example.com.", "s3.eu-west-1.amazonaws.com", "1password.example", "x.0a", "example.123abc"} {
		t.Run("accepted "+host, func(t *testing.T) {
			t.Parallel()
			if _, err := parseAudioURL("https://" + host + "/a.mp3"); err != nil {
				t.Errorf("parseAudioURL: %v", err)
			}
		})
	}
}

// A name that resolves to no address is permanent; a resolver that fails
// or times out is not. The DNS errors are built here, as net returns them.
func TestRequestErrorDNS(t *testing.T) {
	t.Parallel()
	dialErr := func(dns *net.DNSError) error {
		return &url.Error{Op: "Get", URL: "http://audio.invalid/a.mp3?token=s3cr3t",
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: dns}}
	}
	cases := []struct {
		name      string
		dns       *net.DNSError
		permanent bool
	}{
		{"no such host", &net.DNSError{Err: "no such host", Name: "audio.invalid", IsNotFound: true}, true},
		{"resolver timed out", &net.DNSError{Err: "i/o timeout", Name: "audio.invalid", IsTimeout: true}, false},
		{"server failure", &net.DNSError{Err: "server misbehaving", Name: "audio.invalid", IsTemporary: true}, false},
		{"not found but temporary", &net.DNSError{Err: "no such host", Name: "audio.invalid", IsNotFound: true, IsTemporary: true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := requestError(context.Background(), dialErr(c.dns), "http://audio.invalid/a.mp3", time.Minute)
			if voicehook.IsPermanent(err) != c.permanent {
				t.Fatalf("requestError = %v; permanent %v, want %v", err, voicehook.IsPermanent(err), c.permanent)
			}
			if c.permanent {
				assertPermanent(t, err, "audio URL host does not resolve to any address")
				if !errors.Is(err, ErrUnresolvable) || !strings.Contains(err.Error(), "audio.invalid: no such host") {
					t.Errorf("message %q: want ErrUnresolvable and the lookup's answer", err)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("message %q quotes the query", err)
			}
		})
	}
}

// A refused private address names the flag that allows it.
func TestRequestErrorForbiddenNamesFlag(t *testing.T) {
	t.Parallel()
	err := requestError(context.Background(), &url.Error{Op: "Get", URL: "http://127.0.0.1:9/a.mp3",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: &AddressError{Reason: "loopback"}}}, "http://127.0.0.1:9/a.mp3", time.Minute)
	assertPermanent(t, err, privateAddressReason)
	if !strings.Contains(err.Error(), "--fetch-allow-private") {
		t.Errorf("message %q does not name --fetch-allow-private", err)
	}
}
