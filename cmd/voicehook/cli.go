package main

// How a command reports how it was misused. A mistake in the command line
// (an unknown flag, a bad value, a stray argument) is a usageError: main
// prints it as one line plus where to find help, and exits 2. Any other
// error is a failure and exits 1. --help is not an error: its text goes to
// stdout and the exit code is 0.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usageError is a mistake in how a command was called.
type usageError struct {
	msg  string
	hint string // where to read more, printed on the next line
}

func (e *usageError) Error() string { return e.msg }

// usageErrorf is a mistake in calling cmd ("serve", "events list"); its hint
// points at the command's help.
func usageErrorf(cmd, format string, a ...any) *usageError {
	return &usageError{msg: fmt.Sprintf(format, a...), hint: fmt.Sprintf("run 'voicehook %s --help' for all flags", cmd)}
}

// helpRequested carries a command's help text to run, which prints it to
// stdout. It matches flag.ErrHelp for callers that only know that.
type helpRequested struct{ text string }

func (h *helpRequested) Error() string        { return "help requested" }
func (h *helpRequested) Is(target error) bool { return target == flag.ErrHelp }

// exitCode is the process's exit code after err: 0 for none, 2 for a
// usage mistake, 1 for a failure.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}

// subcommand is one command of a group such as `jobs`.
type subcommand struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commandGroup is a command made of subcommands: `voicehook jobs list`.
type commandGroup struct {
	name, synopsis string
	subs           []subcommand
}

func (g commandGroup) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	names := make([]string, len(g.subs))
	for i, s := range g.subs {
		names[i] = s.name
	}
	hint := fmt.Sprintf("run 'voicehook %s --help' for its commands", g.name)
	if len(args) == 0 {
		return &usageError{msg: fmt.Sprintf("%s needs a command: %s", g.name, orList(names)), hint: hint}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return &helpRequested{g.help()}
	}
	if strings.HasPrefix(args[0], "-") {
		return &usageError{msg: fmt.Sprintf("%s: give the command first (%s), then its flags", g.name, orList(names)), hint: hint}
	}
	for _, s := range g.subs {
		if s.name == args[0] {
			return s.run(ctx, args[1:], stdout, stderr)
		}
	}
	return &usageError{msg: fmt.Sprintf("unknown %s command %q: want %s", g.name, args[0], orList(names)), hint: hint}
}

func (g commandGroup) help() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: voicehook %s <command> [flags]\n\n%s\n\nCommands:\n", g.name, wrapText(g.synopsis, helpWidth, ""))
	width := 0
	for _, s := range g.subs {
		width = max(width, len(s.name))
	}
	for _, s := range g.subs {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, s.name, s.summary)
	}
	fmt.Fprintf(&b, "\nRun 'voicehook %s <command> --help' for a command's flags.\n", g.name)
	return b.String()
}

// orList is "a", "a or b", "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
