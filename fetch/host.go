package fetch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/voicehook/voicehook"
)

// ErrUnresolvable is wrapped by the permanent error for an audio URL whose
// host can never be resolved: a number in a form Go's resolver does not
// read as an address (so it asks DNS, which never answers it), or a name
// DNS says does not exist. Retrying cannot help either.
var ErrUnresolvable = errors.New("host never resolves")

// AllowPrivateFlag is the voicehook flag that turns off the address policy;
// refusals name it, so the operator who serves audio on the local network
// knows what to set.
const AllowPrivateFlag = "--fetch-allow-private"

// privateAddressReason is the reason of a download refused by the address
// policy.
const privateAddressReason = "audio URL points to a private or internal address (" + AllowPrivateFlag + " allows it)"

// checkHost refuses, before any lookup, a host that is a number in any
// form but the canonical one: four decimal octets, or an IPv6 literal. A
// browser (WHATWG URL Standard) reads a host whose last label is a number,
// such as 2130706433, 0x7f000001, 0177.0.0.1 or 127.1, as an IPv4 address;
// Go does not, and sends it to DNS, where no such name can exist (no
// top-level domain is numeric). So it would fail as "no such host" on
// every retry until the event went dead. It is a pure function.
func checkHost(host string) error {
	if strings.Contains(host, ":") {
		return nil // an IPv6 literal: url.Parse has checked the brackets
	}
	if !endsInNumber(host) {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		return nil // canonical dotted decimal; the dialler checks the address
	}
	return voicehook.Permanent("audio URL host is a number in a form that never resolves",
		fmt.Errorf("host %q: write an IPv4 address as four decimal numbers (e.g. 192.0.2.1), or use a name: %w", host, ErrUnresolvable))
}

// endsInNumber is the WHATWG "ends in a number" check: the last label
// (ignoring one trailing dot) is all decimal digits, or 0x followed by hex
// digits.
func endsInNumber(host string) bool {
	labels := strings.Split(host, ".")
	if len(labels) > 1 && labels[len(labels)-1] == "" {
		labels = labels[:len(labels)-1]
	}
	last := labels[len(labels)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	if len(last) >= 2 && (last[:2] == "0x" || last[:2] == "0X") {
		return strings.Trim(last[2:], "0123456789abcdefABCDEF") == ""
	}
	return false
}

// notFoundError makes a lookup that found no address a permanent error:
// the name does not exist, or has no A or AAAA record. A resolver that
// timed out or failed (IsTimeout, IsTemporary) says nothing about the name,
// so that stays a plain, retried error. ok is false when err is no such
// lookup.
func notFoundError(err error, where string) (_ error, ok bool) {
	var dns *net.DNSError
	if !errors.As(err, &dns) || !dns.IsNotFound || dns.IsTimeout || dns.IsTemporary {
		return nil, false
	}
	return voicehook.Permanent("audio URL host does not resolve to any address",
		fmt.Errorf("%s: %w: %w", where, dns, ErrUnresolvable)), true
}
