package elevenlabs_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/elevenlabs"
)

func TestCharacterLimit(t *testing.T) {
	t.Parallel()
	for model, want := range map[string]int{
		"":                       10000,
		elevenlabs.DefaultModel:  10000,
		"eleven_v3":              3000,
		"eleven_turbo_v2":        30000,
		"eleven_flash_v2":        30000,
		"eleven_turbo_v2_5":      40000,
		"eleven_flash_v2_5":      40000,
		"eleven_future_model_v9": 3000,
	} {
		if got := elevenlabs.CharacterLimit(model); got != want {
			t.Errorf("CharacterLimit(%q) = %d, want %d", model, got, want)
		}
	}
}

func TestSplitScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"empty", "", 10, nil},
		{"only whitespace", " \n\t ", 10, nil},
		{"fits, returned unchanged", "  Hello there.  ", 20, []string{"  Hello there.  "}},
		{"exactly the limit", "abcde", 5, []string{"abcde"}},
		{"packs whole sentences", "One. Two. Three. Four.", 10,
			[]string{"One. Two.", "Three.", "Four."}},
		{"packs as many as fit", "Aa. Bb. Cc. Dd. Ee.", 11,
			[]string{"Aa. Bb. Cc.", "Dd. Ee."}},
		{"question and exclamation", "Why? Because! Yes.", 10,
			[]string{"Why?", "Because!", "Yes."}},
		{"closing quote stays with its sentence", `He said "Go." Then left.`, 15,
			[]string{`He said "Go."`, "Then left."}},
		{"closing bracket", "(Aside.) Main text.", 12,
			[]string{"(Aside.)", "Main text."}},
		{"ellipsis", "Wait… Then go.", 8, []string{"Wait…", "Then go."}},
		{"lowercase after a period continues", "Use e.g. this one. Next.", 20,
			[]string{"Use e.g. this one.", "Next."}},
		{"no space after the period", "Pi is 3.14 ok. Next one.", 15,
			[]string{"Pi is 3.14 ok.", "Next one."}},
		{"newline ends a sentence", "first line\nsecond line", 15,
			[]string{"first line", "second line"}},
		{"blank lines dropped at the cut", "Para one.\n\n\nPara two.", 12,
			[]string{"Para one.", "Para two."}},
		{"long sentence split at whitespace", "the quick brown fox jumps", 10,
			[]string{"the quick", "brown fox", "jumps"}},
		{"long sentence then short ones", "Short. A long sentence here. End.", 12,
			[]string{"Short.", "A long", "sentence", "here. End."}},
		{"long word hard cut", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"hard cut counts runes", "ééééé", 2, []string{"éé", "éé", "é"}},
		{"full-width terminators", "こんにちは。元気ですか？はい。", 7,
			[]string{"こんにちは。", "元気ですか？", "はい。"}},
		{"limit below 1 is 1", "ab", 0, []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := elevenlabs.SplitScript(tc.text, tc.limit)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SplitScript(%q, %d) (-want +got):\n%s", tc.text, tc.limit, diff)
			}
		})
	}
}

// TestSplitScriptProperties checks, on random texts, that no part is over
// the limit, empty or padded with whitespace, and that the parts hold every
// non-space character of the text in order.
func TestSplitScriptProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "b", "é", "中", "🙂", " ", " ", "  ", "\n", "\n\n", "\t", ".", "!", "?", "…", `"`, ")", "'", "3.1", "e.g. x", "Mr. ", "longwordwithoutspaces"}
	for iter := range 3000 {
		var b strings.Builder
		for range rng.IntN(200) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		text := b.String()
		limit := 1 + rng.IntN(40)
		parts := elevenlabs.SplitScript(text, limit)

		if utf8.RuneCountInString(text) <= limit && strings.TrimSpace(text) != "" {
			if len(parts) != 1 || parts[0] != text {
				t.Fatalf("#%d: %q fits in %d but came back as %q", iter, text, limit, parts)
			}
			continue
		}
		for _, p := range parts {
			if n := utf8.RuneCountInString(p); n > limit || n == 0 {
				t.Fatalf("#%d: SplitScript(%q, %d): part %q has %d runes", iter, text, limit, p, n)
			}
			if strings.TrimSpace(p) != p {
				t.Fatalf("#%d: SplitScript(%q, %d): part %q has surrounding whitespace", iter, text, limit, p)
			}
		}
		if got, want := dropSpace(strings.Join(parts, "")), dropSpace(text); got != want {
			t.Fatalf("#%d: SplitScript(%q, %d) = %q: joined %q, want %q", iter, text, limit, parts, got, want)
		}
	}
}

func dropSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func BenchmarkSplitScript(b *testing.B) {
	text := strings.Repeat("This is a sentence of a long script, with a clause or two. ", 2000)
	for b.Loop() {
		elevenlabs.SplitScript(text, elevenlabs.CharacterLimit("eleven_v3"))
	}
}
