package qa

import (
	"strings"

	"github.com/voicehook/voicehook"
)

// Compare compares a script with the words speech to text heard and
// returns the word error rate and each difference, and whether the rate is
// within maxWER.
//
// Both sides are compared token by token (Normalize): only heard words of
// type "word" (or no type) count; spacing and audio events are skipped. A
// word that reads as several tokens ("21" is "twenty one", "e.g." is "for
// example") counts as that many, in the rate and in the differences: a
// missing "1,000" is two deletions, each naming "1,000". Each token keeps
// its word's time in the audio and its word as written, which is what a
// difference shows (Expected "Dr.", not "doctor"; Heard the heard word's
// text unchanged).
//
// WER is (substitutions + deletions + insertions) / ScriptWords, where
// ScriptWords counts the script's tokens; with no script tokens, WER is 0
// if nothing was heard and 1 otherwise. A substitution or insertion is at
// the heard word's time; a deletion from the end of the token heard before
// it (0 if none) to the start of the token heard after it (or its own At if
// none). ScriptIndex is the index of the script token among
// Normalize(script); for an insertion, that of the next script token,
// clamped to the last.
func Compare(script string, heard []voicehook.TranscriptWord, maxWER float64) (voicehook.QAResult, bool) {
	scriptWords := strings.Fields(script)
	st := tokenize(scriptWords)

	var spoken []voicehook.TranscriptWord
	var spokenText []string
	for _, w := range heard {
		if w.Type == "word" || w.Type == "" {
			spoken = append(spoken, w)
			spokenText = append(spokenText, w.Text)
		}
	}
	ht := tokenize(spokenText)

	res := voicehook.QAResult{ScriptWords: len(st), Differences: []voicehook.QADifference{}}
	i, j := 0, 0 // the next script token and heard token
	for _, s := range align(texts(st), texts(ht)) {
		switch s {
		case stepMatch:
			i, j = i+1, j+1
		case stepSub:
			w := spoken[ht[j].word]
			res.Differences = append(res.Differences, voicehook.QADifference{
				Kind: voicehook.DiffSubstitution, Expected: scriptWords[st[i].word], Heard: w.Text,
				At: w.Start, End: w.End, ScriptIndex: i,
			})
			i, j = i+1, j+1
		case stepDel:
			d := voicehook.QADifference{Kind: voicehook.DiffDeletion, Expected: scriptWords[st[i].word], ScriptIndex: i}
			if j > 0 {
				d.At = spoken[ht[j-1].word].End
			}
			d.End = d.At
			if j < len(ht) {
				d.End = spoken[ht[j].word].Start
			}
			res.Differences = append(res.Differences, d)
			i++
		case stepIns:
			w := spoken[ht[j].word]
			res.Differences = append(res.Differences, voicehook.QADifference{
				Kind: voicehook.DiffInsertion, Heard: w.Text, At: w.Start, End: w.End,
				ScriptIndex: max(min(i, len(st)-1), 0),
			})
			j++
		}
	}

	switch {
	case len(st) > 0:
		res.WER = float64(len(res.Differences)) / float64(len(st))
	case len(ht) > 0:
		res.WER = 1
	}
	return res, res.WER <= maxWER
}

func texts(toks []token) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.text
	}
	return out
}
