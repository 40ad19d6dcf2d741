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

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable"
	"github.com/voicehook/voicehook/disk"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/groupcommit"
	"github.com/voicehook/voicehook/internal/metrics"
	"github.com/voicehook/voicehook/internal/sqlstore"
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
	clock := voicehook.SystemClock{}
	db, unlock, err := openStore(ctx, cfg, clock)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db, ln: ln, unlock: unlock, baseURL: cfg.publicURL(ln.Addr().String())}
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
	storage, err := buildStorage(cfg, local)
	if err != nil {
		return err
	}
	records, err := buildRecords(cfg, a.db, a.log)
	if err != nil {
		return err
	}
	a.records = records
	m := metrics.New()
	m.WatchStore(a.db.Overview, records.processing) // queue depth, oldest unprocessed age, … computed at scrape time
	studio := &elevenlabs.Studio{BaseURL: cfg.ElevenLabsAPIURL, APIKey: cfg.ElevenLabsAPIKey, HTTP: &http.Client{Timeout: cfg.FetchTimeout}}
	if !cfg.FetchAllowPriv {
		// A Studio stream's redirects lead where ElevenLabs says: they
		// follow the rule audio downloads do.
		studio.CheckAddr = fetch.CheckAddr
	}
	proc := &process.Processor{
		Claims:        a.db,
		Resolver:      records.resolver,
		Records:       records,
		Mirror:        records.mirror,
		Storage:       storage,
		Fetcher:       &fetch.Fetcher{AllowPrivate: cfg.FetchAllowPriv, MaxBytes: int64(cfg.MaxAudioBytes), Timeout: cfg.FetchTimeout, Temp: temp},
		Studio:        studio,
		Spool:         a.db,
		Voices:        a.db, // voice removal notices mark the segments voiced with the voice
		Grace:         cfg.JobMatchGrace,
		MaxAudioBytes: int64(cfg.MaxAudioBytes),
		TempDir:       tmp,
		Clock:         clock,
		Logger:        a.log,
		Metrics:       m,
	}
	qcfg := sqlstore.QueueConfig{
		Workers: cfg.Workers, MaxAttempts: cfg.MaxAttempts, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax,
		JobTimeout: cfg.JobTimeout, PollInterval: pollInterval(cfg), Logger: a.log,
		ReplicaTimeout: cfg.ReplicaTimeout,
	}
	var gen *process.Generator
	if cfg.ElevenLabsAPIKey != "" {
		// Jobs with text are generated here; their turns run on a queue
		// of their own, as wide as the ElevenLabs plan allows.
		gen = &process.Generator{
			Records: records, Storage: storage,
			TTS:           &elevenlabs.TTS{BaseURL: cfg.ElevenLabsAPIURL, APIKey: cfg.ElevenLabsAPIKey, HTTP: &http.Client{Timeout: cfg.FetchTimeout}},
			Studio:        studio,
			Limiter:       process.NewLimiter(cfg.ElevenLabsConc),
			PartsDir:      filepath.Join(cfg.DataDir, "generations"),
			MaxAudioBytes: int64(cfg.MaxAudioBytes), Clock: clock, Logger: a.log.With("component", "generation"), Metrics: m,
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
			STT:  &elevenlabs.STT{BaseURL: cfg.ElevenLabsAPIURL, APIKey: cfg.ElevenLabsAPIKey, HTTP: &http.Client{Timeout: cfg.FetchTimeout}},
			Sync: cfg.QAMode == "sync", Model: cfg.QAModel, MaxWER: cfg.QAMaxWER,
			Clock: clock, Logger: a.log.With("component", "qa"), Metrics: m,
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
	a.writer = groupcommit.New(a.db.Ingest, groupcommit.Options[voicehook.NewEvent, voicehook.IngestResult]{
		Refused: func(err error) voicehook.IngestResult { return voicehook.IngestResult{Err: err} },
		After:   func([]voicehook.NewEvent, []voicehook.IngestResult) { a.queue.Wake() },
		// The store bounds each of its operations too; this bounds the
		// commit as a whole, whatever Commit does.
		Timeout: a.db.OpTimeout(),
	})
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
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// pollInterval: SQLite's queue lives in-process and is woken on insert;
// replicas on PostgreSQL learn of each other's jobs by polling.
func pollInterval(cfg config) time.Duration {
	if cfg.DatabaseURL != "" {
		return 200 * time.Millisecond
	}
	return time.Second
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
}

func randomHex() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
