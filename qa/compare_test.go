package qa_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/qa"
)

func word(text string, start, end float64) voicehook.TranscriptWord {
	return voicehook.TranscriptWord{Text: text, Start: start, End: end, Type: "word"}
}

// fox is "The quick brown fox jumps" as heard, word by word.
var (
	wThe   = word("The", 0.0, 0.2)
	wQuick = word("quick", 0.3, 0.6)
	wBrown = word("brown", 0.7, 1.0)
	wFox   = word("fox", 1.1, 1.4)
	wJumps = word("jumps.", 1.5, 1.9)
)

const foxScript = "The quick brown fox jumps."

func TestCompare(t *testing.T) {
	t.Parallel()
	none := []voicehook.QADifference{}
	tests := []struct {
		name       string
		script     string
		heard      []voicehook.TranscriptWord
		maxWER     float64
		want       voicehook.QAResult
		wantPassed bool
	}{
		{
			name:       "identical",
			script:     foxScript,
			heard:      []voicehook.TranscriptWord{wThe, wQuick, wBrown, wFox, wJumps},
			want:       voicehook.QAResult{WER: 0, ScriptWords: 5, Differences: none},
			wantPassed: true,
		},
		{
			name:   "one substitution",
			script: foxScript,
			heard:  []voicehook.TranscriptWord{wThe, wQuick, wBrown, word("box", 1.1, 1.4), wJumps},
			maxWER: 0.2,
			want: voicehook.QAResult{WER: 0.2, ScriptWords: 5, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffSubstitution, Expected: "fox", Heard: "box", At: 1.1, End: 1.4, ScriptIndex: 3},
			}},
			wantPassed: true,
		},
		{
			name:   "one deletion: between the words heard around it",
			script: foxScript,
			heard:  []voicehook.TranscriptWord{wThe, wQuick, wFox, wJumps},
			maxWER: 0.19,
			want: voicehook.QAResult{WER: 0.2, ScriptWords: 5, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffDeletion, Expected: "brown", At: 0.6, End: 1.1, ScriptIndex: 2},
			}},
		},
		{
			name:   "deletion of the first word",
			script: foxScript,
			heard:  []voicehook.TranscriptWord{wQuick, wBrown, wFox, wJumps},
			want: voicehook.QAResult{WER: 0.2, ScriptWords: 5, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffDeletion, Expected: "The", At: 0, End: 0.3, ScriptIndex: 0},
			}},
		},
		{
			name:   "deletion of the last word",
			script: foxScript,
			heard:  []voicehook.TranscriptWord{wThe, wQuick, wBrown, wFox},
			want: voicehook.QAResult{WER: 0.2, ScriptWords: 5, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffDeletion, Expected: "jumps.", At: 1.4, End: 1.4, ScriptIndex: 4},
			}},
		},
		{
			name:   "one insertion: before the next script word",
			script: foxScript,
			heard:  []voicehook.TranscriptWord{wThe, wQuick, word("very", 0.62, 0.68), wBrown, wFox, wJumps},
			want: voicehook.QAResult{WER: 0.2, ScriptWords: 5, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffInsertion, Heard: "very", At: 0.62, End: 0.68, ScriptIndex: 2},
			}},
		},
		{
			name:   "insertion at the end: index clamped to the last script word",
			script: foxScript,
			heard:  []voicehook.TranscriptWord{wThe, wQuick, wBrown, wFox, wJumps, word("again", 2.0, 2.3)},
			want: voicehook.QAResult{WER: 0.2, ScriptWords: 5, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffInsertion, Heard: "again", At: 2.0, End: 2.3, ScriptIndex: 4},
			}},
		},
		{
			name:   "drop one and substitute another: exactly 2/N",
			script: foxScript,
			heard:  []voicehook.TranscriptWord{wThe, wBrown, wFox, word("jumped", 1.5, 1.9)},
			maxWER: 0.4,
			want: voicehook.QAResult{WER: 2.0 / 5.0, ScriptWords: 5, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffDeletion, Expected: "quick", At: 0.2, End: 0.7, ScriptIndex: 1},
				{Kind: voicehook.DiffSubstitution, Expected: "jumps.", Heard: "jumped", At: 1.5, End: 1.9, ScriptIndex: 4},
			}},
			wantPassed: true,
		},
		{
			name:   "two substitutions rather than a deletion and an insertion",
			script: "red green",
			heard:  []voicehook.TranscriptWord{word("blue", 0, 1), word("black", 1, 2)},
			want: voicehook.QAResult{WER: 1, ScriptWords: 2, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffSubstitution, Expected: "red", Heard: "blue", At: 0, End: 1, ScriptIndex: 0},
				{Kind: voicehook.DiffSubstitution, Expected: "green", Heard: "black", At: 1, End: 2, ScriptIndex: 1},
			}},
		},
		{
			name:   "empty transcript: every word deleted",
			script: "one two three",
			heard:  nil,
			maxWER: 0.99,
			want: voicehook.QAResult{WER: 1, ScriptWords: 3, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffDeletion, Expected: "one", ScriptIndex: 0},
				{Kind: voicehook.DiffDeletion, Expected: "two", ScriptIndex: 1},
				{Kind: voicehook.DiffDeletion, Expected: "three", ScriptIndex: 2},
			}},
		},
		{
			name:       "empty script, nothing heard",
			script:     "  ",
			heard:      []voicehook.TranscriptWord{{Text: " ", Start: 0, End: 1, Type: "spacing"}},
			want:       voicehook.QAResult{WER: 0, ScriptWords: 0, Differences: none},
			wantPassed: true,
		},
		{
			name:   "empty script, words heard",
			script: "",
			heard:  []voicehook.TranscriptWord{word("hello", 0.5, 0.9)},
			maxWER: 0.5,
			want: voicehook.QAResult{WER: 1, ScriptWords: 0, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffInsertion, Heard: "hello", At: 0.5, End: 0.9, ScriptIndex: 0},
			}},
		},
		{
			name:   "spacing and audio events are skipped",
			script: foxScript,
			heard: []voicehook.TranscriptWord{
				wThe, {Text: " ", Start: 0.2, End: 0.3, Type: "spacing"},
				wQuick, {Text: "(laughs)", Start: 0.6, End: 0.7, Type: "audio_event"},
				wBrown, {Text: " ", Start: 1.0, End: 1.1, Type: "spacing"},
				wFox, wJumps,
			},
			want:       voicehook.QAResult{WER: 0, ScriptWords: 5, Differences: none},
			wantPassed: true,
		},
		{
			name:   "a word without a type counts",
			script: "hello",
			heard:  []voicehook.TranscriptWord{{Text: "yellow", Start: 1, End: 2}},
			want: voicehook.QAResult{WER: 1, ScriptWords: 1, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffSubstitution, Expected: "hello", Heard: "yellow", At: 1, End: 2, ScriptIndex: 0},
			}},
		},
		{
			name:       "12 heard for twelve is no difference",
			script:     "I have twelve cats",
			heard:      []voicehook.TranscriptWord{word("I", 0, 0.1), word("have", 0.2, 0.4), word("12", 0.5, 0.9), word("cats", 1, 1.3)},
			want:       voicehook.QAResult{WER: 0, ScriptWords: 4, Differences: none},
			wantPassed: true,
		},
		{
			name:   "a heard word of several tokens keeps its time on each",
			script: "twenty two cats",
			heard:  []voicehook.TranscriptWord{word("21", 0.5, 1.0), word("cats", 1.1, 1.4)},
			want: voicehook.QAResult{WER: 1.0 / 3.0, ScriptWords: 3, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffSubstitution, Expected: "two", Heard: "21", At: 0.5, End: 1.0, ScriptIndex: 1},
			}},
		},
		{
			name:   "expected is the script's word as written",
			script: "Dr. Smith arrived",
			heard:  []voicehook.TranscriptWord{word("Mr.", 0, 0.3), word("Smith", 0.4, 0.8), word("arrived", 0.9, 1.3)},
			want: voicehook.QAResult{WER: 1.0 / 3.0, ScriptWords: 3, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffSubstitution, Expected: "Dr.", Heard: "Mr.", At: 0, End: 0.3, ScriptIndex: 0},
			}},
		},
		{
			name:   "a script word of several tokens missing counts each token",
			script: "about 1,000 people",
			heard:  []voicehook.TranscriptWord{word("about", 0, 0.4), word("people", 0.5, 0.9)},
			want: voicehook.QAResult{WER: 2.0 / 4.0, ScriptWords: 4, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffDeletion, Expected: "1,000", At: 0.4, End: 0.5, ScriptIndex: 1},
				{Kind: voicehook.DiffDeletion, Expected: "1,000", At: 0.4, End: 0.5, ScriptIndex: 2},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, passed := qa.Compare(tc.script, tc.heard, tc.maxWER)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Compare(%q) (-want +got):\n%s", tc.script, diff)
			}
			if passed != tc.wantPassed {
				t.Errorf("Compare(%q) passed = %v, want %v (WER %v, max %v)", tc.script, passed, tc.wantPassed, got.WER, tc.maxWER)
			}
		})
	}
}

// TestCompareExactWER: for scripts of every length from 2 to 200 words,
// dropping one word and substituting another gives exactly 2/N and two
// differences timed as specified.
func TestCompareExactWER(t *testing.T) {
	t.Parallel()
	for n := 2; n <= 200; n++ {
		script := make([]string, n)
		var heard []voicehook.TranscriptWord
		drop, sub := n/2, n-1
		if drop == sub {
			drop = 0
		}
		for i := range script {
			script[i] = fmt.Sprintf("w%c%c", 'a'+rune(i/26%26), 'a'+rune(i%26))
			if i == drop {
				continue
			}
			text := script[i]
			if i == sub {
				text = "other"
			}
			heard = append(heard, word(text, float64(i), float64(i)+0.75))
		}
		got, _ := qa.Compare(strings.Join(script, " "), heard, 1)
		if got.WER != 2.0/float64(n) {
			t.Errorf("n=%d: WER = %v, want exactly %v", n, got.WER, 2.0/float64(n))
		}
		wantDel := voicehook.QADifference{Kind: voicehook.DiffDeletion, Expected: script[drop], ScriptIndex: drop, At: float64(drop-1) + 0.75, End: float64(drop + 1)}
		if drop == 0 {
			wantDel.At, wantDel.End = 0, 1
		}
		want := []voicehook.QADifference{
			wantDel,
			{Kind: voicehook.DiffSubstitution, Expected: script[sub], Heard: "other", At: float64(sub), End: float64(sub) + 0.75, ScriptIndex: sub},
		}
		if diff := cmp.Diff(want, got.Differences); diff != "" {
			t.Errorf("n=%d: differences (-want +got):\n%s", n, diff)
		}
	}
}

// FuzzCompare: Compare never panics, its counts agree with each other, and
// a transcript of the script's own words, whatever their times, is a
// perfect match.
func FuzzCompare(f *testing.F) {
	f.Add("The quick brown fox.", "the quick brown box", 0.5, 1.5)
	f.Add("Dr. Smith paid $5.50 on the 21st, e.g. 1,000 times — 50% more!", "doctor smith paid five dollars", 0.0, 0.0)
	f.Add("one hundred and five No. 7", "105 number 7", -1.0, 3.0)
	f.Add("", "hello", 0.0, 1.0)
	f.Add("don’t ﬁne １２ Straße", "", 2.0, 0.25)
	f.Fuzz(func(t *testing.T, script, other string, start, step float64) {
		var own []voicehook.TranscriptWord
		for i, f := range strings.Fields(script) {
			s := start + float64(i)*step
			own = append(own, voicehook.TranscriptWord{Text: f, Start: s, End: s + step, Type: "word"})
			if i%3 == 1 {
				own = append(own, voicehook.TranscriptWord{Text: " ", Start: s, End: s, Type: "spacing"})
			}
		}
		got, passed := qa.Compare(script, own, 0)
		if got.WER != 0 || !passed || len(got.Differences) != 0 {
			t.Fatalf("Compare(%q, own words) = %+v, passed %v; want a perfect match", script, got, passed)
		}

		res, _ := qa.Compare(script, words(other), 0.5)
		n := len(qa.Normalize(script))
		if res.ScriptWords != n {
			t.Fatalf("ScriptWords = %d, want %d", res.ScriptWords, n)
		}
		if math.IsNaN(res.WER) || res.WER < 0 {
			t.Fatalf("WER = %v", res.WER)
		}
		if n > 0 && int(math.Round(res.WER*float64(n))) != len(res.Differences) {
			t.Fatalf("WER %v × %d script words ≠ %d differences", res.WER, n, len(res.Differences))
		}
		for _, d := range res.Differences {
			if d.ScriptIndex < 0 || (n > 0 && d.ScriptIndex >= n) || (n == 0 && d.ScriptIndex != 0) {
				t.Fatalf("ScriptIndex %d out of range for %d script words: %+v", d.ScriptIndex, n, d)
			}
		}
	})
}

// BenchmarkCompare2000 compares a 2,000-word script with a transcript that
// strays every so often.
func BenchmarkCompare2000(b *testing.B) {
	vocab := strings.Fields("the quick brown fox jumps over a lazy dog while 12 cats watch Dr. Smith's 1st well-known show")
	script := make([]string, 2000)
	var heard []voicehook.TranscriptWord
	for i := range script {
		script[i] = vocab[i%len(vocab)]
		switch {
		case i%97 == 0: // dropped
		case i%89 == 0:
			heard = append(heard, word("uh", float64(i), float64(i)+0.1), word(script[i], float64(i)+0.2, float64(i)+0.5))
		case i%83 == 0:
			heard = append(heard, word("something", float64(i), float64(i)+0.5))
		default:
			heard = append(heard, word(script[i], float64(i), float64(i)+0.5))
		}
	}
	text := strings.Join(script, " ")
	b.ReportAllocs()
	for b.Loop() {
		qa.Compare(text, heard, 0.05)
	}
}
