package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// envName is the environment variable a flag also reads: --data-dir ↔
// VOICEHOOK_DATA_DIR.
func envName(flagName string) string {
	return "VOICEHOOK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command
// line from its environment variable. The command line wins over the
// environment, the environment over the default.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	return err
}

// newFlagSet makes a flag set whose usage names the env vars too.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: voicehook %s\n\n%s\n\nFlags (each also read from VOICEHOOK_<FLAG>, e.g. --data-dir ↔ VOICEHOOK_DATA_DIR):\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// byteSize is a flag holding a size such as 32MiB, 500KB or 1048576.
type byteSize int64

func (b *byteSize) String() string { return fmt.Sprint(int64(*b)) }

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return fmt.Errorf("want a positive size such as 32MiB, got %q", s)
	}
	*b = byteSize(n * mult)
	return nil
}
