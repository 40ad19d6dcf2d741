package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for freshSchema

	"github.com/voicehook/voicehook/internal/audiotest"
	"github.com/voicehook/voicehook/internal/groupcommit"
)

// This file holds the servers the bench drives and the ways it reads
// them: an in-process voicehook (started through the command's Target), an external
// one on this machine, the no-op ceiling, the stand-in audio source, and
// scraping /metrics and the API for processing progress and memory.

// ------------------------------------------------------------- targets

// benchServer is a voicehook server under test.
type benchServer struct {
	base        string
	secret      string
	callbackKey string // its --callback-key, if known
	adminToken  string
	inProcess   bool
	// commits reports the ingest writer's counts so far (in-process only).
	commits func() groupcommit.Stats
	// pause and resume event processing (in-process only; nil otherwise).
	pause, resume func(ctx context.Context) error
	close         func()
}

// Target starts a voicehook server in this process with the settings o,
// wired as `serve` wires it, serving on o.Listener. It returns once the
// store is open and migrated; the server then serves while [Server.Run]
// runs. The bench closes o.Listener if Target fails.
type Target func(ctx context.Context, o TargetOptions) (*Server, error)

// TargetOptions are the settings of the in-process server; every other
// setting is serve's default.
type TargetOptions struct {
	Listener    net.Listener  // on 127.0.0.1, port chosen by the system
	DataDir     string        // a fresh temp dir (--data-dir)
	DatabaseURL string        // "" (SQLite in DataDir), or a fresh PostgreSQL schema's URL (--database-url)
	Secret      string        // --elevenlabs-secret
	CallbackKey string        // --callback-key
	Workers     int           // --workers
	AckTarget   time.Duration // --ack-target (0: off)
	LogLevel    string        // --log-level; the log is text
	Log         io.Writer     // where the log goes
	// FetchAllowPrivate is always true: the bench's audio source is on
	// loopback (--fetch-allow-private).
	FetchAllowPrivate bool
	// Process false: serve without the queue; deliveries are verified,
	// stored and acknowledged exactly as by `serve`, and not processed.
	Process bool
}

// Server is an in-process server that Target started.
type Server struct {
	// Run serves until ctx ends, then shuts down as `serve` does (the
	// HTTP server, the ingest writer, the queue if started, the store).
	Run func(ctx context.Context) error
	// Commits reports the ingest writer's counts so far.
	Commits func() groupcommit.Stats
	// Pause stops event processing: the workers take no new event, while
	// deliveries are still stored, acknowledged and enqueued. It returns
	// once the workers have paused. Resume starts them again. Both are
	// called while Run serves; nil when the server cannot pause (then
	// --scenario ack refuses to run).
	Pause, Resume func(ctx context.Context) error
}

// startInProcess starts a voicehook server in this process through target
// on 127.0.0.1 with a fresh temp data dir (and, for PostgreSQL, a fresh
// schema dropped afterwards).
func startInProcess(ctx context.Context, o *benchOpts, target Target) (*benchServer, error) {
	dir, err := os.MkdirTemp("", "voicehook-bench-")
	if err != nil {
		return nil, err
	}
	cleanup := []func(){func() { os.RemoveAll(dir) }}
	fail := func(err error) (*benchServer, error) {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
		return nil, err
	}
	to := TargetOptions{DataDir: dir, Secret: "wsec_bench_" + randomHex(12), CallbackKey: "bench_" + randomHex(16), Workers: o.workers, AckTarget: o.ackTarget,
		LogLevel: o.serverLogLevel, Log: io.Discard, FetchAllowPrivate: true, Process: o.process}
	if o.databaseURL != "" {
		u, drop, err := freshSchema(ctx, o.databaseURL)
		if err != nil {
			return fail(err)
		}
		cleanup = append(cleanup, drop)
		to.DatabaseURL = u
	}
	if o.serverLog != "" {
		f, err := os.OpenFile(o.serverLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fail(err)
		}
		cleanup = append(cleanup, func() { f.Close() })
		to.Log = f
	}
	to.Listener, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	srv, err := target(ctx, to)
	if err != nil {
		to.Listener.Close()
		return fail(err)
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	return &benchServer{
		base:        "http://" + to.Listener.Addr().String(),
		secret:      to.Secret,
		callbackKey: to.CallbackKey,
		inProcess:   true,
		commits:     srv.Commits,
		pause:       srv.Pause,
		resume:      srv.Resume,
		close: func() {
			stop()
			if err := <-done; err != nil {
				slog.Warn("bench server stopped with error", "err", err)
			}
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		},
	}, nil
}

var benchSchemaSeq atomic.Int64

// freshSchema makes a new schema in the PostgreSQL at base and returns a URL
// whose search_path is that schema, and a function that drops it.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	schema := fmt.Sprintf("voicehook_bench_%d_%d", os.Getpid(), benchSchemaSeq.Add(1))
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("creating schema %s: %w", schema, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := db.ExecContext(dctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			slog.Warn("dropping bench schema", "schema", schema, "err", err)
		}
	}
	return u.String(), drop, nil
}

// startCeiling starts the no-op server: it reads the body and answers 200,
// with the same server settings as voicehook's.
func startCeiling() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	reply := []byte(`{"status":"accepted"}` + "\n")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20)); err != nil {
				http.Error(w, "read error", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(reply)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// startAudioSource serves the same MP3 at every /audio/… path: where the
// callbacks' audio URLs point.
func startAudioSource(d time.Duration) (string, int, func(), error) {
	audio := audiotest.MP3(d)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(audio)))
		_, _ = w.Write(audio)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), len(audio), func() { _ = srv.Close() }, nil
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkLoopbackURL refuses URLs whose host is not a loopback address.
func checkLoopbackURL(flagName, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", flagName, err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s %q: the bench drives servers on this machine only; use 127.0.0.1, ::1 or localhost", flagName, raw)
}

// ------------------------------------------------------------- the API

// apiCall sends one JSON request to the server's API.
func apiCall(ctx context.Context, client *http.Client, method, u, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

func createJob(ctx context.Context, client *http.Client, srv *benchServer, d *delivery) error {
	var job struct {
		ID string `json:"id"`
	}
	err := apiCall(ctx, client, http.MethodPost, srv.base+"/api/jobs", srv.adminToken,
		map[string]string{"segment_id": d.segment, "type": "voiceover_generation"}, &job)
	d.jobID = job.ID
	return err
}

// parallel runs fn(i) for i in [0,n) on conc goroutines, stopping at the
// first error.
func parallel(parent context.Context, n, conc int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(conc, max(n, 1)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		return parent.Err()
	}
	return first
}

// ------------------------------------------------------------- /metrics

// promSample is one scrape of the server's /metrics, keyed by series
// (name{labels}).
type promSample map[string]float64

func scrape(ctx context.Context, client *http.Client, base string) (promSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := promSample{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// processed counts finished processing runs: events that reached a final
// state (succeeded, failed, ignored, dead).
func (p promSample) processed() float64 {
	var n float64
	for _, o := range []string{"succeeded", "failed", "ignored", "dead"} {
		n += p[`voicehook_processing_outcomes_total{outcome="`+o+`"}`]
	}
	return n
}

// ------------------------------------------------------------- end to end

// e2eResult is how the run's deliveries went from delivery to a finished
// job (segment voiceover_ready or voiceover_failed).
type e2eResult struct {
	n, completed, failed, unfinished int
	perSec                           float64       // finished / (last finish − first delivery)
	p50, p99, max                    time.Duration // delivery sent → job finished
	drain                            time.Duration // last ack → last finish
	last                             time.Time     // the last finish
	waited                           time.Duration
}

// waitProcessed polls /metrics until n more events than at baseline have
// finished processing, or until timeout, or until nothing moves for stall.
func waitProcessed(ctx context.Context, client *http.Client, base string, baseline float64, n int, timeout, stall time.Duration) error {
	deadline := time.Now().Add(timeout)
	last, lastMove := -1.0, time.Now()
	for {
		p, err := scrape(ctx, client, base)
		if err == nil {
			done := p.processed() - baseline
			if done >= float64(n) {
				return nil
			}
			if done != last {
				last, lastMove = done, time.Now()
			}
		}
		switch {
		case time.Now().After(deadline):
			return fmt.Errorf("%d of %d events processed after %s", int(last), n, timeout)
		case time.Since(lastMove) > stall:
			return fmt.Errorf("%d of %d events processed; no progress for %s", int(last), n, stall)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// collectE2E reads every delivery's job through the API and measures from
// the delivery's send to the job's completion.
func collectE2E(ctx context.Context, client *http.Client, srv *benchServer, ds []*delivery, sent []time.Time, lastAck time.Time) (*e2eResult, error) {
	jobs, err := readJobs(ctx, client, srv, ds, sent)
	if err != nil {
		return nil, err
	}
	return jobs.e2e(sent, lastAck), nil
}

// jobEnds is how the jobs of a run's deliveries ended, by delivery.
type jobEnds struct {
	status   []string    // the job's status; "" if its delivery was not accepted
	finished []time.Time // when it was completed or failed; zero if neither
}

// readJobs reads the job of every accepted delivery (sent[i] set) through
// the API.
func readJobs(ctx context.Context, client *http.Client, srv *benchServer, ds []*delivery, sent []time.Time) (*jobEnds, error) {
	j := &jobEnds{status: make([]string, len(ds)), finished: make([]time.Time, len(ds))}
	err := parallel(ctx, len(ds), 32, func(ctx context.Context, i int) error {
		if sent[i].IsZero() || ds[i].jobID == "" {
			return nil
		}
		var job struct {
			Status     string `json:"status"`
			Timestamps struct {
				Completed *time.Time `json:"completed"`
				Failed    *time.Time `json:"failed"`
			} `json:"timestamps"`
		}
		if err := apiCall(ctx, client, http.MethodGet, srv.base+"/api/jobs/"+url.PathEscape(ds[i].jobID), srv.adminToken, nil, &job); err != nil {
			return err
		}
		j.status[i] = job.Status
		switch {
		case job.Timestamps.Completed != nil:
			j.finished[i] = *job.Timestamps.Completed
		case job.Timestamps.Failed != nil:
			j.finished[i] = *job.Timestamps.Failed
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// e2e measures from each accepted delivery's send to its job's finish.
func (j *jobEnds) e2e(sent []time.Time, lastAck time.Time) *e2eResult {
	r := &e2eResult{}
	var lat []time.Duration
	var first, last time.Time
	for i := range sent {
		if sent[i].IsZero() {
			continue
		}
		r.n++
		if first.IsZero() || sent[i].Before(first) {
			first = sent[i]
		}
		switch j.status[i] {
		case "completed":
			r.completed++
		case "failed":
			r.failed++
		default:
			r.unfinished++
			continue
		}
		lat = append(lat, j.finished[i].Sub(sent[i]))
		if j.finished[i].After(last) {
			last = j.finished[i]
		}
	}
	if len(lat) == 0 {
		return r
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pick := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	r.p50, r.p99, r.max = pick(0.50), pick(0.99), lat[len(lat)-1]
	if span := last.Sub(first); span > 0 {
		r.perSec = float64(len(lat)) / span.Seconds()
	}
	r.last = last
	r.drain = max(last.Sub(lastAck), 0)
	return r
}

// ------------------------------------------------------------- memory

// memSample is the server's memory at one moment.
type memSample struct {
	at         time.Duration
	heapLive   float64 // Go heap live after the last GC (in-process only)
	heapInuse  float64
	rss        float64
	goroutines float64
	accepted   int64
	processed  float64
	p99        time.Duration // ack latency p99 over the interval
}

// sampleMemory reads the server's memory: runtime statistics when it runs in
// this process (which includes the load generator, whose memory is
// constant), else its /metrics.
func sampleMemory(ctx context.Context, client *http.Client, srv *benchServer) (memSample, promSample) {
	var s memSample
	p, _ := scrape(ctx, client, srv.base)
	if p != nil {
		s.processed = p.processed()
	}
	if srv.inProcess {
		ms := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(ms)
		if ms[0].Value.Kind() == metrics.KindUint64 {
			s.heapLive = float64(ms[0].Value.Uint64())
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s.heapInuse = float64(m.HeapInuse)
		s.rss = selfRSS()
		s.goroutines = float64(runtime.NumGoroutine())
		return s, p
	}
	if p != nil {
		s.heapInuse = p["go_memstats_heap_inuse_bytes"]
		s.rss = p["process_resident_memory_bytes"]
		s.goroutines = p["go_goroutines"]
	}
	return s, p
}

// selfRSS is this process's resident set size from /proc (0 elsewhere).
func selfRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// linearFit fits y = a + b·x by least squares and returns b and r².
func linearFit(xs, ys []float64) (slope, r2 float64) {
	n := float64(len(xs))
	if n < 2 {
		return 0, 0
	}
	var sx, sy, sxx, sxy, syy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
		syy += ys[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, 0
	}
	slope = (n*sxy - sx*sy) / den
	vy := n*syy - sy*sy
	if vy > 0 {
		r := (n*sxy - sx*sy) / (den * vy)
		r2 = r * (n*sxy - sx*sy)
	}
	return slope, r2
}
