package main

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/voicehook/voicehook/internal/bench"
	"github.com/voicehook/voicehook/web"
)

// cmdBench is `voicehook bench` (internal/bench), driving this command's
// server.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return benchCommand().Run(ctx, args, stdout, stderr)
}

// benchCommand hands the bench the flag conventions and startBenchServer.
func benchCommand() bench.Command {
	return bench.Command{
		Version:    version(),
		NewFlagSet: newFlagSet,
		ParseFlags: parseFlags,
		ParseSize:  func(s string) (int64, error) { var b byteSize; err := b.Set(s); return int64(b), err },
		Target:     startBenchServer,
		CallbackToken: func(key, segment string) string {
			return web.NewTokens([]byte(key)).For(segment)
		},
	}
}

// startBenchServer builds the app with serve's defaults and the bench's
// settings; the bench runs it and stops it.
func startBenchServer(ctx context.Context, o bench.TargetOptions) (*bench.Server, error) {
	var cfg config
	cfg.register(newFlagSet("bench-serve", ""))
	cfg.Addr, cfg.DataDir, cfg.DatabaseURL = o.Listener.Addr().String(), o.DataDir, o.DatabaseURL
	cfg.CallbackKey = o.CallbackKey
	cfg.ElevenLabsSecret, cfg.FetchAllowPriv, cfg.Workers, cfg.LogLevel = o.Secret, o.FetchAllowPrivate, o.Workers, o.LogLevel
	cfg.AckTarget = o.AckTarget
	log, err := newLogger("text", cfg.LogLevel, o.Log)
	if err != nil {
		return nil, err
	}
	a, err := newApp(ctx, cfg, o.Listener, log)
	if err != nil {
		return nil, err
	}
	srv := &bench.Server{Run: a.run, Commits: a.writer.Stats}
	if o.Process {
		// --scenario ack: acknowledgements with the workers idle, then
		// with them working through the backlog.
		srv.Pause, srv.Resume = a.queue.PauseProcessing, a.queue.ResumeProcessing
	} else {
		srv.Run = a.serveWithoutQueue
	}
	return srv, nil
}

// serveWithoutQueue runs the HTTP server and ingest writer but not the
// queue: deliveries are stored and acknowledged exactly as by `serve`, and
// nothing processes them (bench --process=false: the ingest path alone).
func (a *app) serveWithoutQueue(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- a.http.Serve(a.ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	_ = a.http.Shutdown(sctx)
	a.writer.Close()
	a.closeStore()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
