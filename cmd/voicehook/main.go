// Command voicehook receives ElevenLabs callbacks, proves they are genuine,
// never loses one it acknowledged, stores the generated audio and moves each
// voiceover job and its segment to their final state.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/voicehook/voicehook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "voicehook:", err)
		var ue *usageError
		if errors.As(err, &ue) && ue.hint != "" {
			fmt.Fprintln(os.Stderr, ue.hint)
		}
	}
	os.Exit(exitCode(err))
}

// run runs the command args names. Help goes to stdout and is not an error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdout, stderr)
	var help *helpRequested
	if errors.As(err, &help) {
		fmt.Fprint(stdout, help.text)
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{msg: "no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "sign":
		return cmdSign(ctx, rest, stdout, stderr)
	case "jobs":
		return jobsCommands.run(ctx, rest, stdout, stderr)
	case "events":
		return eventsCommands.run(ctx, rest, stdout, stderr)
	case "segments":
		return segmentsCommands.run(ctx, rest, stdout, stderr)
	case "callback-url":
		return cmdCallbackURL(ctx, rest, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "doctor":
		return cmdDoctor(ctx, rest, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(rest, stdout)
	case "help", "-h", "--help", "-help":
		if len(rest) > 0 && rest[0] != "help" && !strings.HasPrefix(rest[0], "-") {
			// voicehook help jobs list = voicehook jobs list --help
			return dispatch(ctx, append(append([]string{}, rest...), "--help"), stdout, stderr)
		}
		return &helpRequested{usage}
	default:
		return &usageError{msg: fmt.Sprintf("unknown command %q; run 'voicehook --help' for the list", cmd)}
	}
}

func cmdVersion(args []string, stdout io.Writer) error {
	fs := newFlagSet("version", "Print the version (the module version and, when built from a checkout, its commit).")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "voicehook", version())
	return nil
}

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// serveFlags is the flag set of serve and the commands that share its
// configuration, with its help grouped by section.
func serveFlags(name, synopsis string, layout helpLayout) (*flag.FlagSet, *config) {
	layout.grouped = true
	fs := newCommandFlags(name, synopsis, layout)
	var cfg config
	cfg.register(fs)
	return fs, &cfg
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs, cfg := serveFlags("serve [flags]", "Run the server: the ElevenLabs webhook, the API, the admin pages, media, health and metrics.", helpLayout{})
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	a, err := newApp(ctx, *cfg, ln, log)
	if err != nil {
		ln.Close()
		return err
	}
	return a.run(ctx)
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfg := serveFlags("migrate [flags]", "Create or update the store's schema (voicehook's tables and River's), then exit.",
		helpLayout{only: []string{"Store"}, note: "migrate also accepts every serve flag (and its VOICEHOOK_* variable) and ignores those it does not use, " +
			"so serve and migrate can share one configuration."})
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, unlock, err := openStore(ctx, *cfg, voicehook.SystemClock{})
	if err != nil {
		return err
	}
	defer unlock()
	defer db.Close()
	fmt.Fprintf(stdout, "%s store is up to date\n", db.Dialect())
	return nil
}

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
