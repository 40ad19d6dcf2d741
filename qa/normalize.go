package qa

// Design: a text is split into words at white space, and each word into
// tokens on its own (so that Compare can map each token back to the word it
// came from and to that word's time in the audio). A word is made
// comparable in steps:
//
//  1. Unicode NFKC ("ﬁ" is "fi", full-width "１２" is "12"), curly and
//     modifier apostrophes made straight, case folded ("Straße" is
//     "strasse"). Diacritics are kept: "café" and "cafe" differ.
//  2. Abbreviations read as words ("Dr." is "doctor", abbrev.go).
//  3. A scan that keeps letters and digits and treats every other
//     character as a break: punctuation goes, hyphens and dashes split
//     ("well-known" is "well known"). An apostrophe between letters stays
//     ("don't" is one token and differs from "do not"); a period between
//     letters joins them ("a.m." is "am"); a period or comma between digits
//     stays part of the number. "%" reads "percent", "&" "and", "#5"
//     "number five", and "$", "€", "£" before an amount read as the
//     currency after it.
//  4. Digits become words (numbers.go), letters and digits run together are
//     split ("mp3" is "mp three"), except an ordinal suffix ("21st" is
//     "twenty first").
//
// Last, across words, "and" between a scale word and a number word is
// dropped: "one hundred and five" is "one hundred five", as "105" reads.

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// token is one comparable token and the index of the word it came from.
type token struct {
	text string
	word int
}

// Normalize returns the comparable tokens of a text (nil if it has none).
// Two texts that read the same give the same tokens: "Dr. Smith paid $12"
// and "doctor smith paid twelve dollars".
func Normalize(text string) []string {
	toks := tokenize(strings.Fields(text))
	if len(toks) == 0 {
		return nil
	}
	return texts(toks)
}

// apostrophes are the apostrophe and single-quote forms written as '.
var apostrophes = strings.NewReplacer("’", "'", "‘", "'", "ʼ", "'")

// tokenize returns the tokens of words, each with its word's index.
func tokenize(words []string) []token {
	fold := cases.Fold()
	prepared := make([]string, len(words))
	for i, w := range words {
		prepared[i] = fold.String(apostrophes.Replace(norm.NFKC.String(w)))
	}
	var toks []token
	for i, w := range prepared {
		next := ""
		if i+1 < len(prepared) {
			next = prepared[i+1]
		}
		exp, ok := abbreviation(w, next)
		if !ok {
			exp = scanWord(w)
		}
		for _, t := range exp {
			toks = append(toks, token{text: t, word: i})
		}
	}
	return dropNumberAnd(toks)
}

// dropNumberAnd drops "and" inside a spelled-out number ("hundred and
// five", "thousand and first"), in place.
func dropNumberAnd(toks []token) []token {
	out := toks[:0]
	for i, t := range toks {
		if t.text == "and" && i > 0 && i+1 < len(toks) &&
			scaleWordSet[toks[i-1].text] && numberWordSet[toks[i+1].text] {
			continue
		}
		out = append(out, t)
	}
	return out
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// isLetter reports whether r belongs in a word as a letter: letters,
// combining marks, and numbers other than ASCII digits (which NFKC did not
// turn into ASCII and which are not read as numbers here).
func isLetter(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || (unicode.IsNumber(r) && !isDigit(r))
}

// scanWord returns the tokens of one prepared word.
func scanWord(w string) []string {
	rs := []rune(w)
	at := func(i int) rune {
		if i < 0 || i >= len(rs) {
			return 0
		}
		return rs[i]
	}
	var (
		out    []string
		chunk  []rune
		prefix rune // '#' or a currency sign waiting for its number
	)
	flush := func() {
		if len(chunk) > 0 {
			out = appendChunk(out, string(chunk), prefix)
			chunk = chunk[:0]
		}
		prefix = 0
	}
	for i, r := range rs {
		prev, next := at(i-1), at(i+1)
		switch {
		case isDigit(r) || isLetter(r):
			chunk = append(chunk, r)
		case r == '\'' && isLetter(prev) && isLetter(next):
			chunk = append(chunk, r)
		case (r == '.' || r == ',') && isDigit(prev) && isDigit(next):
			chunk = append(chunk, r)
		case r == '.' && isLetter(prev) && isLetter(next):
			// An acronym's periods join its letters: "u.s.a" is "usa".
		case r == '%':
			flush()
			out = append(out, "percent")
		case r == '&':
			flush()
			out = append(out, "and")
		case r == '#':
			flush()
			prefix = r
		case currencies[r] != (currency{}):
			flush()
			prefix = r
		default:
			flush()
		}
	}
	flush()
	return out
}

// run is a stretch of a chunk that is all number (ASCII digits with the
// '.' and ',' between them) or all letters.
type run struct {
	text   string
	digits bool
}

func splitRuns(chunk string) []run {
	var runs []run
	start := 0
	digits := false
	for i, r := range chunk {
		d := isDigit(r) || r == '.' || r == ','
		if i == 0 {
			digits = d
			continue
		}
		if d != digits {
			runs = append(runs, run{chunk[start:i], digits})
			start, digits = i, d
		}
	}
	if start < len(chunk) {
		runs = append(runs, run{chunk[start:], digits})
	}
	return runs
}

func isOrdinalSuffix(s string) bool {
	return s == "st" || s == "nd" || s == "rd" || s == "th"
}

// appendChunk appends the tokens of a chunk of letters and digits; prefix
// is the '#' or currency sign written just before it.
func appendChunk(out []string, chunk string, prefix rune) []string {
	runs := splitRuns(chunk)
	for k := 0; k < len(runs); k++ {
		r := runs[k]
		switch {
		case !r.digits:
			out = append(out, r.text)
		case k+1 < len(runs) && isOrdinalSuffix(runs[k+1].text) && isInteger(r.text):
			out = append(out, ordinalWords(r.text)...)
			k++
		case k == 0 && prefix == '#':
			out = append(out, "number")
			out = append(out, numberWords(r.text)...)
		case k == 0 && prefix != 0:
			out = append(out, moneyWords(r.text, currencies[prefix])...)
		default:
			out = append(out, numberWords(r.text)...)
		}
	}
	return out
}
