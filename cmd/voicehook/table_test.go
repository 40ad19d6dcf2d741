package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestUnescapeHTML: the CLI prints & where Go's JSON wrote \u0026, and
// changes nothing else: the JSON still decodes to the same value.
func TestUnescapeHTML(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{`{"callback_url":"http://h/w?segment_id=a\u0026token=b"}`, `{"callback_url":"http://h/w?segment_id=a&token=b"}`},
		{`{"a":"\u003cb\u003e \u003C"}`, `{"a":"<b> <"}`},
		{`{"a":"\\u0026"}`, `{"a":"\\u0026"}`},               // an escaped backslash, then text
		{`{"a":"\"\u0026\""}`, `{"a":"\"&\""}`},              // escaped quotes do not end the string
		{`{"a":"\u00e9\n\u2028"}`, `{"a":"\u00e9\n\u2028"}`}, // other escapes stay
		{`{"\u0026":1}`, `{"&":1}`},
		{`{"a":"x\`, `{"a":"x\`}, // cut short: copied as is
	}
	for _, c := range cases {
		got := string(unescapeHTML([]byte(c.in)))
		if got != c.want {
			t.Errorf("unescapeHTML(%s) = %s, want %s", c.in, got, c.want)
		}
		var a, b any
		if json.Unmarshal([]byte(c.in), &a) == nil {
			if err := json.Unmarshal([]byte(got), &b); err != nil || !cmp.Equal(a, b) {
				t.Errorf("%s means %v, %s means %v (%v)", c.in, a, got, b, err)
			}
		}
	}
	var out bytes.Buffer
	if err := printJSON(&out, []byte(`{"u":"a\u0026b","n":[1,2]}`)); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"u\": \"a&b\",\n  \"n\": [\n    1,\n    2\n  ]\n}\n"; out.String() != want {
		t.Fatalf("printJSON:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestAgesAndSizes(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	got := []string{
		age(now, now.Add(-45*time.Second)), age(now, now.Add(-3*time.Minute)), age(now, now.Add(-5*time.Hour)),
		age(now, now.Add(-72*time.Hour)), age(now, time.Time{}), age(now, now.Add(time.Minute)),
		ago(now, now.Add(-2*time.Second)), ago(now, now.Add(-3*time.Minute)), ago(now, now.Add(-50*time.Hour)),
		when(now, now.Add(-3*time.Minute)),
		took(now, now.Add(1500*time.Millisecond)), took(now, now.Add(90*time.Second)), took(now, now.Add(12*time.Millisecond)),
		humanBytes(812), humanBytes(49_254), humanBytes(3 << 20),
		oneLine("a\n  b\tc", 10), oneLine("abcdefghijkl", 6),
	}
	want := []string{
		"45s", "3m", "5h", "3d", "-", "0s",
		"just now", "3 min ago", "2 days ago",
		"2025-06-01 11:57:00 UTC (3 min ago)",
		"1.5s", "1m30s", "12ms",
		"812 B", "48.1 KiB", "3.0 MiB",
		"a b c", "abcde…",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
