package elevenlabs

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SplitScript cuts text into parts of at most limit characters (runes, as
// ElevenLabs counts them; see CharacterLimit) so each part can be one
// text-to-speech request. Cuts fall, in order of preference:
//
//   - at sentence ends: after . ! ? … (and any closing quotes or brackets
//     that follow) when whitespace follows, after 。！？, or at a line break;
//     each part holds as many whole sentences as fit;
//   - inside a sentence longer than limit, at the last whitespace that fits;
//   - inside a word longer than limit, at the limit (on a rune boundary).
//
// Whitespace at a cut is dropped and parts never start or end with it, so
// joining the parts loses no other character and keeps their order. Text
// that fits comes back unchanged as the only part; text that is empty or
// all whitespace gives no parts. A limit below 1 is taken as 1.
func SplitScript(text string, limit int) []string {
	limit = max(limit, 1)
	if strings.TrimSpace(text) == "" {
		return nil
	}
	if utf8.RuneCountInString(text) <= limit {
		return []string{text}
	}
	ends := sentenceEnds(text)
	contentEnd := len(strings.TrimRightFunc(text, unicode.IsSpace))
	var parts []string
	for s := skipSpace(text, 0); s < len(text); {
		cut := nextCut(text, s, limit, contentEnd, ends)
		if part := strings.TrimRightFunc(text[s:cut], unicode.IsSpace); part != "" {
			parts = append(parts, part)
		}
		s = skipSpace(text, cut)
	}
	return parts
}

// nextCut returns where the part starting at s (a non-space rune) ends: the
// last sentence end within limit runes, else the last whitespace, else the
// limit itself. A rest that fits (contentEnd is where the text's trailing
// whitespace starts) is taken whole.
func nextCut(text string, s, limit, contentEnd int, ends []bool) int {
	lastEnd, lastSpace := -1, -1
	i := s
	for n := 0; ; n++ {
		if i >= contentEnd {
			return len(text)
		}
		if i > s {
			if ends[i] {
				lastEnd = i
			}
			if r, _ := utf8.DecodeRuneInString(text[i:]); unicode.IsSpace(r) {
				lastSpace = i
			}
		}
		if n == limit {
			break
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	switch {
	case lastEnd > s:
		return lastEnd
	case lastSpace > s:
		return lastSpace
	}
	return i // a word longer than limit: cut it at the limit
}

// sentenceEnds marks, for each byte offset of text, whether a sentence ends
// just before it.
func sentenceEnds(text string) []bool {
	ends := make([]bool, len(text)+1)
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			ends[i] = true
			i += size
		case isTerminator(r):
			// Take the whole run: "?!", "...", `."` and `.)` end one
			// sentence, after their last character.
			strong := r != '.' && r != '…'
			j := i + size
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !isTerminator(r2) && !strings.ContainsRune(closers, r2) {
					break
				}
				strong = strong || (isTerminator(r2) && r2 != '.' && r2 != '…')
				j += s2
			}
			if endsSentence(text, j, strong, isFullWidth(r)) {
				ends[j] = true
			}
			i = j
		default:
			i += size
		}
	}
	return ends
}

// endsSentence decides whether a run of terminators ending at j closes a
// sentence. It must be followed by whitespace or the end of the text ("3.14"
// and "example.com" are not ends), except in scripts that use no spaces;
// after a period or an ellipsis, a lowercase word continues the sentence
// ("e.g. this", "wait… what").
func endsSentence(text string, j int, strong, fullWidth bool) bool {
	if j == len(text) || fullWidth {
		return true
	}
	r, _ := utf8.DecodeRuneInString(text[j:])
	if !unicode.IsSpace(r) {
		return false
	}
	if strong {
		return true
	}
	next, _ := utf8.DecodeRuneInString(text[skipSpace(text, j):])
	return !unicode.IsLower(next)
}

// closers may follow a sentence's final punctuation and belong to it.
const closers = `"')]}»”’›」』）`

func isTerminator(r rune) bool {
	return strings.ContainsRune(".!?…", r) || isFullWidth(r)
}

func isFullWidth(r rune) bool {
	return r == '。' || r == '！' || r == '？'
}

// skipSpace returns the offset of the first non-space rune at or after i.
func skipSpace(text string, i int) int {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += size
	}
	return i
}
