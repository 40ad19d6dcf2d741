package qa_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/qa"
)

// words turns a text into transcript words, one per whitespace-separated
// field, each half a second long and a second apart.
func words(text string) []voicehook.TranscriptWord {
	var out []voicehook.TranscriptWord
	for i, f := range strings.Fields(text) {
		out = append(out, voicehook.TranscriptWord{
			Text: f, Start: float64(i), End: float64(i) + 0.5, Type: "word",
		})
	}
	return out
}

// TestNormalizeEquivalent: a script and a transcript that write the same
// speech differently compare equal, both through Normalize and through
// Compare (word error rate 0).
func TestNormalizeEquivalent(t *testing.T) {
	t.Parallel()
	tests := []struct{ script, heard string }{
		{"twelve", "12"},
		{"12 cats", "twelve cats"},
		{"Mr. Smith", "mister smith"},
		{"Dr. Jones", "doctor jones"},
		{"Dr Jones", "Doctor Jones"},
		{"Mrs. Brown", "missus brown"},
		{"St. Louis", "saint louis"},
		{"don’t stop", "don't stop"},
		{"donʼt stop", "don't stop"},
		{"‘quoted’ words", "'quoted' words"},
		{"“Hello,” she said.", `"hello" she said`},
		{"a well-known fact", "a well known fact"},
		{"non‑breaking hyphen", "non breaking hyphen"},
		{"pages 10–12", "pages ten twelve"},
		{"Wait — what?", "wait what"},
		{"Hello…world", "hello world"},
		{"twenty-one", "21"},
		{"twenty one", "21"},
		{"ninety-nine", "99"},
		{"1,000 people", "one thousand people"},
		{"1000", "one thousand"},
		{"1,000,000", "one million"},
		{"in 2,500 years", "in two thousand five hundred years"},
		{"100", "one hundred"},
		{"one hundred and five", "105"},
		{"2024", "two thousand and twenty-four"},
		{"3.5 metres", "three point five metres"},
		{"0.5", "zero point five"},
		{"007", "zero zero seven"},
		{"1st place", "first place"},
		{"2nd", "second"},
		{"3rd", "third"},
		{"12th", "twelfth"},
		{"21st century", "twenty first century"},
		{"101st", "one hundred and first"},
		{"50%", "fifty percent"},
		{"50 %", "fifty percent"},
		{"$5", "five dollars"},
		{"$1", "one dollar"},
		{"$5.50", "five dollars fifty cents"},
		{"€3", "three euros"},
		{"No. 5", "number five"},
		{"#1", "number one"},
		{"No, thanks", "no thanks"},
		{"HELLO World", "hello world"},
		{"Straße", "STRASSE"},
		{"café", "CAFÉ"},
		{"cafe\u0301", "café"},
		{"  lots   of\tspace \n", "lots of space"},
		{"The end.", "the end"},
		{"(12)", "twelve"},
		{"12:30", "twelve thirty"},
		{"salt & pepper", "salt and pepper"},
		{"ﬁne", "fine"},
		{"１２", "twelve"},
		{"e.g. apples", "for example apples"},
		{"i.e. never", "that is never"},
		{"apples, pears, etc.", "apples pears et cetera"},
		{"cats vs. dogs", "cats versus dogs"},
		{"a.m.", "AM"},
		{"COVID-19", "covid nineteen"},
	}
	for _, tc := range tests {
		t.Run(tc.script+"|"+tc.heard, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(qa.Normalize(tc.script), qa.Normalize(tc.heard)); diff != "" {
				t.Errorf("Normalize(%q) vs Normalize(%q) (-script +heard):\n%s", tc.script, tc.heard, diff)
			}
			res, passed := qa.Compare(tc.script, words(tc.heard), 0)
			if res.WER != 0 || !passed || len(res.Differences) != 0 {
				t.Errorf("Compare(%q, %q) = %+v, passed %v; want WER 0, passed", tc.script, tc.heard, res, passed)
			}
		})
	}
}

// TestNormalizeDistinct: speech that differs must not normalise away.
func TestNormalizeDistinct(t *testing.T) {
	t.Parallel()
	tests := []struct{ script, heard string }{
		{"twelve", "twenty"},
		{"12", "13"},
		{"15", "50"},
		{"Mr. Smith", "Mrs. Smith"},
		{"their", "there"},
		// A contraction is what was said: "do not" is a different reading.
		{"don't", "do not"},
		{"can", "can't"},
		{"it's", "its"},
		{"1st", "1"},
		{"a", "the"},
		{"the quick fox", "the fox"},
		// Diacritics are kept: they can tell words apart.
		{"café", "cafe"},
		{"3.5", "35"},
		{"1,000", "one hundred"},
		{"well-known", "wellknown"},
		// Digits read as a year ("twenty twenty-four") are not accepted:
		// the canonical form is the full cardinal.
		{"2024", "twenty twenty-four"},
		{"No. 5", "no five"},
		{"$5", "five"},
	}
	for _, tc := range tests {
		t.Run(tc.script+"|"+tc.heard, func(t *testing.T) {
			t.Parallel()
			if cmp.Equal(qa.Normalize(tc.script), qa.Normalize(tc.heard)) {
				t.Errorf("Normalize(%q) = Normalize(%q) = %q; want different", tc.script, tc.heard, qa.Normalize(tc.script))
			}
			res, _ := qa.Compare(tc.script, words(tc.heard), 0)
			if res.WER == 0 {
				t.Errorf("Compare(%q, %q): WER 0, want > 0", tc.script, tc.heard)
			}
		})
	}
}

// TestNormalizeTokens pins the exact tokens of a few texts.
func TestNormalizeTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{" \t\n", nil},
		{"... — !", nil},
		{"Hello, World!", []string{"hello", "world"}},
		{"Don’t", []string{"don't"}},
		{"'tis rock'n'roll", []string{"tis", "rock'n'roll"}},
		{"0", []string{"zero"}},
		{"13", []string{"thirteen"}},
		{"20", []string{"twenty"}},
		{"45", []string{"forty", "five"}},
		{"110", []string{"one", "hundred", "ten"}},
		{"2024", []string{"two", "thousand", "twenty", "four"}},
		{"1,234,567", []string{"one", "million", "two", "hundred", "thirty", "four", "thousand", "five", "hundred", "sixty", "seven"}},
		{"7000000000000", []string{"seven", "trillion"}},
		// Beyond the trillions digits are read one by one.
		{"1000000000000000", []string{"one", "zero", "zero", "zero", "zero", "zero", "zero", "zero", "zero", "zero", "zero", "zero", "zero", "zero", "zero", "zero"}},
		// A comma that does not group thousands separates numbers.
		{"1,2", []string{"one", "two"}},
		{"3.14", []string{"three", "point", "one", "four"}},
		{"1.2.3", []string{"one", "point", "two", "point", "three"}},
		{"1st 2nd 3rd 4th 5th 8th 9th 11th 20th 22nd 100th 1,000th", []string{
			"first", "second", "third", "fourth", "fifth", "eighth", "ninth", "eleventh",
			"twentieth", "twenty", "second", "one", "hundredth", "one", "thousandth",
		}},
		{"19th-century", []string{"nineteenth", "century"}},
		{"mp3", []string{"mp", "three"}},
		{"$1.01", []string{"one", "dollar", "one", "cent"}},
		{"$0.50", []string{"fifty", "cents"}},
		{"$2.00", []string{"two", "dollars"}},
		{"£2.5", []string{"two", "point", "five", "pounds"}},
		{"£1.10", []string{"one", "pound", "ten", "pence"}},
		{"$", nil},
		{"R&D", []string{"r", "and", "d"}},
		{"U.S.A.", []string{"usa"}},
		{"St Louis", []string{"st", "louis"}},
		{"No. 7", []string{"number", "seven"}},
		{"no.", []string{"no"}},
		{"hundreds and fives", []string{"hundreds", "and", "fives"}},
		{"one thousand and one nights", []string{"one", "thousand", "one", "nights"}},
		{"rock and roll", []string{"rock", "and", "roll"}},
		{"x²", []string{"x", "two"}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, qa.Normalize(tc.text)); diff != "" {
				t.Errorf("Normalize(%q) (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}
