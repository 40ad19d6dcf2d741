package qa

// Numbers written with digits become the words a voice reads them as, so
// that "21" in a transcript meets "twenty-one" in a script. The canonical
// form is the full English cardinal: "2024" is "two thousand twenty four"
// (a year read as "twenty twenty-four" does not match), "1500" is "one
// thousand five hundred" (not "fifteen hundred"). "and" inside spelled-out
// numbers is dropped elsewhere (dropNumberAnd), so "one hundred and five"
// meets "105".

import (
	"strconv"
	"strings"
)

var smallNumbers = [...]string{
	"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
	"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
	"seventeen", "eighteen", "nineteen",
}

var tensWords = [...]string{
	"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
}

var scales = [...]struct {
	value uint64
	name  string
}{
	{1_000_000_000_000, "trillion"},
	{1_000_000_000, "billion"},
	{1_000_000, "million"},
	{1_000, "thousand"},
}

// maxCardinal is the largest number read as a cardinal; longer digit
// strings (account numbers, codes) are read digit by digit.
const maxCardinal = 999_999_999_999_999

// cardinal returns the words of n (n <= maxCardinal).
func cardinal(n uint64) []string {
	if n == 0 {
		return []string{"zero"}
	}
	var out []string
	for _, s := range scales {
		if n >= s.value {
			out = below1000(n/s.value, out)
			out = append(out, s.name)
			n %= s.value
		}
	}
	if n > 0 {
		out = below1000(n, out)
	}
	return out
}

// below1000 appends the words of 0 < n < 1000.
func below1000(n uint64, out []string) []string {
	if n >= 100 {
		out = append(out, smallNumbers[n/100], "hundred")
		n %= 100
	}
	switch {
	case n == 0:
	case n < 20:
		out = append(out, smallNumbers[n])
	default:
		out = append(out, tensWords[n/10])
		if n%10 != 0 {
			out = append(out, smallNumbers[n%10])
		}
	}
	return out
}

var irregularOrdinals = map[string]string{
	"one": "first", "two": "second", "three": "third", "five": "fifth",
	"eight": "eighth", "nine": "ninth", "twelve": "twelfth",
}

// ordinal turns the last word of a cardinal into its ordinal: "twenty one"
// becomes "twenty first".
func ordinal(words []string) []string {
	if len(words) == 0 {
		return words
	}
	last := words[len(words)-1]
	switch {
	case irregularOrdinals[last] != "":
		last = irregularOrdinals[last]
	case strings.HasSuffix(last, "y"):
		last = strings.TrimSuffix(last, "y") + "ieth"
	default:
		last += "th"
	}
	out := append([]string(nil), words[:len(words)-1]...)
	return append(out, last)
}

// numberWordSet holds the words a spelled-out number ends with after a
// scale word ("hundred and FIVE", "thousand and TWENTY", "hundred and
// FIRST"), which is where dropNumberAnd drops "and".
var numberWordSet = func() map[string]bool {
	set := make(map[string]bool)
	add := func(w string) {
		set[w] = true
		set[ordinal([]string{w})[0]] = true
	}
	for _, w := range smallNumbers[1:] {
		add(w)
	}
	for _, w := range tensWords[2:] {
		add(w)
	}
	return set
}()

var scaleWordSet = map[string]bool{
	"hundred": true, "thousand": true, "million": true, "billion": true, "trillion": true,
}

// digitWords reads a string of ASCII digits one digit at a time.
func digitWords(s string) []string {
	out := make([]string, 0, len(s))
	for _, c := range []byte(s) {
		out = append(out, smallNumbers[c-'0'])
	}
	return out
}

// integerWords reads a string of ASCII digits: as a cardinal, or digit by
// digit when it has a leading zero ("007") or is too long.
func integerWords(s string) []string {
	if len(s) > 1 && s[0] == '0' {
		return digitWords(s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxCardinal {
		return digitWords(s)
	}
	return cardinal(n)
}

// groupedThousands reports whether s is digits grouped in thousands by
// commas: "1,000", "12,345,678".
func groupedThousands(s string) bool {
	groups := strings.Split(s, ",")
	if len(groups) < 2 || len(groups[0]) < 1 || len(groups[0]) > 3 {
		return false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return false
		}
	}
	return true
}

// numberWords reads a run of ASCII digits with the '.' and ',' found
// between them: "1,000" is one thousand, "3.14" three point one four; a
// comma that does not group thousands separates two numbers ("1,2").
func numberWords(run string) []string {
	intPart, rest, hasDecimals := strings.Cut(run, ".")
	if groupedThousands(intPart) {
		intPart = strings.ReplaceAll(intPart, ",", "")
		run = intPart
		if hasDecimals {
			run += "." + rest
		}
	}
	if strings.Contains(run, ",") {
		var out []string
		for _, part := range strings.Split(run, ",") {
			out = append(out, numberWords(part)...)
		}
		return out
	}
	parts := strings.Split(run, ".")
	out := integerWords(parts[0])
	for _, p := range parts[1:] {
		out = append(out, "point")
		out = append(out, digitWords(p)...)
	}
	return out
}

// isInteger reports whether a digit run has no decimal point and any
// commas group thousands, so that it can take an ordinal suffix.
func isInteger(run string) bool {
	if strings.Contains(run, ".") {
		return false
	}
	return !strings.Contains(run, ",") || groupedThousands(run)
}

// ordinalWords reads "21" of "21st" as "twenty first".
func ordinalWords(run string) []string {
	return ordinal(integerWords(strings.ReplaceAll(run, ",", "")))
}

// currency names what a currency sign reads as, singular and plural, and
// its hundredth.
type currency struct {
	one, many       string
	subOne, subMany string
}

var currencies = map[rune]currency{
	'$': {"dollar", "dollars", "cent", "cents"},
	'€': {"euro", "euros", "cent", "cents"},
	'£': {"pound", "pounds", "penny", "pence"},
}

// moneyWords reads an amount after a currency sign: "$5" is five dollars,
// "$5.50" five dollars fifty cents; other decimals keep "point"
// ("£2.5" is two point five pounds).
func moneyWords(run string, c currency) []string {
	unit := func(amount string, one, many string) string {
		if amount == "1" {
			return one
		}
		return many
	}
	intPart, cents, ok := strings.Cut(run, ".")
	if !ok || len(cents) != 2 || strings.ContainsAny(cents, ".,") {
		return append(numberWords(run), unit(run, c.one, c.many))
	}
	var out []string
	if strings.Trim(intPart, "0,") != "" {
		out = append(numberWords(intPart), unit(intPart, c.one, c.many))
	}
	if cents = strings.TrimLeft(cents, "0"); cents != "" {
		out = append(out, integerWords(cents)...)
		out = append(out, unit(cents, c.subOne, c.subMany))
	}
	if len(out) == 0 {
		out = []string{"zero", c.many}
	}
	return out
}
