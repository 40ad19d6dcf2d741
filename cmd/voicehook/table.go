package main

// Output for people: aligned tables, summaries with relative times, and
// JSON printed as the server sent it but readable (indented, & not \u0026).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// newTable writes aligned columns separated by tabs; Flush when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// printJSON writes a JSON reply indented, without HTML escapes. A reply
// that is not JSON is written as it came.
func printJSON(w io.Writer, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		b.Reset()
		b.Write(raw)
	}
	_, err := fmt.Fprintln(w, string(bytes.TrimSpace(unescapeHTML(b.Bytes()))))
	return err
}

// unescapeHTML undoes the escapes Go's encoding/json writes inside strings
// to make JSON safe to embed in HTML (\u0026, \u003c, \u003e), so a URL
// prints with & as people paste it. Every other byte and escape is kept,
// so the JSON means the same.
func unescapeHTML(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			inString = c == '"'
			out = append(out, c)
			continue
		}
		switch c {
		case '"':
			inString = false
			out = append(out, c)
		case '\\':
			if i+6 <= len(b) && b[i+1] == 'u' {
				if r, ok := map[string]byte{"0026": '&', "003c": '<', "003e": '>'}[strings.ToLower(string(b[i+2:i+6]))]; ok {
					out = append(out, r)
					i += 5
					continue
				}
			}
			out = append(out, c)
			if i+1 < len(b) {
				out = append(out, b[i+1]) // the escaped byte, whatever it is
				i++
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

// age is how long ago t was, in a table's few characters: 45s, 3m, 2h, 5d.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// ago says how long ago t was in words: "just now", "3 min ago".
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
}

// when is t in UTC with how long ago it was.
func when(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC") + " (" + ago(now, t) + ")"
}

// took is how long from start to end took, rounded for reading.
func took(start, end time.Time) string {
	d := end.Sub(start)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return shortDuration(d.Round(time.Second))
	}
}

// oneLine is s on one line, cut to at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// humanBytes is a byte count for reading: 812 B, 48.1 KiB, 3.2 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// summary writes "key  value" lines aligned, skipping empty values.
type summary struct{ tw *tabwriter.Writer }

func newSummary(w io.Writer) *summary { return &summary{newTable(w)} }

func (s *summary) line(key, value string) {
	if value != "" {
		fmt.Fprintf(s.tw, "%s\t%s\n", key, value)
	}
}

func (s *summary) flush() error { return s.tw.Flush() }
