package fetch

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	// reason is the AddressError's Reason, "" for an allowed address.
	tests := []struct {
		addr   string
		reason string
	}{
		// IPv4 refused.
		{"0.0.0.0", `"this network" (0.0.0.0/8)`},
		{"0.1.2.3", `"this network" (0.0.0.0/8)`},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"10.0.0.1", "private network"},
		{"10.255.255.255", "private network"},
		{"172.16.0.1", "private network"},
		{"172.31.255.255", "private network"},
		{"192.168.1.1", "private network"},
		{"169.254.1.1", "link-local"},
		{"169.254.169.254", "cloud metadata service"},
		{"100.100.100.200", "cloud metadata service"},
		{"100.64.0.1", "carrier-grade NAT (100.64.0.0/10)"},
		{"100.127.255.255", "carrier-grade NAT (100.64.0.0/10)"},
		{"192.0.0.8", "IETF protocol assignment (192.0.0.0/24)"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved (240.0.0.0/4)"},
		{"254.1.2.3", "reserved (240.0.0.0/4)"},

		// IPv6 refused.
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"fc00::1", "private network (unique local)"},
		{"fd12:3456:789a::1", "private network (unique local)"},
		{"fd00:ec2::254", "cloud metadata service"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"febf:ffff::1", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"100::1", "discard-only (100::/64)"},
		{"64:ff9b:1::a00:1", "local-use NAT64 (64:ff9b:1::/48)"},

		// IPv6 forms embedding a refused IPv4.
		{"::ffff:127.0.0.1", "IPv4-mapped 127.0.0.1: loopback"},
		{"::ffff:10.0.0.1", "IPv4-mapped 10.0.0.1: private network"},
		{"::ffff:169.254.169.254", "IPv4-mapped 169.254.169.254: cloud metadata service"},
		{"::ffff:0.0.0.0", `IPv4-mapped 0.0.0.0: "this network" (0.0.0.0/8)`},
		{"::127.0.0.1", "IPv4-compatible address embedding 127.0.0.1: loopback"},
		{"::10.0.0.1", "IPv4-compatible address embedding 10.0.0.1: private network"},
		{"64:ff9b::7f00:1", "NAT64 address embedding 127.0.0.1: loopback"},
		{"64:ff9b::a9fe:a9fe", "NAT64 address embedding 169.254.169.254: cloud metadata service"},
		{"64:ff9b::c0a8:101", "NAT64 address embedding 192.168.1.1: private network"},
		{"2002:7f00:1::", "6to4 address embedding 127.0.0.1: loopback"},
		{"2002:a00:1::1", "6to4 address embedding 10.0.0.1: private network"},
		{"2002:a9fe:a9fe::", "6to4 address embedding 169.254.169.254: cloud metadata service"},
		// Teredo XORs the client address: 0x80fffffe is 127.0.0.1.
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo address embedding 127.0.0.1: loopback"},

		// Allowed: public addresses, just outside the refused ranges.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.215.14", ""},
		{"1.0.0.0", ""},
		{"9.255.255.255", ""},
		{"11.0.0.0", ""},
		{"126.255.255.255", ""},
		{"128.0.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.167.255.255", ""},
		{"192.169.0.0", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"169.253.255.255", ""},
		{"169.255.0.0", ""},
		{"223.255.255.255", ""},
		{"198.18.0.1", ""},
		{"2001:4860:4860::8888", ""},
		{"2606:4700:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
		{"::8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
		{"2002:808:808::1", ""},
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", ""}, // Teredo client 8.8.8.8
		{"fbff:ffff::1", ""},
		// Documentation ranges: allowed by decision (see v4Rules).
		{"192.0.2.1", ""},
		{"198.51.100.7", ""},
		{"203.0.113.9", ""},
		{"2001:db8::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			ip := netip.MustParseAddr(tt.addr)
			err := CheckAddr(ip)
			got := ""
			if err != nil {
				var ae *AddressError
				if !errors.As(err, &ae) || !errors.Is(err, ErrForbiddenAddress) {
					t.Fatalf("CheckAddr(%s) = %v, want an *AddressError wrapping ErrForbiddenAddress", ip, err)
				}
				if ae.Addr != ip {
					t.Errorf("AddressError.Addr = %s, want %s", ae.Addr, ip)
				}
				got = ae.Reason
			}
			if diff := cmp.Diff(tt.reason, got); diff != "" {
				t.Errorf("CheckAddr(%s) reason (-want +got):\n%s", ip, diff)
			}
		})
	}
}

func TestCheckAddrInvalid(t *testing.T) {
	t.Parallel()
	if err := CheckAddr(netip.Addr{}); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("CheckAddr(zero Addr) = %v, want ErrForbiddenAddress", err)
	}
}

func TestCheckAddrErrorMessage(t *testing.T) {
	t.Parallel()
	err := CheckAddr(netip.MustParseAddr("169.254.169.254"))
	want := "address 169.254.169.254 is forbidden (cloud metadata service)"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

// checkDial is what the dialer calls with the resolved address; it is tested
// here as the pure function it is (no connection is made).
func TestCheckDial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		address   string
		forbidden bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:443", true},
		{"10.0.0.1:8080", true},
		{"169.254.169.254:80", true},
		{"[fd00:ec2::254]:80", true},
		{"[fe80::1%eth0]:80", true},
		{"[::ffff:192.168.0.1]:80", true},
		{"not-an-address", true},
		{"8.8.8.8:443", false},
		{"[2606:4700:4700::1111]:443", false},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			t.Parallel()
			err := checkDial("tcp", tt.address, nil)
			if got := errors.Is(err, ErrForbiddenAddress); got != tt.forbidden {
				t.Errorf("checkDial(%q) = %v, want forbidden=%v", tt.address, err, tt.forbidden)
			}
		})
	}
}
