package main

// Sizes on the command line (--max-body-bytes 32MiB). Parsing is strict on
// purpose: a size read loosely ("2XB" as 2 bytes, "1.5KiB" as 1 KiB) turns
// into every delivery answering 413, far from the typo that caused it.

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// byteSize is a flag holding a size such as 32MiB, 1.5KiB, 500KB or 1048576.
type byteSize int64

// sizeUnits are the units a size may carry, as written or all in
// lowercase (kB is the SI spelling of KB). Mixed case such as Mb is
// refused: it usually means megabits.
var sizeUnits = map[string]int64{
	"": 1, "B": 1, "b": 1,
	"KB": 1e3, "kB": 1e3, "kb": 1e3, "KiB": 1 << 10, "kib": 1 << 10,
	"MB": 1e6, "mb": 1e6, "MiB": 1 << 20, "mib": 1 << 20,
	"GB": 1e9, "gb": 1e9, "GiB": 1 << 30, "gib": 1 << 30,
}

// sizeUnitsHelp is the help's one line on how sizes are written.
const sizeUnitsHelp = "Sizes are a number and a unit: B, KB, KiB, MB, MiB, GB or GiB (1.5MiB; a plain number is bytes)."

var sizePattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]*)$`)

func (b *byteSize) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

func parseSize(in string) (int64, error) {
	wrong := fmt.Errorf("want a size like 32MiB or 500KB, got %q", in)
	m := sizePattern.FindStringSubmatch(strings.TrimSpace(in))
	if m == nil {
		return 0, wrong
	}
	mult, ok := sizeUnits[m[2]]
	if !ok || (m[2] == "" && strings.Contains(m[1], ".")) {
		return 0, wrong // "1.5" alone: bytes are whole, so a unit was forgotten
	}
	r, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, wrong
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	switch {
	case r.Sign() == 0:
		return 0, wrong
	case !r.IsInt():
		f, _ := r.Float64()
		return 0, fmt.Errorf("want a whole number of bytes, got %q (%s bytes)", in, strconv.FormatFloat(f, 'f', -1, 64))
	case !r.Num().IsInt64():
		return 0, fmt.Errorf("%q is too large", in)
	}
	return r.Num().Int64(), nil
}

// String shows the size in the largest unit it is a whole number of, so a
// default reads 32MiB, not 33554432, and reads back the same.
func (b *byteSize) String() string {
	if b == nil || *b == 0 {
		return "0"
	}
	n := int64(*b)
	for _, u := range []struct {
		name string
		mult int64
	}{{"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3}} {
		if n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// kind names the flag's value in help: --max-body-bytes size.
func (b *byteSize) kind() string { return "size" }

// Get makes byteSize a flag.Getter.
func (b *byteSize) Get() any { return int64(*b) }
