// Package captions turns ElevenLabs' character alignments into word-level
// caption cues and writes them as WebVTT or SubRip (SRT).
package captions

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/voicehook/voicehook"
)

// Cue is one caption: Text shown from Start to End, from the start of the
// audio.
//
// It is the domain's voicehook.Cue, which the store keeps.
type Cue = voicehook.Cue

// Words makes one cue per word of an alignment (the characters and their
// start and end times in seconds, as ElevenLabs' with-timestamps endpoint
// answers them). A word is a maximal run of non-space characters, so
// punctuation stays with its word; it runs from its first character's start
// to its last character's end, rounded to the millisecond. Empty character
// strings are ignored. The slices must have the same length and the times
// be finite and not negative.
func Words(chars []string, start, end []float64) ([]Cue, error) {
	if len(start) != len(chars) || len(end) != len(chars) {
		return nil, fmt.Errorf("captions: alignment has %d characters, %d start and %d end times", len(chars), len(start), len(end))
	}
	var cues []Cue
	var word strings.Builder
	var cue Cue
	flush := func() {
		if word.Len() > 0 {
			cue.Text = word.String()
			cues = append(cues, cue)
			word.Reset()
		}
	}
	for i, c := range chars {
		if c == "" {
			continue
		}
		if strings.TrimFunc(c, unicode.IsSpace) == "" {
			flush()
			continue
		}
		s, err := seconds(start[i])
		if err != nil {
			return nil, fmt.Errorf("captions: character %d (%q) start: %w", i, c, err)
		}
		e, err := seconds(end[i])
		if err != nil {
			return nil, fmt.Errorf("captions: character %d (%q) end: %w", i, c, err)
		}
		if word.Len() == 0 {
			cue = Cue{Start: s}
		}
		// A word never ends before it starts, whatever rounding or a
		// sloppy alignment says.
		cue.End = max(cue.Start, cue.End, e)
		word.WriteString(c)
	}
	flush()
	return cues, nil
}

// seconds converts an alignment time to a duration rounded to the
// millisecond.
func seconds(s float64) (time.Duration, error) {
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 || s > 1e6 {
		return 0, fmt.Errorf("invalid time %v s", s)
	}
	return time.Duration(math.Round(s*1000)) * time.Millisecond, nil
}

// Offset returns a copy of cues shifted by d, for a clip that starts d into
// the whole audio. Times that would fall below zero become zero.
func Offset(cues []Cue, d time.Duration) []Cue {
	out := make([]Cue, len(cues))
	for i, c := range cues {
		out[i] = Cue{Start: max(c.Start+d, 0), End: max(c.End+d, 0), Text: c.Text}
	}
	return out
}

// WriteVTT writes cues as a WebVTT file: the "WEBVTT" header, then each cue
// as "HH:MM:SS.mmm --> HH:MM:SS.mmm" and its text, cues separated by blank
// lines. &, < and > in text are escaped as WebVTT requires; cues with no
// text are left out (an empty cue would end the block early). A cue that
// ends before it starts is an error, and what was written before it may
// have reached w.
func WriteVTT(w io.Writer, cues []Cue) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("WEBVTT\n")
	for i, c := range cues {
		if err := check(i, c); err != nil {
			return err
		}
		text := escapeVTT.Replace(cueText(c.Text))
		if text == "" {
			continue
		}
		fmt.Fprintf(bw, "\n%s --> %s\n%s\n", timestamp(c.Start, '.'), timestamp(c.End, '.'), text)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("captions: writing WebVTT: %w", err)
	}
	return nil
}

// WriteSRT writes cues as SubRip: numbered from 1, "HH:MM:SS,mmm -->
// HH:MM:SS,mmm", the text, cues separated by blank lines. Cues with no
// text are left out and not numbered; SRT has no escaping.
func WriteSRT(w io.Writer, cues []Cue) error {
	bw := bufio.NewWriter(w)
	n := 0
	for i, c := range cues {
		if err := check(i, c); err != nil {
			return err
		}
		text := cueText(c.Text)
		if text == "" {
			continue
		}
		if n > 0 {
			bw.WriteString("\n")
		}
		n++
		fmt.Fprintf(bw, "%d\n%s --> %s\n%s\n", n, timestamp(c.Start, ','), timestamp(c.End, ','), text)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("captions: writing SRT: %w", err)
	}
	return nil
}

func check(i int, c Cue) error {
	if c.Start < 0 || c.End < c.Start {
		return fmt.Errorf("captions: cue %d runs from %v to %v", i+1, c.Start, c.End)
	}
	return nil
}

// escapeVTT escapes what WebVTT cue text may not hold literally; escaping >
// also keeps "-->" out of it.
var escapeVTT = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// cueText drops blank lines (both formats end a cue at one) and the
// whitespace around lines.
func cueText(s string) string {
	var lines []string
	for line := range strings.Lines(strings.ReplaceAll(s, "\r", "\n")) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// timestamp formats d as HH:MM:SS.mmm (sep '.', WebVTT) or HH:MM:SS,mmm
// (sep ',', SRT), rounded to the millisecond.
func timestamp(d time.Duration, sep byte) string {
	ms := (d + time.Millisecond/2) / time.Millisecond
	return fmt.Sprintf("%02d:%02d:%02d%c%03d", ms/3600000, ms/60000%60, ms/1000%60, sep, ms%1000)
}
