package qa

import (
	"strings"
	"unicode"
)

// The abbreviations a voice reads as words. The list is kept small and
// sure: only abbreviations with one reading. "St." is read "saint" (it may
// also be "street"; a script that means street can write it). "Ms." is
// left alone: there is no spelling of its reading a transcript would use.
var abbreviations = map[string][]string{
	"dr":  {"doctor"},
	"mr":  {"mister"},
	"mrs": {"missus"},
	"vs":  {"versus"},
	"etc": {"et", "cetera"},
	"eg":  {"for", "example"},
	"ie":  {"that", "is"},
}

// dottedAbbreviations are read as words only when written with their
// period: "st" alone is more often something else.
var dottedAbbreviations = map[string][]string{
	"st": {"saint"},
}

// abbreviation returns the reading of a word (already folded) if it is an
// abbreviation; next is the following word, since "No." is "number" only
// before a number.
func abbreviation(w, next string) ([]string, bool) {
	core := strings.TrimFunc(w, func(r rune) bool {
		return r != '.' && !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if !lettersAndDots(core) {
		return nil, false
	}
	key := strings.ReplaceAll(core, ".", "")
	dotted := strings.HasSuffix(core, ".")
	if exp, ok := abbreviations[key]; ok {
		return exp, true
	}
	if exp, ok := dottedAbbreviations[key]; ok && dotted {
		return exp, true
	}
	if key == "no" && dotted && next != "" && next[0] >= '0' && next[0] <= '9' {
		return []string{"number"}, true
	}
	return nil, false
}

// lettersAndDots reports whether s is letters with single periods after
// them: "dr.", "e.g.", "etc".
func lettersAndDots(s string) bool {
	if s == "" {
		return false
	}
	prevDot := true // a leading dot is not allowed
	for _, r := range s {
		switch {
		case r == '.':
			if prevDot {
				return false
			}
			prevDot = true
		case unicode.IsLetter(r):
			prevDot = false
		default:
			return false
		}
	}
	return true
}
