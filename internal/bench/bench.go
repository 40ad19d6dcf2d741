// Package bench is `voicehook bench`: it drives a real voicehook server over
// loopback with correctly signed deliveries and, in the same invocation, a
// no-op HTTP server (read the body, answer 200) driven identically: the
// ceiling of what any handler could accept on this machine. Runs alternate
// (ceiling, voicehook, ceiling, voicehook …) so both see the same background
// noise, and the summary reports medians and voicehook's throughput as a
// fraction of the ceiling. With --soak it instead runs at a fixed rate for a
// long time and samples the server's memory. See BENCHMARKS.md.
//
// The server under test is started by the command through a [Target], so
// this package knows nothing of how voicehook is wired.
package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voicehook/voicehook/internal/groupcommit"
)

type benchOpts struct {
	scenario       string
	concurrency    intList
	rate           float64
	count          int
	duration       time.Duration
	sizes          sizeList
	kind           string
	runs           int
	ceiling        bool
	e2e            bool
	process        bool
	e2eTimeout     time.Duration
	target         string
	secret         string
	callbackKey    string
	adminToken     string
	databaseURL    string
	workers        int
	ackTarget      time.Duration
	audioDuration  time.Duration
	timeout        time.Duration
	soak           time.Duration
	sampleEvery    time.Duration
	cpuProfile     string
	serverLogLevel string
	serverLog      string
}

const benchSynopsis = `Drive a voicehook server over loopback with signed deliveries, and a no-op HTTP
server (reads the body, answers 200) driven the same way: the ceiling. Runs
alternate ceiling, voicehook, ceiling, voicehook… and the summary gives medians
and voicehook's accepted/s as a fraction of the ceiling's.

By default voicehook runs in this process (the wiring of 'serve', a fresh temp
data dir per run; --database-url for PostgreSQL, a fresh schema per run).
--target URL --secret S drives a server already running on this machine
(start it with --fetch-allow-private so it can fetch the bench's audio).

Each run first creates one job per delivery through the API; each delivery
completes its job (audio URL on a local audio source, or inline base64 MP3 for
bodies from 1 MB), and the run reports accepted/s, ack latency, errors by
kind, and end to end time from delivery to the job completed (segment
voiceover_ready).

--scenario ack instead measures acknowledgements with processing idle and
with a processing backlog, in one run: processing is paused while deliveries
arrive at --rate (default 1000/s) for --duration (default 10s), then resumed
over the backlog they made while the same load runs again; then every job is
waited for, and the end-to-end rate is measured from the resume. --count
is then the deliveries per phase.

--soak D --rate R instead sends R deliveries/s for D (creating each job just
before its callback) and samples the server's memory every --sample-every,
printing the series and a linear-regression slope.

Examples:
  voicehook bench                                    # 1KB, 64 senders, 3 interleaved pairs
  voicehook bench --concurrency 1,8,64,256 --payload-size 1KB,100KB,5MB
  voicehook bench --rate 1000 --count 20000          # ack latency at a fixed rate
  voicehook bench --scenario ack                     # ack p99 idle and with a backlog, end-to-end rate
  voicehook bench --soak 10m --rate 500              # memory over time`

// Command is `voicehook bench`, given what it takes from the voicehook
// command: its version, its flag conventions and how to start its server.
type Command struct {
	// Version is printed in the header.
	Version string
	// NewFlagSet makes the command's flag set, ParseFlags parses it (the
	// command's conventions: usage text, VOICEHOOK_<FLAG> environment).
	NewFlagSet func(name, synopsis string) *flag.FlagSet
	ParseFlags func(fs *flag.FlagSet, args []string) error
	// ParseSize reads a size such as 1KB, 5MB or 32MiB (--payload-size).
	ParseSize func(string) (int64, error)
	// Target starts the in-process server (all runs without --target).
	Target Target
	// CallbackToken is a segment's callback token under a callback key:
	// deliveries naming a segment carry it, as a pipeline's would.
	CallbackToken func(key, segment string) string
}

// Run parses args and runs the bench, printing its report to stdout.
func (c Command) Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.NewFlagSet("bench [flags]", benchSynopsis)
	fs.SetOutput(stderr)
	o := &benchOpts{concurrency: intList{64}, sizes: sizeList{vals: []int64{1000}, parse: c.ParseSize}}
	fs.StringVar(&o.scenario, "scenario", scenarioThroughput, "throughput: runs at each setting, interleaved with the ceiling; "+
		"ack: ack latency with processing paused, then with it working through the backlog, and the end-to-end rate (in-process server)")
	fs.Var(&o.concurrency, "concurrency", "concurrent senders, or a comma-separated list to run each (e.g. 1,8,64,256)")
	fs.Float64Var(&o.rate, "rate", 0, "deliveries per second, open loop (0: closed loop, each sender sends again as soon as answered)")
	fs.IntVar(&o.count, "count", 0, "deliveries per run (default: 20000 for 1KB, fewer for large payloads: about 256MB per run, at least 100)")
	fs.DurationVar(&o.duration, "duration", 0, "with --rate: run for this long (count = rate × duration)")
	fs.Var(&o.sizes, "payload-size", "body size, or a comma-separated list (e.g. 1KB,100KB,5MB)")
	fs.StringVar(&o.kind, "payload-kind", "auto", "body form: url (completed status with an audio URL), inline (post_call_audio, base64 MP3) or auto (inline from 1 MB)")
	fs.IntVar(&o.runs, "runs", 3, "runs of each server per setting; medians are reported")
	fs.BoolVar(&o.ceiling, "ceiling", true, "also drive the no-op ceiling server, interleaved")
	fs.BoolVar(&o.e2e, "e2e", true, "create a job per delivery and measure delivery → job completed")
	fs.BoolVar(&o.process, "process", true, "in-process server: run its queue; false stores and acknowledges deliveries without processing them (the ingest path alone; implies --e2e=false)")
	fs.DurationVar(&o.e2eTimeout, "e2e-timeout", 10*time.Minute, "how long to wait for a run's events to be processed")
	fs.StringVar(&o.target, "target", "", "drive this already running server (loopback only) instead of one in this process")
	fs.StringVar(&o.secret, "secret", "", "with --target: its --elevenlabs-secret (one of them)")
	fs.StringVar(&o.callbackKey, "callback-key", "", "with --target: its --callback-key, so deliveries carry their segment's token "+
		"(without it the target must run with --segment-token=optional)")
	fs.StringVar(&o.adminToken, "admin-token", "", "with --target: its --admin-token, for creating and reading jobs")
	fs.StringVar(&o.databaseURL, "database-url", "", "in-process server: empty for SQLite in a temp dir, or postgres://… (loopback; a fresh schema per run, dropped after)")
	fs.IntVar(&o.workers, "workers", 8, "in-process server: --workers")
	fs.DurationVar(&o.ackTarget, "ack-target", 5*time.Millisecond, "in-process server: --ack-target (0 turns off narrowing processing while acknowledgements are slow)")
	fs.DurationVar(&o.audioDuration, "audio-duration", 3*time.Second, "length of the MP3 the audio source serves (128 kbit/s)")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "limit of one request")
	fs.DurationVar(&o.soak, "soak", 0, "run a memory soak this long at --rate instead of throughput runs")
	fs.DurationVar(&o.sampleEvery, "sample-every", 10*time.Second, "soak: memory sampling interval")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write CPU profiles of the first voicehook run: PREFIX-ingest.pprof (delivery window) and PREFIX-drain.pprof (processing after it)")
	fs.StringVar(&o.serverLogLevel, "server-log-level", "info", "in-process server: --log-level (its log is discarded unless --server-log)")
	fs.StringVar(&o.serverLog, "server-log", "", "in-process server: append its log to this file")
	if err := c.ParseFlags(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	b := &bench{o: o, out: stdout, version: c.Version, target: c.Target, callbackToken: c.CallbackToken}
	return b.run(ctx)
}

func (o *benchOpts) check() error {
	var errs []string
	switch o.scenario {
	case scenarioThroughput:
	case scenarioAck:
		errs = append(errs, o.ackDefaults()...)
	default:
		errs = append(errs, fmt.Sprintf("--scenario %q: want %s or %s", o.scenario, scenarioThroughput, scenarioAck))
	}
	if o.target != "" {
		if err := checkLoopbackURL("--target", o.target); err != nil {
			errs = append(errs, err.Error())
		}
		if o.secret == "" {
			errs = append(errs, "--target needs --secret (the server's --elevenlabs-secret)")
		}
		if o.databaseURL != "" {
			errs = append(errs, "--database-url is for the in-process server; not with --target")
		}
		o.target = strings.TrimSuffix(o.target, "/")
	}
	if o.databaseURL != "" {
		if err := checkLoopbackURL("--database-url", o.databaseURL); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if o.runs < 1 {
		errs = append(errs, "--runs: want at least 1")
	}
	for _, c := range o.concurrency {
		if c < 1 {
			errs = append(errs, "--concurrency: want at least 1")
		}
	}
	if o.rate < 0 {
		errs = append(errs, "--rate: want 0 (closed loop) or more")
	}
	if o.duration > 0 && o.rate == 0 {
		errs = append(errs, "--duration needs --rate (each delivery's job is created before the run, so the run must know how many)")
	}
	if o.soak > 0 && o.rate == 0 {
		errs = append(errs, "--soak needs --rate")
	}
	if !o.process {
		if o.target != "" {
			errs = append(errs, "--process=false is for the in-process server; not with --target")
		}
		o.e2e = false
	}
	if o.kind != "auto" && o.kind != kindURL && o.kind != kindInline {
		errs = append(errs, "--payload-kind: want auto, url or inline")
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid bench flags:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// countFor is the number of deliveries per run at size.
func (o *benchOpts) countFor(size int64) int {
	switch {
	case o.count > 0:
		return o.count
	case o.rate > 0 && o.duration > 0:
		return max(int(o.rate*o.duration.Seconds()), 1)
	}
	return min(max(int(256e6/max(size, 1)), 100), 20000)
}

// bench is one invocation.
type bench struct {
	o        *benchOpts
	out      io.Writer
	version  string
	target   Target
	audioURL string
	audioLen int
	profiled bool
	summary  []settingSummary
	runSeq   int
	// callbackToken makes a segment's token under a key (Command.CallbackToken).
	callbackToken func(key, segment string) string
}

func (b *bench) say(format string, a ...any) { fmt.Fprintf(b.out, format+"\n", a...) }

func (b *bench) run(ctx context.Context) error {
	o := b.o
	var stopAudio func()
	var err error
	b.audioURL, b.audioLen, stopAudio, err = startAudioSource(o.audioDuration)
	if err != nil {
		return err
	}
	defer stopAudio()
	b.header()
	if o.soak > 0 {
		return b.soak(ctx)
	}
	if o.scenario == scenarioAck {
		return b.ackScenario(ctx)
	}
	for _, size := range o.sizes.vals {
		for _, conc := range o.concurrency {
			if err := b.setting(ctx, size, conc); err != nil {
				return err
			}
		}
	}
	b.printSummary()
	return nil
}

func (b *bench) header() {
	o := b.o
	store := "SQLite (WAL, synchronous=FULL) in a temp dir"
	if o.databaseURL != "" {
		store = "PostgreSQL " + redactURL(o.databaseURL) + " (fresh schema per run)"
	}
	server := "in-process voicehook (the wiring of serve), " + store + fmt.Sprintf(", --workers %d", o.workers)
	if !o.process {
		server += "; queue not started: deliveries are stored and acknowledged, not processed"
	}
	if o.target != "" {
		server = "external voicehook at " + o.target
	}
	b.say("voicehook bench — %s; GOMAXPROCS %d, %d CPUs, %s", b.version, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version())
	b.say("server: %s", server)
	b.say("audio source: %s (MP3 %s, %d bytes)", b.audioURL, o.audioDuration, b.audioLen)
}

func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.LastIndex(s, "@"); j > i {
			rest := s[i+3 : j]
			if k := strings.IndexByte(rest, ':'); k >= 0 {
				return s[:i+3] + rest[:k] + ":***" + s[j:]
			}
		}
	}
	return s
}

// runReport is one run against one server.
type runReport struct {
	target string
	load   *loadResult
	// avgBatch is the ingest writer's average commit during the run
	// (in-process only; 0 otherwise).
	avgBatch float64
	// writerBusy is the fraction of the load window the ingest writer spent
	// committing: near 1, the writer bounds ingest; well below, the CPU.
	writerBusy float64
	e2e        *e2eResult
	e2eErr     error
}

// settingSummary is the medians of one setting (size, senders, rate).
type settingSummary struct {
	size                       int64
	kind                       string
	conc                       int
	rate                       float64
	count                      int
	ceiling, vh                float64 // median accepted/s
	ratio                      float64
	pairs                      []float64
	p50, p99, maxLat           time.Duration
	ceilP99                    time.Duration
	e2ePerSec                  float64
	e2eP50, e2eP99             time.Duration
	errs                       int64
	e2eDone, e2eN, e2eFailures int
}

func (b *bench) setting(ctx context.Context, size int64, conc int) error {
	o := b.o
	kind := kindFor(o.kind, size)
	count := b.o.countFor(size)
	mode := "closed loop"
	if o.rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f/s", o.rate)
	}
	b.say("\n== payload %s (%s), %d senders, %s, %d deliveries per run", fmtBytes(size), kindLabel(kind), conc, mode, count)
	var ceil, vh []runReport
	for r := 1; r <= o.runs; r++ {
		if o.ceiling {
			rep, err := b.ceilingRun(ctx, kind, size, conc, count)
			if err != nil {
				return err
			}
			b.printRun(r, rep)
			ceil = append(ceil, rep)
		}
		rep, err := b.voicehookRun(ctx, kind, size, conc, count)
		if err != nil {
			return err
		}
		b.printRun(r, rep)
		vh = append(vh, rep)
	}
	s := settingSummary{size: size, kind: kind, conc: conc, rate: o.rate, count: count}
	s.vh = median(mapF(vh, func(r runReport) float64 { return r.load.acceptedPerSec() }))
	s.p50 = medianD(mapF(vh, func(r runReport) time.Duration { return r.load.lat.quantile(.5) }))
	s.p99 = medianD(mapF(vh, func(r runReport) time.Duration { return r.load.lat.quantile(.99) }))
	s.maxLat = medianD(mapF(vh, func(r runReport) time.Duration { return r.load.lat.maxValue() }))
	for _, r := range vh {
		for _, n := range r.load.errors {
			s.errs += n
		}
	}
	if len(ceil) > 0 {
		s.ceiling = median(mapF(ceil, func(r runReport) float64 { return r.load.acceptedPerSec() }))
		s.ceilP99 = medianD(mapF(ceil, func(r runReport) time.Duration { return r.load.lat.quantile(.99) }))
		if s.ceiling > 0 {
			s.ratio = s.vh / s.ceiling
		}
		for i := range vh {
			if c := ceil[i].load.acceptedPerSec(); c > 0 {
				s.pairs = append(s.pairs, vh[i].load.acceptedPerSec()/c)
			}
		}
	}
	var withE2E []runReport
	for _, r := range vh {
		if r.e2e != nil {
			withE2E = append(withE2E, r)
			s.e2eDone += r.e2e.completed + r.e2e.failed
			s.e2eN += r.e2e.n
			s.e2eFailures += r.e2e.failed
		}
	}
	if len(withE2E) > 0 {
		s.e2ePerSec = median(mapF(withE2E, func(r runReport) float64 { return r.e2e.perSec }))
		s.e2eP50 = medianD(mapF(withE2E, func(r runReport) time.Duration { return r.e2e.p50 }))
		s.e2eP99 = medianD(mapF(withE2E, func(r runReport) time.Duration { return r.e2e.p99 }))
	}
	b.summary = append(b.summary, s)
	line := fmt.Sprintf("   median: voicehook %.0f/s, ack p50 %s p99 %s max %s", s.vh, ms(s.p50), ms(s.p99), ms(s.maxLat))
	if s.ceiling > 0 {
		line += fmt.Sprintf("; ceiling %.0f/s (p99 %s) → voicehook = %.2f× ceiling (per pair: %s)", s.ceiling, ms(s.ceilP99), s.ratio, joinF(s.pairs, "%.2f"))
	}
	b.say("%s", line)
	if len(withE2E) > 0 {
		b.say("   median end to end: %.0f events/s, delivery → job completed p50 %s p99 %s (%d of %d finished, %d failed)",
			s.e2ePerSec, secs(s.e2eP50), secs(s.e2eP99), s.e2eDone, s.e2eN, s.e2eFailures)
	}
	return nil
}

// tokens makes segments' callback tokens under key; none without a key.
func (b *bench) tokens(key string) func(segment string) string {
	if key == "" || b.callbackToken == nil {
		return nil
	}
	return func(segment string) string { return b.callbackToken(key, segment) }
}

func (b *bench) nextRunID() string {
	b.runSeq++
	return fmt.Sprintf("%s%02d", randomHex(3), b.runSeq)
}

func (b *bench) prepare(kind string, size int64, secret, callbackKey string, count int) []*delivery {
	maker := newPayloadMaker(kind, size, secret, b.nextRunID(), b.audioURL, b.tokens(callbackKey))
	now := time.Now()
	ds := make([]*delivery, count)
	for i := range ds {
		ds[i] = maker.make(i, now)
	}
	return ds
}

// nextOf hands out prepared deliveries. Signatures made before the run stay
// valid for 30 minutes; a run at a rate that lasts longer than 10 minutes
// signs each delivery again as it is sent.
func (b *bench) nextOf(ds []*delivery, secret string) func(int) *delivery {
	if b.o.rate <= 0 || float64(len(ds))/b.o.rate < 600 {
		return func(i int) *delivery { return ds[i] }
	}
	return func(i int) *delivery {
		d := ds[i]
		d.signature = signParts(secret, time.Now(), d.head, d.mid, d.tail)
		return d
	}
}

func (b *bench) ceilingRun(ctx context.Context, kind string, size int64, conc, count int) (runReport, error) {
	base, stop, err := startCeiling()
	if err != nil {
		return runReport{}, err
	}
	defer stop()
	ds := b.prepare(kind, size, "wsec_ceiling", "", count)
	client := newBenchClient(conc, b.o.timeout)
	defer client.CloseIdleConnections()
	runtime.GC()
	res := runLoad(ctx, client, loadSpec{base: base, concurrency: conc, rate: b.o.rate, count: count,
		next: b.nextOf(ds, "wsec_ceiling"), timeout: b.o.timeout})
	return runReport{target: "ceiling", load: res}, ctx.Err()
}

func (b *bench) startServer(ctx context.Context) (*benchServer, error) {
	if b.o.target != "" {
		return &benchServer{base: b.o.target, secret: b.o.secret, callbackKey: b.o.callbackKey, adminToken: b.o.adminToken, close: func() {}}, nil
	}
	return startInProcess(ctx, b.o, b.target)
}

func (b *bench) voicehookRun(ctx context.Context, kind string, size int64, conc, count int) (runReport, error) {
	o := b.o
	srv, err := b.startServer(ctx)
	if err != nil {
		return runReport{}, err
	}
	defer srv.close()
	ds := b.prepare(kind, size, srv.secret, srv.callbackKey, count)
	client := newBenchClient(max(conc, 32), o.timeout)
	defer client.CloseIdleConnections()
	if o.e2e {
		err := parallel(ctx, len(ds), 32, func(ctx context.Context, i int) error { return createJob(ctx, client, srv, ds[i]) })
		if err != nil {
			return runReport{}, fmt.Errorf("creating jobs: %w", err)
		}
	}
	var baseline float64
	if p, err := scrape(ctx, client, srv.base); err == nil {
		baseline = p.processed()
	} else if o.e2e {
		return runReport{}, fmt.Errorf("reading %s/metrics: %w", srv.base, err)
	}
	sent := make([]time.Time, len(ds))
	var commits0 groupcommit.Stats
	if srv.commits != nil {
		commits0 = srv.commits()
	}
	profile := o.cpuProfile != "" && !b.profiled
	if profile {
		b.profiled = true
		if err := startProfile(o.cpuProfile + "-ingest.pprof"); err != nil {
			return runReport{}, err
		}
	}
	runtime.GC()
	loadClient := newBenchClient(conc, o.timeout)
	defer loadClient.CloseIdleConnections()
	res := runLoad(ctx, loadClient, loadSpec{base: srv.base, concurrency: conc, rate: o.rate, count: count,
		next:    b.nextOf(ds, srv.secret),
		after:   func(i int, _ *delivery, t time.Time) { sent[i] = t },
		timeout: o.timeout})
	lastAck := time.Now()
	if profile {
		pprof.StopCPUProfile()
	}
	rep := runReport{target: "voicehook", load: res}
	if srv.commits != nil {
		st := srv.commits()
		if st.Batches > commits0.Batches {
			rep.avgBatch = float64(st.Items-commits0.Items) / float64(st.Batches-commits0.Batches)
		}
		if window := res.elapsed; window > 0 {
			rep.writerBusy = float64(st.Busy-commits0.Busy) / float64(window)
		}
	}
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	if o.e2e && res.accepted > 0 {
		if profile {
			if err := startProfile(o.cpuProfile + "-drain.pprof"); err != nil {
				return rep, err
			}
		}
		t0 := time.Now()
		rep.e2eErr = waitProcessed(ctx, client, srv.base, baseline, int(res.accepted-res.duplicates), o.e2eTimeout, time.Minute)
		if profile {
			pprof.StopCPUProfile()
		}
		e, err := collectE2E(ctx, client, srv, ds, sent, lastAck)
		if err != nil {
			return rep, fmt.Errorf("reading jobs: %w", err)
		}
		e.waited = time.Since(t0)
		rep.e2e = e
	}
	return rep, nil
}

func startProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	return nil
}

func (b *bench) printRun(r int, rep runReport) {
	l := rep.load
	line := fmt.Sprintf("   %d %-9s %8.0f/s  ack p50 %8s p99 %8s max %8s  cpu/delivery %5.1fµs  errors %s", r, rep.target, l.acceptedPerSec(),
		ms(l.lat.quantile(.5)), ms(l.lat.quantile(.99)), ms(l.lat.maxValue()), float64(l.cpuPerDelivery())/1e3, l.errorText())
	if b.o.rate > 0 && l.behind > 0 {
		line += fmt.Sprintf("  (%d sends >1ms behind schedule, max %s)", l.behind, ms(l.maxLag))
	}
	if l.duplicates > 0 {
		line += fmt.Sprintf("  duplicates %d", l.duplicates)
	}
	if rep.avgBatch > 0 {
		line += fmt.Sprintf("  (%.1f deliveries per commit, writer busy %.0f%%)", rep.avgBatch, 100*rep.writerBusy)
	}
	b.say("%s", line)
	if e := rep.e2e; e != nil {
		b.say("               end to end %6.0f/s  p50 %s p99 %s max %s  drain %s  (%d completed, %d failed, %d unfinished)",
			e.perSec, secs(e.p50), secs(e.p99), secs(e.max), secs(e.drain), e.completed, e.failed, e.unfinished)
	}
	if rep.e2eErr != nil {
		b.say("               end to end: %v", rep.e2eErr)
	}
}

func (b *bench) printSummary() {
	if len(b.summary) == 0 {
		return
	}
	b.say("\n== summary (medians of %d runs each)", b.o.runs)
	b.say("| payload | senders | rate | deliveries/run | ceiling acc/s | voicehook acc/s | × ceiling | ack p50 | ack p99 | ack max | end-to-end ev/s | e2e p50 | e2e p99 | errors |")
	b.say("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range b.summary {
		rate := "closed"
		if s.rate > 0 {
			rate = fmt.Sprintf("%.0f/s", s.rate)
		}
		ceil, ratio := "-", "-"
		if s.ceiling > 0 {
			ceil, ratio = fmt.Sprintf("%.0f", s.ceiling), fmt.Sprintf("%.2f", s.ratio)
		}
		e2e, ep50, ep99 := "-", "-", "-"
		if s.e2eN > 0 {
			e2e, ep50, ep99 = fmt.Sprintf("%.0f", s.e2ePerSec), secs(s.e2eP50), secs(s.e2eP99)
		}
		b.say("| %s %s | %d | %s | %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %d |", fmtBytes(s.size), s.kind, s.conc, rate, s.count,
			ceil, s.vh, ratio, ms(s.p50), ms(s.p99), ms(s.maxLat), e2e, ep50, ep99, s.errs)
	}
}

// ------------------------------------------------------------- soak

func (b *bench) soak(ctx context.Context) error {
	o := b.o
	size := o.sizes.vals[0]
	kind := kindFor(o.kind, size)
	conc := o.concurrency[0]
	srv, err := b.startServer(ctx)
	if err != nil {
		return err
	}
	defer srv.close()
	b.say("\n== soak: %s at %.0f deliveries/s, payload %s (%s), up to %d in flight; each job created just before its callback; sampling every %s",
		o.soak, o.rate, fmtBytes(size), kindLabel(kind), conc, o.sampleEvery)
	maker := newPayloadMaker(kind, size, srv.secret, b.nextRunID(), b.audioURL, b.tokens(srv.callbackKey))
	apiClient := newBenchClient(conc, o.timeout)
	defer apiClient.CloseIdleConnections()
	loadClient := newBenchClient(conc, o.timeout)
	defer loadClient.CloseIdleConnections()

	var interval atomic.Pointer[histogram]
	interval.Store(&histogram{})
	var accepted atomic.Int64
	var samples []memSample
	start := time.Now()
	take := func() memSample {
		s, _ := sampleMemory(ctx, apiClient, srv)
		s.at = time.Since(start).Round(time.Second)
		s.accepted = accepted.Load()
		s.p99 = interval.Swap(&histogram{}).quantile(.99)
		return s
	}
	runtime.GC()
	base := take()
	baseProcessed := base.processed
	b.say("   %6s %10s %10s %10s %6s %9s %9s %8s %9s", "t", "heap-live", "heap-inuse", "rss", "gorout", "accepted", "processed", "backlog", "ack p99")
	printSample := func(s memSample) {
		b.say("   %6s %10s %10s %10s %6.0f %9d %9.0f %8.0f %9s", s.at, fmtBytes(int64(s.heapLive)), fmtBytes(int64(s.heapInuse)), fmtBytes(int64(s.rss)),
			s.goroutines, s.accepted, s.processed-baseProcessed, float64(s.accepted)-(s.processed-baseProcessed), ms(s.p99))
	}
	printSample(base)
	samples = append(samples, base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(o.sampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if time.Since(start) >= o.soak {
					// The load is ending: its senders are closing their
					// connections, so this would measure the wind-down.
					return
				}
				s := take()
				printSample(s)
				samples = append(samples, s)
			}
		}
	})
	res := runLoad(ctx, loadClient, loadSpec{base: srv.base, concurrency: conc, rate: o.rate, until: o.soak,
		next: func(i int) *delivery { return maker.make(i, time.Now()) },
		before: func(ctx context.Context, api *http.Client, i int, d *delivery) error {
			return createJob(ctx, api, srv, d)
		},
		api:            apiClient,
		ownConnections: true,
		after:          func(int, *delivery, time.Time) { accepted.Add(1) },
		onLatency:      func(d time.Duration) { interval.Load().record(d) },
		timeout:        o.timeout})
	close(stop)
	wg.Wait()
	b.say("   load: %d sent, %d accepted (%.0f/s), ack p50 %s p99 %s max %s, errors %s, %d sends >1ms behind schedule (max %s)",
		res.sent, res.accepted, res.acceptedPerSec(), ms(res.lat.quantile(.5)), ms(res.lat.quantile(.99)), ms(res.lat.maxValue()),
		res.errorText(), res.behind, ms(res.maxLag))
	drainStart := time.Now()
	if err := waitProcessed(ctx, apiClient, srv.base, baseProcessed, int(res.accepted-res.duplicates), 5*time.Minute, time.Minute); err != nil {
		b.say("   processing after the load: %v", err)
	} else {
		b.say("   every accepted event processed %s after the load ended", secs(time.Since(drainStart)))
	}
	b.printTrend(samples)
	if srv.inProcess {
		b.say("   removing the server's temp data dir (every event's stored audio; this can take minutes)…")
	}
	return ctx.Err()
}

// printTrend fits a line to the memory samples taken under load, after a
// one-minute warm-up (caches, pools and the heap's target settle first).
func (b *bench) printTrend(samples []memSample) {
	warm := time.Minute
	var use []memSample
	for _, s := range samples {
		if s.at >= warm {
			use = append(use, s)
		}
	}
	if len(use) < 3 {
		warm, use = 0, samples[1:]
	}
	if len(use) < 3 {
		b.say("   too few samples for a trend")
		return
	}
	b.say("   trend over %d samples from t=%s (linear least squares; flat = fitted change over the window within ±10%% of the mean, growing = above):", len(use), warm)
	span := (use[len(use)-1].at - use[0].at).Minutes()
	for _, m := range []struct {
		name string
		get  func(memSample) float64
	}{
		{"heap-live", func(s memSample) float64 { return s.heapLive }},
		{"heap-inuse", func(s memSample) float64 { return s.heapInuse }},
		{"rss", func(s memSample) float64 { return s.rss }},
		{"goroutines", func(s memSample) float64 { return s.goroutines }},
	} {
		xs := make([]float64, len(use))
		ys := make([]float64, len(use))
		var mean float64
		for i, s := range use {
			xs[i], ys[i] = s.at.Minutes(), m.get(s)
			mean += ys[i]
		}
		mean /= float64(len(ys))
		if mean == 0 {
			continue
		}
		slope, r2 := linearFit(xs, ys)
		change := slope * span
		verdict := "flat"
		switch {
		case change > 0.10*mean:
			verdict = "GROWING"
		case change < -0.10*mean:
			verdict = "shrinking (no growth)"
		}
		unit := fmtBytes(int64(math.Abs(slope)))
		if m.name == "goroutines" {
			unit = fmt.Sprintf("%.1f", math.Abs(slope))
		}
		sign := "+"
		if slope < 0 {
			sign = "-"
		}
		b.say("     %-10s slope %s%s/min (r² %.2f), fitted change %+.1f%% of mean %s over %s: %s",
			m.name, sign, unit, r2, 100*change/mean, fmtMean(m.name, mean), (use[len(use)-1].at - use[0].at), verdict)
	}
}

func fmtMean(name string, v float64) string {
	if name == "goroutines" {
		return fmt.Sprintf("%.0f", v)
	}
	return fmtBytes(int64(v))
}

// ------------------------------------------------------------- helpers

func kindLabel(kind string) string {
	if kind == kindInline {
		return "post_call_audio, inline base64 MP3"
	}
	return "completed status with audio URL"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func fmtBytes(n int64) string {
	switch {
	case n >= 1e6 && n%1e6 == 0:
		return fmt.Sprintf("%dMB", n/1e6)
	case n >= 1000 && n < 1e6 && n%1000 == 0:
		return fmt.Sprintf("%dKB", n/1000)
	case n >= 1<<30:
		return fmt.Sprintf("%.2fGiB", float64(n)/(1<<30))
	case n >= 10<<20:
		return fmt.Sprintf("%.0fMiB", float64(n)/(1<<20))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func mapF[T, R any](xs []T, f func(T) R) []R {
	out := make([]R, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianD(xs []time.Duration) time.Duration {
	f := make([]float64, len(xs))
	for i, x := range xs {
		f[i] = float64(x)
	}
	return time.Duration(median(f))
}

func joinF(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, " ")
}

// intList is a flag holding one or more comma-separated integers.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(s string) error {
	var out intList
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("want integers such as 1,8,64, got %q", part)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// sizeList is a flag holding one or more comma-separated sizes (1KB,5MB),
// each read by parse.
type sizeList struct {
	vals  []int64
	parse func(string) (int64, error)
}

func (l *sizeList) String() string {
	parts := make([]string, len(l.vals))
	for i, v := range l.vals {
		parts[i] = fmtBytes(v)
	}
	return strings.Join(parts, ",")
}

func (l *sizeList) Set(s string) error {
	var out []int64
	for part := range strings.SplitSeq(s, ",") {
		n, err := l.parse(part)
		if err != nil {
			return err
		}
		out = append(out, n)
	}
	l.vals = out
	return nil
}

var (
	_ flag.Value = (*intList)(nil)
	_ flag.Value = (*sizeList)(nil)
)
