package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable"
	"github.com/voicehook/voicehook/disk"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/ackguard"
	"github.com/voicehook/voicehook/internal/groupcommit"
	"github.com/voicehook/voicehook/internal/metrics"
	"github.com/voicehook/voicehook/internal/sqlstore"
	"github.com/voicehook/voicehook/internal/tracing"
	"github.com/voicehook/voicehook/postgres"
	"github.com/voicehook/voicehook/process"
	"github.com/voicehook/voicehook/sqlite"
	"github.com/voicehook/voicehook/web"
)

// app is one running voicehook server: store, ingest writer, queue and
// HTTP server, wired from a config.
type app struct {
	cfg     config
	log     *slog.Logger
	db      *sqlstore.DB
	writer  *groupcommit.Writer[voicehook.NewEvent, voicehook.IngestResult]
	queue   *sqlstore.Queue
	records recordsBackend
	http    *http.Server
	ln      net.Listener
	unlock  func()
	temp    *fetch.TempDir
	baseURL string
	clock   voicehook.Clock
	// ackGuard narrows processing while acknowledgements are slow
	// (--ack-target; nil when off).
	ackGuard *ackguard.Guard
	// tracing is on with --otel-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT;
	// off, nothing below is wrapped (internal/tracing).
	tracing *tracing.Tracing
}

// openStore opens (and migrates) the store the config names.
func openStore(ctx context.Context, cfg config, clock voicehook.Clock) (*sqlstore.DB, func(), error) {
	var db *sqlstore.DB
	unlock := func() {}
	var err error
	if cfg.DatabaseURL == "" {
		unlock, err = lockDataDir(cfg.DataDir)
		if err != nil {
			return nil, nil, err
		}
		db, err = sqlite.Open(cfg.DataDir, sqlite.Options{Clock: clock, OpTimeout: cfg.DBOpTimeout})
	} else {
		db, err = postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Clock: clock, MaxConns: cfg.DBMaxConns, StatementTimeout: cfg.DBStmtTimeout, OpTimeout: cfg.DBOpTimeout})
	}
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("opening store: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		unlock()
		return nil, nil, fmt.Errorf("migrating store: %w", err)
	}
	return db, unlock, nil
}

func newApp(ctx context.Context, cfg config, ln net.Listener, log *slog.Logger) (*app, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tr, err := tracing.Setup(ctx, tracing.Config{Endpoint: cfg.OTelEndpoint, ServiceVersion: version()})
	if err != nil {
		return nil, err
	}
	// Log lines written within a trace carry its trace and span ids.
	log = tr.Logger(log)
	tr.ReportErrors(log)
	if url, source := tr.Endpoint(); url != "" {
		log.Info("tracing: sending spans over OTLP/HTTP", "endpoint", url, "from", source)
	}
	clock := voicehook.SystemClock{}
	db, unlock, err := openStore(ctx, cfg, clock)
	if err != nil {
		_ = tr.Shutdown(ctx) // nothing was traced yet
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db, ln: ln, unlock: unlock, baseURL: cfg.publicURL(ln.Addr().String()), tracing: tr}
	if err := a.wire(ctx, clock); err != nil {
		a.closeStore()
		return nil, err
	}
	return a, nil
}

func (a *app) wire(ctx context.Context, clock voicehook.Clock) error {
	a.clock = clock
	cfg := a.cfg
	callbackKey := cfg.CallbackKey
	if callbackKey == "" {
		var err error
		callbackKey, err = a.db.Secret(ctx, "callback_key", randomHex)
		if err != nil {
			return fmt.Errorf("reading callback key: %w", err)
		}
	}
	mediaKey, err := a.db.Secret(ctx, "media_key", randomHex)
	if err != nil {
		return fmt.Errorf("reading media key: %w", err)
	}
	// Audio on its way to storage sits in a folder of this process's own
	// under <data-dir>/tmp; what killed processes left there goes now.
	// On SQLite the data-dir lock makes every older file an orphan; on
	// PostgreSQL replicas may share the data dir, and only folders whose
	// owner's lock is free are swept (fetch.OpenTempDir).
	temp, swept, err := fetch.OpenTempDir(filepath.Join(cfg.DataDir, "tmp"), cfg.tempMaxBytes(), time.Now(), cfg.DatabaseURL == "")
	if err != nil {
		return err
	}
	a.temp = temp
	if swept.Files > 0 {
		a.log.Info("removed orphaned temp files", "files", swept.Files, "bytes", swept.Bytes, "dir", temp.Root)
	}
	tmp := temp.Path
	local, err := disk.New(filepath.Join(cfg.DataDir, "media"), a.baseURL, []byte(mediaKey), disk.WithClock(clock))
	if err != nil {
		return fmt.Errorf("setting up local storage: %w", err)
	}
	storage, err := buildStorage(cfg, local, a.tracing)
	if err != nil {
		return err
	}
	if a.tracing.On() && cfg.Airtable.HTTPClient == nil {
		timeout := cfg.Airtable.RequestTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second // airtable.Config's default
		}
		cfg.Airtable.HTTPClient = a.tracing.Client(&http.Client{Timeout: timeout})
	}
	records, err := buildRecords(cfg, a.db, a.log)
	if err != nil {
		return err
	}
	a.records = records
	m := metrics.New()
	m.WatchStore(a.db.Overview, records.processing) // queue depth, oldest unprocessed age, … computed at scrape time
	// Every outside call made within a trace carries its traceparent: the
	// clients' transports are wrapped when tracing is on (and only then).
	studio := &elevenlabs.Studio{BaseURL: cfg.ElevenLabsAPIURL, APIKey: cfg.ElevenLabsAPIKey, HTTP: a.tracing.Client(&http.Client{Timeout: cfg.FetchTimeout})}
	if !cfg.FetchAllowPriv {
		// A Studio stream's redirects lead where ElevenLabs says: they
		// follow the rule audio downloads do.
		studio.CheckAddr = fetch.CheckAddr
	}
	if a.tracing.On() {
		studio.WrapTransport = a.tracing.Transport
	}
	fetcher := &fetch.Fetcher{AllowPrivate: cfg.FetchAllowPriv, MaxBytes: int64(cfg.MaxAudioBytes), Timeout: cfg.FetchTimeout, Temp: temp}
	if a.tracing.On() {
		fetcher.WrapTransport = a.tracing.Transport
	}
	proc := &process.Processor{
		Claims:        a.db,
		Resolver:      records.resolver,
		Records:       records,
		Mirror:        records.mirror,
		Storage:       storage,
		Fetcher:       fetcher,
		Studio:        studio,
		Spool:         a.db,
		Voices:        a.db, // voice removal notices mark the segments voiced with the voice
		Grace:         cfg.JobMatchGrace,
		Waits:         a.db, // an event before its job is parked until the job comes
		MaxAudioBytes: int64(cfg.MaxAudioBytes),
		TempDir:       tmp,
		Clock:         clock,
		Logger:        a.log,
		Metrics:       m,
		Tracing:       a.tracing,
	}
	qcfg := sqlstore.QueueConfig{
		Workers: cfg.Workers, MaxAttempts: cfg.MaxAttempts, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax,
		JobTimeout: cfg.JobTimeout, PollInterval: pollInterval(cfg), Logger: a.log,
		ReplicaTimeout: cfg.ReplicaTimeout, Tracing: a.tracing,
	}
	if cfg.AckTarget > 0 {
		a.ackGuard = ackguard.New(ackguard.Config{Max: cfg.Workers, Target: cfg.AckTarget, MinSamples: 100,
			OnChange: func(width int) {
				m.ProcessingWidth.Set(float64(width))
				a.log.Debug("processing width", "width", width, "ack_target", cfg.AckTarget)
			}})
		qcfg.Gate = a.ackGuard
	}
	m.ProcessingWidth.Set(float64(cfg.Workers))
	if cfg.Records == "airtable" {
		// Jobs created in the base itself wake no parked event: each
		// looks for its job again every --job-recheck, a few at a time
		// (the base allows 5 requests/s).
		qcfg.Recheck = cfg.JobRecheck
	} else {
		qcfg.MatchParked = true
	}
	var gen *process.Generator
	if cfg.ElevenLabsAPIKey != "" {
		// Jobs with text are generated here; their turns run on a queue
		// of their own, as wide as the ElevenLabs plan allows.
		gen = &process.Generator{
			Records: records, Storage: storage,
			TTS:           &elevenlabs.TTS{BaseURL: cfg.ElevenLabsAPIURL, APIKey: cfg.ElevenLabsAPIKey, HTTP: a.tracing.Client(&http.Client{Timeout: cfg.FetchTimeout})},
			Studio:        studio,
			Limiter:       process.NewLimiter(cfg.ElevenLabsConc),
			PartsDir:      filepath.Join(cfg.DataDir, "generations"),
			MaxAudioBytes: int64(cfg.MaxAudioBytes), Clock: clock, Logger: a.log.With("component", "generation"), Metrics: m,
			Tracing: a.tracing,
		}
		qcfg.Generator, qcfg.GenerationWorkers = gen, cfg.ElevenLabsConc
	}
	var checker *process.Checker
	if cfg.QA == "stt" {
		// qaWorkers: speech-to-text requests at once; each is short (the
		// webhook mode's answer comes at once).
		const qaWorkers = 2
		// Every stored voiceover whose script is known is transcribed and
		// compared with it, on a queue of its own.
		checker = &process.Checker{
			Records: records, Shown: records.qa,
			STT:  &elevenlabs.STT{BaseURL: cfg.ElevenLabsAPIURL, APIKey: cfg.ElevenLabsAPIKey, HTTP: a.tracing.Client(&http.Client{Timeout: cfg.FetchTimeout})},
			Sync: cfg.QAMode == "sync", Model: cfg.QAModel, MaxWER: cfg.QAMaxWER,
			Clock: clock, Logger: a.log.With("component", "qa"), Metrics: m, Tracing: a.tracing,
		}
		if r, ok := storage.(voicehook.AudioReader); ok {
			checker.Audio = r
		}
		qcfg.Checker, qcfg.QAWorkers = checker, qaWorkers
		proc.QA = checker
		if gen != nil {
			gen.QA = checker
		}
	}
	a.queue, err = a.db.NewQueue(proc, qcfg)
	if err != nil {
		return err
	}
	var qaChecks voicehook.QAChecks
	if checker != nil {
		checker.QA = a.queue.QA()
		qaChecks = checker.QA
	}
	var generations voicehook.Generations
	if gen != nil {
		gen.Generations = a.queue.Generations()
		generations = gen.Generations
	}
	wopts := groupcommit.Options[voicehook.NewEvent, voicehook.IngestResult]{
		Refused: func(err error) voicehook.IngestResult { return voicehook.IngestResult{Err: err} },
		After:   func([]voicehook.NewEvent, []voicehook.IngestResult) { a.queue.Wake() },
		// The store bounds each of its operations too; this bounds the
		// commit as a whole, whatever Commit does.
		Timeout: a.db.OpTimeout(),
	}
	if a.tracing.On() {
		// Each delivery's commit is a span of its trace, and the event
		// keeps that span's context: its queue wait and attempts continue
		// the trace from there.
		wopts.Traced = func(ev voicehook.NewEvent, commit trace.SpanContext) voicehook.NewEvent {
			ev.TraceParent = tracing.TraceParent(commit)
			return ev
		}
		wopts.Failed = func(r voicehook.IngestResult) error { return r.Err }
	}
	a.writer = groupcommit.New(a.db.Ingest, wopts)
	if len(cfg.secrets()) == 0 {
		a.log.Warn("no --elevenlabs-secret: signed webhooks will be refused; only callback-token URLs are accepted")
	}
	srv := &web.Server{
		Verifier:     &elevenlabs.Verifier{Secrets: cfg.secrets(), Clock: clock},
		Tokens:       web.NewTokens([]byte(callbackKey)),
		Ingest:       a.writer.Submit,
		Inbox:        a.db,
		Records:      records,
		Generations:  generations,
		VoiceNotices: a.db,
		QA:           qaChecks,
		// A base whose segments hold their scripts needs only the
		// segment id to generate.
		ScriptFromRecords:    cfg.Records == "airtable" && cfg.Airtable.Fields.SegmentScript != "",
		Wake:                 a.queue.Wake,
		Waits:                a.db,
		Acked:                a.acked,
		Media:                local.Handler(cfg.Storage != "local"),
		Metrics:              m,
		AdminToken:           cfg.AdminToken,
		MetricsToken:         cfg.MetricsToken,
		SessionRevocations:   a.db, // sign-outs shared by every replica
		PublicURL:            a.baseURL,
		MaxBodyBytes:         int64(cfg.MaxBodyBytes),
		Bodies:               web.NewBodyBudget(cfg.bodyMemory()),
		Spool:                a.db,
		MaxCallAudioBytes:    int64(cfg.MaxCallAudioBytes),
		SegmentTokenOptional: cfg.SegmentToken == "optional",
		AckTimeout:           cfg.AckTimeout,   // a delivery waits this for its commit, then answers 503
		WriterRunning:        a.writer.Running, // /readyz fails while a commit runs longer than AckTimeout
		Clock:                clock,
		Logger:               a.log,
	}
	if at, ok := records.Records.(*airtable.Records); ok {
		// The overview shows the pace voicehook keeps with Airtable,
		// which it lowers by itself after repeated 429s.
		srv.RecordsPace = func() web.RecordsPace {
			p := at.Pace()
			return web.RecordsPace{Service: "Airtable", PerSecond: p.PerSecond, Max: p.Max, Note: p.Reason()}
		}
	}
	a.http = &http.Server{
		// A delivery is the root of its trace (off: the handler itself).
		Handler:           a.tracing.Server(srv.Handler(), isDelivery),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// isDelivery: the requests traced from the server on (a delivery's trace
// begins at the webhook); the API and pages are not.
func isDelivery(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == web.WebhookPath
}

// pollInterval: SQLite's queue lives in-process and is woken on insert;
// replicas on PostgreSQL learn of each other's jobs by polling.
func pollInterval(cfg config) time.Duration {
	if cfg.DatabaseURL != "" {
		return 200 * time.Millisecond
	}
	return time.Second
}

// acked feeds the guard each acknowledgement's time (a no-op without one).
func (a *app) acked(d time.Duration) {
	if a.ackGuard != nil {
		a.ackGuard.Observe(d)
	}
}

// run serves until ctx ends, then shuts down in order: stop accepting and
// finish in-flight requests (each waits for its commit), commit what the
// writer holds, let workers finish within the bound, close the store.
func (a *app) run(ctx context.Context) error {
	if err := a.queue.Start(ctx); err != nil {
		a.writer.Close()
		a.closeStore()
		return err
	}
	// Spooled call audio whose upload a crash cut (its event never
	// committed) is swept an hour after it began, at the next start.
	if n, err := a.db.SweepSpool(ctx, a.clock.Now().Add(-time.Hour)); err != nil {
		a.log.Warn("sweeping the spool of cut uploads; the next start tries again", "err", err)
	} else if n > 0 {
		a.log.Info("swept the spool of cut uploads", "rows", n)
	}
	a.log.Info("voicehook serving", "addr", a.ln.Addr().String(), "public_url", a.baseURL,
		"store", a.db.Dialect().String(), "records", a.cfg.Records, "storage", a.cfg.Storage)
	stopRetention := a.startRetention(ctx)
	stopSamples := a.startSamples(ctx)
	errc := make(chan error, 1)
	go func() { errc <- a.http.Serve(a.ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := a.http.Shutdown(sctx); err != nil {
		a.log.Warn("http shutdown", "err", err)
	}
	a.writer.Close()
	stopRetention()
	stopSamples()
	if err := a.queue.Stop(sctx); err != nil {
		a.log.Warn("queue shutdown", "err", err)
	}
	// After the workers: what the records still hold (Airtable's event
	// mirrors) is written within what is left of the bound.
	if err := a.records.close(sctx); err != nil {
		a.log.Warn("closing records", "err", err)
	}
	a.closeStore()
	a.log.Info("stopped")
	if errors.Is(serveErr, http.ErrServerClosed) {
		return nil
	}
	return serveErr
}

// startSamples records the queue's depth and oldest wait once a minute for
// the overview's charts (one row a minute whatever the replicas), until
// the returned stop is called.
func (a *app) startSamples(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			if err := a.db.RecordSample(ctx, a.clock.Now()); err != nil && ctx.Err() == nil {
				a.log.Warn("recording the queue sample for the overview's charts", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// startRetention runs the event purge (--event-retention) until the
// returned stop is called; stop waits for a purge under way to end.
func (a *app) startRetention(ctx context.Context) (stop func()) {
	if a.cfg.EventRetention <= 0 {
		return func() {}
	}
	r := &process.Retention{Store: a.db, Keep: a.cfg.EventRetention, Every: a.cfg.retentionEvery, Clock: a.clock,
		Logger: a.log.With("component", "retention")}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// closeStore releases what the app holds: the records' pending writes, the
// store, the temp dir and the data-dir lock, then sends the last spans.
func (a *app) closeStore() {
	if a.records.close != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.records.close(ctx) // a no-op if run closed them
		cancel()
	}
	if err := a.db.Close(); err != nil {
		a.log.Warn("closing store", "err", err)
	}
	if a.temp != nil {
		if err := a.temp.Close(); err != nil {
			a.log.Warn("removing temp dir", "err", err)
		}
	}
	a.unlock()
	// Last: the spans of everything above, the workers' attempts among
	// them, are sent before the process ends.
	tctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.tracing.Shutdown(tctx); err != nil {
		a.log.Warn("sending the last spans", "err", err)
	}
}

func randomHex() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
