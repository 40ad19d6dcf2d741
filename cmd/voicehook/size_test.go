package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestByteSizeParsesStrictly: sizes are a number (decimals allowed) and
// one of the units B, KB, KiB, MB, MiB, GB, GiB (or those all in lowercase,
// or kB); anything else is refused rather than read as something else.
func TestByteSizeParsesStrictly(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want int64
	}{
		{"1048576", 1 << 20},
		{"32MiB", 32 << 20},
		{"500KB", 500_000},
		{"1.5KiB", 1536},
		{"0.5MB", 500_000},
		{"2GiB", 2 << 30},
		{"1GB", 1_000_000_000},
		{"7B", 7},
		{"12 MiB", 12 << 20},
		{" 3KB ", 3000},
		{"2kb", 2000}, // all-lowercase units are accepted: kb = KB
		{"2kib", 2048},
		{"2mb", 2_000_000},
		{"2mib", 2 << 20},
		{"1gb", 1_000_000_000},
		{"1gib", 1 << 30},
		{"2kB", 2000},
		{"10b", 10},
	}
	for _, c := range good {
		var b byteSize
		if err := b.Set(c.in); err != nil || int64(b) != c.want {
			t.Errorf("Set(%q) = %d, %v; want %d", c.in, int64(b), err, c.want)
		}
	}
	bad := []struct{ in, want string }{
		{"2XB", `want a size like 32MiB or 500KB, got "2XB"`},
		{"1.5", `want a size like 32MiB or 500KB, got "1.5"`},
		{"-3MB", `want a size like 32MiB or 500KB, got "-3MB"`},
		{"", `want a size like 32MiB or 500KB, got ""`},
		{"MiB", `want a size like 32MiB or 500KB, got "MiB"`},
		{"0", `want a size like 32MiB or 500KB, got "0"`},
		{"0MiB", `want a size like 32MiB or 500KB, got "0MiB"`},
		{"32Mb", `want a size like 32MiB or 500KB, got "32Mb"`}, // megabits, or a typo: refused
		{"32MIB", `want a size like 32MiB or 500KB, got "32MIB"`},
		{"1e6", `want a size like 32MiB or 500KB, got "1e6"`},
		{".5MB", `want a size like 32MiB or 500KB, got ".5MB"`},
		{"1,5MB", `want a size like 32MiB or 500KB, got "1,5MB"`},
		{"0x10", `want a size like 32MiB or 500KB, got "0x10"`},
		{"1.3B", `want a whole number of bytes, got "1.3B" (1.3 bytes)`},
		{"0.1KiB", `want a whole number of bytes, got "0.1KiB" (102.4 bytes)`},
		{"9000000000GiB", `"9000000000GiB" is too large`},
		{"99999999999999999999", `"99999999999999999999" is too large`},
	}
	for _, c := range bad {
		b := byteSize(42)
		err := b.Set(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("Set(%q) = %v, want error %q", c.in, err, c.want)
		}
		if b != 42 {
			t.Errorf("Set(%q) changed the value to %d", c.in, int64(b))
		}
	}
}

// TestByteSizeString: sizes show as people write them, and what String
// shows reads back to the same size.
func TestByteSizeString(t *testing.T) {
	t.Parallel()
	cases := map[int64]string{
		32 << 20:      "32MiB",
		256 << 20:     "256MiB",
		2 << 30:       "2GiB",
		1536:          "1536B",
		1024:          "1KiB",
		500_000:       "500KB",
		1_000_000_000: "1GB",
		7:             "7B",
		0:             "0",
		3 << 40:       "3072GiB",
	}
	got := map[int64]string{}
	for n := range cases {
		b := byteSize(n)
		got[n] = b.String()
		if n > 0 {
			var back byteSize
			if err := back.Set(b.String()); err != nil || back != b {
				t.Errorf("%d shows as %q, which reads back as %d, %v", n, b.String(), int64(back), err)
			}
		}
	}
	if diff := cmp.Diff(cases, got); diff != "" {
		t.Fatalf("String (-want +got):\n%s", diff)
	}
	var nilSize *byteSize
	if s := nilSize.String(); s != "0" {
		t.Fatalf("nil String = %q", s)
	}
	if !strings.Contains(sizeUnitsHelp, "KiB") {
		t.Fatal("sizeUnitsHelp does not list the units")
	}
}
