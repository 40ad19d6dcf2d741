package main

// Flag parsing for every command. The standard library's flag package does
// the parsing — kept rather than cobra/pflag because the airtable and bench
// packages register their flags on a *flag.FlagSet, and every form users'
// scripts have (--flag value, --flag=value, -flag) keeps working as is.
// This file adds what it lacks: VOICEHOOK_<FLAG> environment variables,
// flags after positional arguments, refusing arguments a command does not
// take (a stray word used to end parsing and silently drop every flag after
// it), and one-line errors that say what a flag wants.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"
)

// envName is the environment variable a flag also reads: --data-dir ↔
// VOICEHOOK_DATA_DIR.
func envName(flagName string) string {
	return "VOICEHOOK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet makes a command's flag set; its help lists the flags in the
// order they were registered. name is the command and its synopsis
// ("events show [flags] EVENT_ID").
func newFlagSet(name, synopsis string) *flag.FlagSet {
	return newCommandFlags(name, synopsis, helpLayout{})
}

// newCommandFlags makes a flag set whose help is laid out as layout says.
func newCommandFlags(name, synopsis string, layout helpLayout) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { writeHelp(fs.Output(), fs, synopsis, layout) }
	return fs
}

// parseFlags parses the args of a command that takes flags only.
func parseFlags(fs *flag.FlagSet, args []string) error {
	_, err := parseArgs(fs, args)
	return err
}

// parseArgs parses flags anywhere among args (`events show ID --json`),
// then fills every flag not given from its environment variable: the
// command line wins over the environment, the environment over the
// default. It returns the positional arguments, which must be exactly as
// many as want names ("EVENT_ID"). After "--" everything is positional.
func parseArgs(fs *flag.FlagSet, args []string, want ...string) ([]string, error) {
	cmd := commandPath(fs.Name())
	var failed string
	checkValues(fs, &failed)
	out, usage := fs.Output(), fs.Usage
	// The flag package prints the error and the whole usage itself; these
	// errors are made short below instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	restore := func() { fs.SetOutput(out); fs.Usage = usage }

	var pos []string
	rest := args
	for {
		err := fs.Parse(rest)
		if errors.Is(err, flag.ErrHelp) {
			restore()
			return nil, &helpRequested{helpText(fs)}
		}
		if err != nil {
			restore()
			return nil, flagError(cmd, err, failed)
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			pos = append(pos, left...)
			break
		}
		pos, rest = append(pos, left[0]), left[1:]
	}
	restore()
	if err := setFromEnvironment(fs, cmd); err != nil {
		return nil, err
	}
	return pos, checkPositional(cmd, pos, want)
}

// checkPositional refuses missing and unexpected arguments.
func checkPositional(cmd string, pos, want []string) error {
	if len(pos) > len(want) {
		extra := pos[len(want):]
		quoted := make([]string, len(extra))
		for i, a := range extra {
			quoted[i] = fmt.Sprintf("%q", a)
		}
		noun := "argument"
		if len(extra) > 1 {
			noun = "arguments"
		}
		takes := "flags only"
		if len(want) > 0 {
			takes = "one " + strings.Join(want, " ")
		}
		return usageErrorf(cmd, "unexpected %s %s; voicehook %s takes %s", noun, strings.Join(quoted, " "), cmd, takes)
	}
	if len(pos) < len(want) {
		missing := want[len(pos)]
		article := "a"
		if strings.ContainsRune("AEIOU", rune(missing[0])) {
			article = "an"
		}
		return usageErrorf(cmd, "%s needs %s %s", cmd, article, missing)
	}
	return nil
}

// setFromEnvironment sets every flag not on the command line from its
// VOICEHOOK_<FLAG> variable, if set.
func setFromEnvironment(fs *flag.FlagSet, cmd string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		inner := unwrapValue(f.Value)
		if e := inner.Set(v); e != nil {
			err = usageErrorf(cmd, "%s: %s", envName(f.Name), valueProblem(inner, v, e))
		}
	})
	return err
}

// commandPath is the command a flag set's name starts with:
// "events show [flags] EVENT_ID" → "events show".
func commandPath(name string) string {
	var words []string
	for _, w := range strings.Fields(name) {
		if strings.ContainsAny(w[:1], "-[<") || w == strings.ToUpper(w) && w != strings.ToLower(w) {
			break
		}
		words = append(words, w)
	}
	if len(words) == 0 {
		return name
	}
	return strings.Join(words, " ")
}

// flagError turns the flag package's error into a short one naming the
// flag as users write it.
func flagError(cmd string, err error, failed string) error {
	if failed != "" {
		return usageErrorf(cmd, "%s", failed)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return usageErrorf(cmd, "unknown flag --%s", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return usageErrorf(cmd, "--%s needs a value", name)
	}
	return usageErrorf(cmd, "%s", msg)
}

// checkedValue wraps a flag's value to record, on a failed Set, which flag
// it was and what it wants; the flag package's own message says neither
// in a form users write ("invalid value … for flag -x: parse error").
type checkedValue struct {
	flag.Value
	name   string
	failed *string
}

func (v *checkedValue) Set(s string) error {
	err := v.Value.Set(s)
	if err != nil && *v.failed == "" {
		*v.failed = "--" + v.name + ": " + valueProblem(v.Value, s, err)
	}
	return err
}

// checkedBool keeps a bool flag a bool flag (--flag with no value).
type checkedBool struct{ checkedValue }

func (checkedBool) IsBoolFlag() bool { return true }

// checkValues wraps every flag of fs in a checkedValue reporting to failed.
func checkValues(fs *flag.FlagSet, failed *string) {
	fs.VisitAll(func(f *flag.Flag) {
		switch v := f.Value.(type) {
		case *checkedValue:
			v.failed = failed
			return
		case *checkedBool:
			v.failed = failed
			return
		}
		cv := checkedValue{Value: f.Value, name: f.Name, failed: failed}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			f.Value = &checkedBool{cv}
			return
		}
		f.Value = &cv
	})
}

// unwrapValue is the value a checkedValue wraps.
func unwrapValue(v flag.Value) flag.Value {
	switch w := v.(type) {
	case *checkedValue:
		return w.Value
	case *checkedBool:
		return w.Value
	}
	return v
}

// valueProblem says what a flag wants after Set(s) failed with err. The
// flag package's own values say only "parse error"; values of this
// program and its packages say what they want themselves.
func valueProblem(v flag.Value, s string, err error) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	g, ok := v.(flag.Getter)
	if t.PkgPath() != "flag" || !ok {
		return err.Error()
	}
	want := ""
	switch g.Get().(type) {
	case time.Duration:
		want = "a duration like 30s or 5m"
	case bool:
		want = "true or false"
	case int, int64, uint, uint64:
		want = "a whole number"
	case float64:
		want = "a number like 0.5"
	default:
		return err.Error()
	}
	return fmt.Sprintf("want %s, got %q", want, s)
}
