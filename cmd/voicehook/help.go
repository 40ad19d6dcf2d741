package main

// Help text. serve's ~80 flags are grouped by what they configure; other
// commands list their few flags in order. Every help goes to stdout.

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

const helpWidth = 80

// usage is `voicehook --help`.
const usage = `voicehook — a durable ElevenLabs webhook receiver

Usage: voicehook <command> [flags]

Commands:
  serve         run the server
  demo          run a self-contained demo: a callback goes processing → voiceover_ready
                (--serve keeps its server running so you can open its pages)
  sign          sign a body as ElevenLabs does (and optionally send it)
  jobs          create, list and show jobs through a running server's API
  events        list, show, replay and retry events through a running server's API
  segments      show a segment (its voiceover, QA and jobs) through a running server's API
  callback-url  print a segment's callback URL (with its token) from a running server
  migrate       create or update the store's schema, then exit
  doctor        check a configuration end to end (store, storage, ElevenLabs) before going live
  bench         load-test a server over loopback against a no-op ceiling (throughput, latency, memory)
  version       print the version
  help          print this, or a command's help: voicehook help serve

Run 'voicehook <command> --help' for a command's flags.
`

// helpLayout says how a command's help shows its flags.
type helpLayout struct {
	// grouped shows the flags by section (serve's flags).
	grouped bool
	// only, when set, shows only these sections.
	only []string
	// note is a paragraph after the flags.
	note string
}

// sectionOrder is the order of the help's sections.
var sectionOrder = []string{"Doctor", "Server", "Store", "ElevenLabs", "QA", "Storage", "Airtable",
	"Processing", "Limits", "Logging and tracing", "Other"}

// sectionFlags places flags in sections, in the order the help shows them;
// flags not listed are placed by their name's prefix (sectionOf) and shown
// after the listed ones, alphabetically.
var sectionFlags = []struct {
	section string
	flags   []string
}{
	{"Doctor", []string{"check-timeout"}},
	{"Server", []string{"addr", "public-url", "admin-token", "metrics-token", "callback-key", "segment-token", "shutdown-timeout"}},
	{"Store", []string{"data-dir", "database-url", "db-max-conns", "db-statement-timeout", "db-op-timeout", "replica-timeout", "event-retention"}},
	{"ElevenLabs", []string{"elevenlabs-secret", "elevenlabs-api-key", "elevenlabs-api-url", "elevenlabs-concurrency"}},
	{"QA", []string{"qa", "qa-mode", "qa-max-wer", "qa-model"}},
	{"Storage", []string{"storage", "s3-endpoint", "s3-region", "s3-bucket", "s3-access-key", "s3-secret-key", "s3-path-style", "s3-public-url",
		"nca-url", "nca-api-key"}},
	{"Airtable", []string{"records", "airtable-token", "airtable-base", "airtable-api-url", "airtable-requests-per-second"}},
	{"Processing", []string{"workers", "ack-target", "max-attempts", "retry-base", "retry-max", "job-timeout", "job-match-grace", "job-recheck", "fetch-timeout", "fetch-allow-private"}},
	{"Limits", []string{"max-body-bytes", "max-body-memory", "max-call-audio-bytes", "max-audio-bytes", "temp-max-bytes", "ack-timeout"}},
	{"Logging and tracing", []string{"log-format", "log-level", "otel-endpoint"}},
}

// flagPlace is where a flag is shown: its section and its rank in it.
func flagPlace(name string) (section string, rank int) {
	for _, s := range sectionFlags {
		if i := slices.Index(s.flags, name); i >= 0 {
			return s.section, i
		}
	}
	return sectionOf(name), 1 << 20 // after the listed ones
}

// sectionOf places a flag not in sectionFlags by its name's prefix.
func sectionOf(name string) string {
	for _, p := range []struct{ prefix, section string }{
		{"airtable-", "Airtable"}, {"s3-", "Storage"}, {"nca-", "Storage"}, {"elevenlabs-", "ElevenLabs"},
		{"qa-", "QA"}, {"db-", "Store"}, {"log-", "Logging and tracing"}, {"otel-", "Logging and tracing"}, {"max-", "Limits"},
	} {
		if strings.HasPrefix(name, p.prefix) {
			return p.section
		}
	}
	return "Other"
}

// helpText is fs's help as its Usage writes it.
func helpText(fs *flag.FlagSet) string {
	var b bytes.Buffer
	out := fs.Output()
	fs.SetOutput(&b)
	defer fs.SetOutput(out)
	if fs.Usage != nil {
		fs.Usage()
	} else {
		fs.PrintDefaults()
	}
	return b.String()
}

// writeHelp writes a command's help: usage, synopsis, flags.
func writeHelp(w io.Writer, fs *flag.FlagSet, synopsis string, layout helpLayout) {
	fmt.Fprintf(w, "Usage: voicehook %s\n", fs.Name())
	if synopsis != "" {
		fmt.Fprintf(w, "\n%s\n", wrapText(synopsis, helpWidth, ""))
	}
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	var shown []*flag.Flag
	if !layout.grouped {
		if len(flags) > 0 {
			fmt.Fprint(w, "\nFlags:\n")
		}
		for _, f := range flags {
			writeFlag(w, f)
		}
		shown = flags
	} else {
		bySection := map[string][]*flag.Flag{}
		for _, f := range flags { // alphabetical, so the unlisted ones stay so
			s, _ := flagPlace(f.Name)
			bySection[s] = append(bySection[s], f)
		}
		for _, fl := range bySection {
			slices.SortStableFunc(fl, func(a, b *flag.Flag) int {
				_, ra := flagPlace(a.Name)
				_, rb := flagPlace(b.Name)
				return cmp.Compare(ra, rb)
			})
		}
		for _, s := range sectionOrder {
			if len(bySection[s]) == 0 || layout.only != nil && !slices.Contains(layout.only, s) {
				continue
			}
			fmt.Fprintf(w, "\n%s:\n", s)
			for _, f := range bySection[s] {
				writeFlag(w, f)
			}
			shown = append(shown, bySection[s]...)
		}
	}
	if layout.note != "" {
		fmt.Fprintf(w, "\n%s\n", wrapText(layout.note, helpWidth, ""))
	}
	if len(shown) > 0 {
		fmt.Fprintln(w)
		if slices.ContainsFunc(shown, func(f *flag.Flag) bool { _, ok := unwrapValue(f.Value).(*byteSize); return ok }) {
			fmt.Fprintln(w, wrapText(sizeUnitsHelp, helpWidth, ""))
		}
		fmt.Fprintln(w, wrapText(fmt.Sprintf("Every flag is also read from VOICEHOOK_<FLAG> (--%s ↔ %s); the command line wins.",
			shown[0].Name, envName(shown[0].Name)), helpWidth, ""))
	}
}

// writeFlag writes one flag: its name and value's kind, then its usage
// and default, indented.
func writeFlag(w io.Writer, f *flag.Flag) {
	v := unwrapValue(f.Value)
	plain := *f
	plain.Value = v
	kind, text := flag.UnquoteUsage(&plain)
	if k, ok := v.(interface{ kind() string }); ok {
		kind = k.kind()
	}
	head := "  --" + f.Name
	if kind != "" {
		head += " " + kind
	}
	def := f.DefValue
	if g, ok := v.(flag.Getter); ok {
		if d, ok := g.Get().(time.Duration); ok && d > 0 {
			def = shortDuration(d) // 10m, not 10m0s
		}
	}
	switch def {
	case "", "0", "false", "0s":
	default:
		text += " (default " + def + ")"
	}
	fmt.Fprintf(w, "%s\n%s\n", head, wrapText(text, helpWidth, "      "))
}

// wrapText wraps each line of s at width, prefixing every line with indent.
func wrapText(s string, width int, indent string) string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := indent
		for _, word := range strings.Fields(para) {
			if len(line) > len(indent) && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
				out = append(out, line)
				line = indent
			}
			if len(line) > len(indent) {
				line += " "
			}
			line += word
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
