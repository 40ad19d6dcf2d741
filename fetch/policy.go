package fetch

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrForbiddenAddress is wrapped by every refusal of CheckAddr, and so by
// every download refused because its host resolved to such an address.
var ErrForbiddenAddress = errors.New("forbidden address")

// AddressError says which address was refused and why. It wraps
// ErrForbiddenAddress.
type AddressError struct {
	Addr   netip.Addr
	Reason string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("address %s is forbidden (%s)", e.Addr, e.Reason)
}

func (e *AddressError) Unwrap() error { return ErrForbiddenAddress }

// rule is one range that audio downloads may not reach.
type rule struct {
	prefix netip.Prefix
	reason string
}

// v4Rules are checked in order, so the more specific reason wins (cloud
// metadata before link-local, broadcast before reserved).
//
// Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
// 2001:db8::/32) are allowed on purpose: they are never routed on the
// internet nor assigned to internal infrastructure, so refusing them protects
// nothing, and tests can use them as "public-looking" examples.
// Benchmarking 198.18.0.0/15 is allowed too: "fake-IP" DNS proxies hand out
// addresses there for ordinary public hosts.
var v4Rules = []rule{
	{mustPrefix("169.254.169.254/32"), "cloud metadata service"},
	{mustPrefix("100.100.100.200/32"), "cloud metadata service"},
	{mustPrefix("255.255.255.255/32"), "broadcast"},
	{mustPrefix("0.0.0.0/8"), "\"this network\" (0.0.0.0/8)"},
	{mustPrefix("127.0.0.0/8"), "loopback"},
	{mustPrefix("10.0.0.0/8"), "private network"},
	{mustPrefix("172.16.0.0/12"), "private network"},
	{mustPrefix("192.168.0.0/16"), "private network"},
	{mustPrefix("169.254.0.0/16"), "link-local"},
	{mustPrefix("100.64.0.0/10"), "carrier-grade NAT (100.64.0.0/10)"},
	// IETF protocol assignments: DS-Lite, NAT64 discovery and the like,
	// never a public web server.
	{mustPrefix("192.0.0.0/24"), "IETF protocol assignment (192.0.0.0/24)"},
	{mustPrefix("224.0.0.0/4"), "multicast"},
	{mustPrefix("240.0.0.0/4"), "reserved (240.0.0.0/4)"},
}

var v6Rules = []rule{
	{mustPrefix("fd00:ec2::254/128"), "cloud metadata service"},
	{mustPrefix("::/128"), "unspecified"},
	{mustPrefix("::1/128"), "loopback"},
	{mustPrefix("fc00::/7"), "private network (unique local)"},
	{mustPrefix("fe80::/10"), "link-local"},
	// Deprecated site-local: still means "this site" to older stacks.
	{mustPrefix("fec0::/10"), "site-local"},
	{mustPrefix("ff00::/8"), "multicast"},
	{mustPrefix("100::/64"), "discard-only (100::/64)"},
	// Local-use NAT64 (RFC 8215): the embedded IPv4 sits at a prefix length
	// of the operator's choosing, so it cannot be checked; it is a site's own
	// translator anyway.
	{mustPrefix("64:ff9b:1::/48"), "local-use NAT64 (64:ff9b:1::/48)"},
}

// Prefixes whose addresses carry an IPv4 address that the traffic really
// goes to (or comes from), so that IPv4 is checked too.
var (
	ipv4CompatPrefix = mustPrefix("::/96")        // deprecated IPv4-compatible ::a.b.c.d
	nat64Prefix      = mustPrefix("64:ff9b::/96") // well-known NAT64, RFC 6052
	sixToFourPrefix  = mustPrefix("2002::/16")    // 6to4, RFC 3056: 2002:AABB:CCDD::
	teredoPrefix     = mustPrefix("2001::/32")    // Teredo, RFC 4380: client IPv4 XORed in the last 32 bits
)

// CheckAddr refuses addresses that an audio download must never reach
// because they lead into this machine, its network or its cloud provider
// (SSRF): unspecified, loopback, private, link-local, cloud metadata, CGNAT,
// multicast, broadcast, 0.0.0.0/8, reserved 240/4, and IPv6 forms that embed
// one of those IPv4 addresses (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96,
// 6to4 2002::/16, Teredo). Documentation ranges are allowed (see v4Rules).
// The refusal is an *AddressError wrapping ErrForbiddenAddress. It is a pure
// function: it never resolves or dials.
func CheckAddr(ip netip.Addr) error {
	if !ip.IsValid() {
		return &AddressError{Addr: ip, Reason: "not a valid IP address"}
	}
	// A zone (fe80::1%eth0) makes Prefix.Contains answer false for every
	// prefix; the zone never makes an address safer, so drop it.
	plain := ip.WithZone("")
	if reason, ok := forbiddenReason(plain); ok {
		return &AddressError{Addr: ip, Reason: reason}
	}
	return nil
}

func forbiddenReason(ip netip.Addr) (string, bool) {
	// ::ffff:a.b.c.d reaches a.b.c.d on dual-stack sockets.
	if ip.Is4In6() {
		v4 := ip.Unmap()
		if reason, ok := v4Reason(v4); ok {
			return "IPv4-mapped " + v4.String() + ": " + reason, true
		}
		return "", false
	}
	if ip.Is4() {
		return v4Reason(ip)
	}
	for _, r := range v6Rules {
		if r.prefix.Contains(ip) {
			return r.reason, true
		}
	}
	b := ip.As16()
	var embedded netip.Addr
	var how string
	switch {
	case ipv4CompatPrefix.Contains(ip):
		embedded, how = netip.AddrFrom4([4]byte(b[12:16])), "IPv4-compatible"
	case nat64Prefix.Contains(ip):
		embedded, how = netip.AddrFrom4([4]byte(b[12:16])), "NAT64"
	case sixToFourPrefix.Contains(ip):
		embedded, how = netip.AddrFrom4([4]byte(b[2:6])), "6to4"
	case teredoPrefix.Contains(ip):
		embedded = netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		how = "Teredo"
	default:
		return "", false
	}
	if reason, ok := v4Reason(embedded); ok {
		return how + " address embedding " + embedded.String() + ": " + reason, true
	}
	return "", false
}

func v4Reason(ip netip.Addr) (string, bool) {
	for _, r := range v4Rules {
		if r.prefix.Contains(ip) {
			return r.reason, true
		}
	}
	return "", false
}

func mustPrefix(s string) netip.Prefix {
	return netip.MustParsePrefix(s)
}
