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

const usage = `voicehook — a durable ElevenLabs webhook receiver

Usage: voicehook <command> [flags]

Commands:
  serve     run the server
  demo      run a self-contained demo: a callback goes processing → voiceover_ready
  sign      sign a body as ElevenLabs does (and optionally send it)
  jobs      create and list jobs through a running server's API
  events    list, show and replay events through a running server's API
  callback-url  print a segment's callback URL (with its token) from a running server
  migrate   create or update the store's schema, then exit
  doctor    check a configuration end to end (store, storage) before going live
  bench     load-test a server over loopback against a no-op ceiling (throughput, latency, memory)
  version   print the version

Run 'voicehook <command> --help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "voicehook:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
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
		return cmdJobs(ctx, rest, stdout, stderr)
	case "events":
		return cmdEvents(ctx, rest, stdout, stderr)
	case "callback-url":
		return cmdCallbackURL(ctx, rest, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "doctor":
		return cmdDoctor(ctx, rest, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "voicehook", version())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
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

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve [flags]", "Run the server: the ElevenLabs webhook, the API, media, health and metrics.")
	fs.SetOutput(stderr)
	var cfg config
	cfg.register(fs)
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
	a, err := newApp(ctx, cfg, ln, log)
	if err != nil {
		ln.Close()
		return err
	}
	return a.run(ctx)
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate [flags]", "Create or update the store's schema (voicehook's tables and River's), then exit.")
	fs.SetOutput(stderr)
	var cfg config
	cfg.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, unlock, err := openStore(ctx, cfg, voicehook.SystemClock{})
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
