package captions_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/captions"
)

const ms = time.Millisecond

// alignment is a clip's characters with their times in seconds, as the
// with-timestamps endpoint answers them.
type alignment struct {
	chars      []string
	start, end []float64
}

func (a *alignment) add(c string, start, end float64) {
	a.chars, a.start, a.end = append(a.chars, c), append(a.start, start), append(a.end, end)
}

func known() *alignment {
	a := &alignment{}
	a.add(" ", 0, 0.05) // a leading space
	a.add("H", 0.05, 0.1234)
	a.add("i", 0.1234, 0.2)
	a.add(",", 0.2, 0.2496) // 249.6 ms → 250
	a.add(" ", 0.2496, 0.3) // two spaces
	a.add(" ", 0.3, 0.3004)
	a.add("y", 0.3004, 0.35) // 300.4 ms → 300
	a.add("o", 0.35, 0.4)
	a.add("u", 0.4, 0.4516) // 451.6 ms → 452
	a.add("\n", 0.4516, 0.5)
	a.add("&", 0.5, 0.6)
	a.add(" ", 0.6, 0.7)
	a.add("<", 0.7, 0.75)
	a.add("", 0.75, 0.75) // an empty character is ignored
	a.add("b", 0.75, 0.8)
	a.add(">", 0.8, 0.85)
	a.add(" ", 0.85, 3725.0)
	a.add("m", 3725.0004, 3725.1) // 1:02:05.000
	a.add("é", 3725.1, 3725.2)
	a.add(".", 3725.2, 3725.2345) // 1:02:05.235
	return a
}

func TestWords(t *testing.T) {
	t.Parallel()
	a := known()
	got, err := captions.Words(a.chars, a.start, a.end)
	if err != nil {
		t.Fatal(err)
	}
	want := []captions.Cue{
		{Start: 50 * ms, End: 250 * ms, Text: "Hi,"},
		{Start: 300 * ms, End: 452 * ms, Text: "you"},
		{Start: 500 * ms, End: 600 * ms, Text: "&"},
		{Start: 700 * ms, End: 850 * ms, Text: "<b>"},
		{Start: 3725000 * ms, End: 3725235 * ms, Text: "mé."}, // 3725.2345 s rounds to …235
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Words (-want +got):\n%s", diff)
	}
}

func TestWordsEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		chars      []string
		start, end []float64
		want       []captions.Cue
		err        string
	}{
		{"empty", nil, nil, nil, nil, ""},
		{"only spaces", []string{" ", "\t"}, []float64{0, 1}, []float64{1, 2}, nil, ""},
		{"end before start is clamped", []string{"a", "b"}, []float64{1, 1.5}, []float64{0.5, 0.9},
			[]captions.Cue{{Start: time.Second, End: time.Second, Text: "ab"}}, ""},
		{"a later character ending earlier does not shorten the word", []string{"a", "b"}, []float64{0, 0.1}, []float64{0.5, 0.2},
			[]captions.Cue{{Start: 0, End: 500 * ms, Text: "ab"}}, ""},
		{"lengths differ", []string{"a"}, []float64{0, 1}, []float64{1}, nil, "1 characters, 2 start and 1 end times"},
		{"NaN", []string{"a"}, []float64{math.NaN()}, []float64{1}, nil, "character 0 (\"a\") start: invalid time NaN s"},
		{"negative", []string{"a"}, []float64{0}, []float64{-1}, nil, "character 0 (\"a\") end: invalid time -1 s"},
		{"infinite", []string{"a"}, []float64{0}, []float64{math.Inf(1)}, nil, "invalid time +Inf s"},
	}
	for _, tc := range tests {
		got, err := captions.Words(tc.chars, tc.start, tc.end)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestOffset(t *testing.T) {
	t.Parallel()
	in := []captions.Cue{{Start: 0, End: 100 * ms, Text: "a"}, {Start: 200 * ms, End: 300 * ms, Text: "b"}}
	got := captions.Offset(in, 1500*ms)
	want := []captions.Cue{{Start: 1500 * ms, End: 1600 * ms, Text: "a"}, {Start: 1700 * ms, End: 1800 * ms, Text: "b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Offset (-want +got):\n%s", diff)
	}
	if in[0].Start != 0 {
		t.Error("Offset changed its input")
	}
	if got := captions.Offset(in, -150*ms); got[0].Start != 0 || got[0].End != 0 || got[1].Start != 50*ms {
		t.Errorf("negative offset: %+v", got)
	}
}

func TestWriteVTT(t *testing.T) {
	t.Parallel()
	a := known()
	cues, err := captions.Words(a.chars, a.start, a.end)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := captions.WriteVTT(&b, cues); err != nil {
		t.Fatal(err)
	}
	want := `WEBVTT

00:00:00.050 --> 00:00:00.250
Hi,

00:00:00.300 --> 00:00:00.452
you

00:00:00.500 --> 00:00:00.600
&amp;

00:00:00.700 --> 00:00:00.850
&lt;b&gt;

01:02:05.000 --> 01:02:05.235
mé.
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteVTT (-want +got):\n%s", diff)
	}
}

func TestWriteSRT(t *testing.T) {
	t.Parallel()
	a := known()
	cues, err := captions.Words(a.chars, a.start, a.end)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := captions.WriteSRT(&b, captions.Offset(cues, 2*time.Second)); err != nil {
		t.Fatal(err)
	}
	want := `1
00:00:02,050 --> 00:00:02,250
Hi,

2
00:00:02,300 --> 00:00:02,452
you

3
00:00:02,500 --> 00:00:02,600
&

4
00:00:02,700 --> 00:00:02,850
<b>

5
01:02:07,000 --> 01:02:07,235
mé.
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteSRT (-want +got):\n%s", diff)
	}
}

// TestWritersCueText: text that would end a cue early (blank lines) or
// hold nothing is cleaned up or left out; a backwards cue is refused.
func TestWritersCueText(t *testing.T) {
	t.Parallel()
	cues := []captions.Cue{
		{Start: 0, End: time.Second, Text: "one\n\n two \r\n"},
		{Start: time.Second, End: 2 * time.Second, Text: " \n "},
		{Start: 2 * time.Second, End: 100*time.Hour + 1500*time.Microsecond, Text: "a --> b"},
	}
	var vtt, srt strings.Builder
	if err := captions.WriteVTT(&vtt, cues); err != nil {
		t.Fatal(err)
	}
	if err := captions.WriteSRT(&srt, cues); err != nil {
		t.Fatal(err)
	}
	wantVTT := "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\none\ntwo\n\n00:00:02.000 --> 100:00:00.002\na --&gt; b\n"
	wantSRT := "1\n00:00:00,000 --> 00:00:01,000\none\ntwo\n\n2\n00:00:02,000 --> 100:00:00,002\na --> b\n"
	if diff := cmp.Diff(wantVTT, vtt.String()); diff != "" {
		t.Errorf("WriteVTT (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSRT, srt.String()); diff != "" {
		t.Errorf("WriteSRT (-want +got):\n%s", diff)
	}

	backwards := []captions.Cue{{Start: time.Second, End: 0, Text: "x"}}
	if err := captions.WriteVTT(&strings.Builder{}, backwards); err == nil {
		t.Error("WriteVTT accepted a cue that ends before it starts")
	}
	if err := captions.WriteSRT(&strings.Builder{}, backwards); err == nil {
		t.Error("WriteSRT accepted a cue that ends before it starts")
	}
	if err := captions.WriteVTT(failingWriter{}, cues); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("write error: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
