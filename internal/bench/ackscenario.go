package bench

// --scenario ack: in one run, the acknowledgement latency at a fixed rate
// with processing idle and with processing working through a backlog, and
// the end-to-end rate (issue 17).
//
// One run, on a fresh in-process server with its queue started:
//
//  1. one job per delivery of both phases is created through the API, and
//     processing is paused (Server.Pause: the workers fetch nothing; the
//     enqueuer still inserts queue jobs, as when workers have nothing to do);
//  2. idle phase: open loop at --rate for --duration (or --count);
//  3. backlog phase: processing resumes and at once the same load runs
//     again, with the idle phase's events waiting to be processed;
//  4. drain: every event is waited for (--e2e-timeout), and every job read.
//
// The pause is checked twice, since the idle figures mean nothing without
// it: no event may be processed by the end of the idle phase (/metrics),
// and no job may have finished before the resume (its timestamp, read
// after the drain). A run where either fails is reported as an error.

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/voicehook/voicehook/internal/groupcommit"
)

// Scenarios (--scenario).
const (
	scenarioThroughput = "throughput"
	scenarioAck        = "ack"
)

// ackDefaults applies the ack scenario's defaults (1000/s for 10 s per
// phase) and returns what it cannot run with.
func (o *benchOpts) ackDefaults() []string {
	var errs []string
	if o.rate == 0 {
		o.rate = 1000
	}
	if o.duration == 0 && o.count == 0 {
		o.duration = 10 * time.Second
	}
	if o.target != "" {
		errs = append(errs, "--scenario ack pauses and resumes the in-process server's processing; not with --target")
	}
	if !o.process || !o.e2e {
		errs = append(errs, "--scenario ack runs with processing and end to end; not with --process=false or --e2e=false")
	}
	if o.soak > 0 {
		errs = append(errs, "--scenario ack and --soak are separate runs")
	}
	if len(o.sizes.vals) != 1 || len(o.concurrency) != 1 {
		errs = append(errs, "--scenario ack takes one --payload-size and one --concurrency")
	}
	if o.cpuProfile != "" {
		errs = append(errs, "--cpuprofile is for --scenario throughput")
	}
	return errs
}

// ackPhase is one open-loop phase of an ack run.
type ackPhase struct {
	load                 *loadResult
	avgBatch, writerBusy float64 // the ingest writer during the phase
}

// ackRun is one run of the ack scenario.
type ackRun struct {
	idle, backlog ackPhase
	// idleProcessed: events processed by the end of the idle phase
	// (/metrics); finishedBeforeResume: jobs whose finish time is before
	// the resume. Both 0 when the pause held.
	idleProcessed, finishedBeforeResume int
	waitingAtResume                     int64 // the idle phase's accepted events
	// backlogProcessed: jobs finished between the resume and the backlog
	// phase's end (backlogWindow later).
	backlogProcessed int
	backlogWindow    time.Duration
	all, fresh       *e2eResult    // delivery → job finished: every event; the backlog phase's
	resumeToLast     time.Duration // the resume → the last job finished
	drainErr         error
}

// processedPerSec is the processing rate during the backlog phase.
func (r *ackRun) processedPerSec() float64 {
	if r.backlogWindow <= 0 {
		return 0
	}
	return float64(r.backlogProcessed) / r.backlogWindow.Seconds()
}

// endToEnd is events completed / (resume → last completion).
func (r *ackRun) endToEnd() float64 {
	if r.all == nil || r.resumeToLast <= 0 {
		return 0
	}
	return float64(r.all.completed) / r.resumeToLast.Seconds()
}

func (r *ackRun) pauseHeld() bool { return r.idleProcessed == 0 && r.finishedBeforeResume == 0 }

func (b *bench) ackScenario(ctx context.Context) error {
	o := b.o
	size := o.sizes.vals[0]
	kind := kindFor(o.kind, size)
	conc := o.concurrency[0]
	count := o.countFor(size)
	b.say("\n== ack scenario: payload %s (%s), open loop at %.0f/s (up to %d in flight), %d deliveries per phase, --workers %d; no ceiling",
		fmtBytes(size), kindLabel(kind), o.rate, conc, count, o.workers)
	b.say("   idle = processing paused; backlog = processing resumed with the idle phase's events waiting, under the same load;")
	b.say("   ack = request sent → 200 read; processed during backlog = jobs finished from the resume to the backlog phase's end;")
	b.say("   end to end = jobs completed / (resume → last completion); e2e = delivery sent → its job completed")
	var runs []*ackRun
	var broken []string
	for r := 1; r <= o.runs; r++ {
		run, err := b.ackRun(ctx, kind, size, conc, count)
		if err != nil {
			return fmt.Errorf("ack run %d: %w", r, err)
		}
		b.printAckRun(r, run)
		if !run.pauseHeld() {
			broken = append(broken, fmt.Sprintf("run %d: %d events processed during the idle phase, %d jobs finished before resume",
				r, run.idleProcessed, run.finishedBeforeResume))
		}
		runs = append(runs, run)
	}
	b.printAckSummary(size, kind, conc, count, runs)
	if len(broken) > 0 {
		return fmt.Errorf("the pause did not hold, so the idle figures are not those of idle processing: %s", strings.Join(broken, "; "))
	}
	return nil
}

func (b *bench) ackRun(ctx context.Context, kind string, size int64, conc, count int) (*ackRun, error) {
	o := b.o
	srv, err := b.startServer(ctx)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	if srv.pause == nil || srv.resume == nil {
		return nil, fmt.Errorf("the server cannot pause its processing")
	}
	ds := b.prepare(kind, size, srv.secret, srv.callbackKey, 2*count)
	client := newBenchClient(max(conc, 32), o.timeout)
	defer client.CloseIdleConnections()
	err = parallel(ctx, len(ds), 32, func(ctx context.Context, i int) error { return createJob(ctx, client, srv, ds[i]) })
	if err != nil {
		return nil, fmt.Errorf("creating jobs: %w", err)
	}
	// The server answers HTTP only once its queue has started, so the
	// queue is running now and can be paused.
	if err := withTimeout(ctx, pauseTimeout, srv.pause); err != nil {
		return nil, err
	}
	processed := func() (float64, error) {
		p, err := scrape(ctx, client, srv.base)
		if err != nil {
			return 0, fmt.Errorf("reading %s/metrics: %w", srv.base, err)
		}
		return p.processed(), nil
	}
	p0, err := processed()
	if err != nil {
		return nil, err
	}
	run := &ackRun{}
	sent := make([]time.Time, len(ds))
	runtime.GC()
	run.idle = b.ackPhase(ctx, srv, conc, ds[:count], sent[:count])
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	p1, err := processed()
	if err != nil {
		return nil, err
	}
	run.idleProcessed = int(p1 - p0)
	run.waitingAtResume = run.idle.load.accepted - run.idle.load.duplicates
	runtime.GC()
	resumed := time.Now()
	if err := withTimeout(ctx, pauseTimeout, srv.resume); err != nil {
		return nil, err
	}
	run.backlog = b.ackPhase(ctx, srv, conc, ds[count:], sent[count:])
	backlogEnd := time.Now()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	run.backlogWindow = backlogEnd.Sub(resumed)
	accepted := run.waitingAtResume + run.backlog.load.accepted - run.backlog.load.duplicates
	run.drainErr = waitProcessed(ctx, client, srv.base, p0, int(accepted), o.e2eTimeout, time.Minute)
	jobs, err := readJobs(ctx, client, srv, ds, sent)
	if err != nil {
		return nil, fmt.Errorf("reading jobs: %w", err)
	}
	run.finishedBeforeResume, run.backlogProcessed = finishesAround(jobs.finished, resumed, backlogEnd)
	run.all = jobs.e2e(sent, backlogEnd)
	fresh := &jobEnds{status: jobs.status[count:], finished: jobs.finished[count:]}
	run.fresh = fresh.e2e(sent[count:], backlogEnd)
	if !run.all.last.IsZero() {
		run.resumeToLast = run.all.last.Sub(resumed)
	}
	return run, nil
}

// pauseTimeout bounds a pause or resume: River's producer applies it at
// once, or at its next look at the queue table (every 2 s).
const pauseTimeout = 30 * time.Second

func withTimeout(ctx context.Context, d time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return fn(ctx)
}

// finishesAround counts the finish times before resumed, and those from
// resumed to end (inclusive); zero times are unfinished jobs.
func finishesAround(finished []time.Time, resumed, end time.Time) (before, during int) {
	for _, t := range finished {
		switch {
		case t.IsZero():
		case t.Before(resumed):
			before++
		case !t.After(end):
			during++
		}
	}
	return before, during
}

// ackPhase sends ds at the rate and records each accepted delivery's send
// time in sent.
func (b *bench) ackPhase(ctx context.Context, srv *benchServer, conc int, ds []*delivery, sent []time.Time) ackPhase {
	o := b.o
	var c0 groupcommit.Stats
	if srv.commits != nil {
		c0 = srv.commits()
	}
	loadClient := newBenchClient(conc, o.timeout)
	defer loadClient.CloseIdleConnections()
	res := runLoad(ctx, loadClient, loadSpec{base: srv.base, concurrency: conc, rate: o.rate, count: len(ds),
		next:    b.nextOf(ds, srv.secret),
		after:   func(i int, _ *delivery, t time.Time) { sent[i] = t },
		timeout: o.timeout})
	ph := ackPhase{load: res}
	if srv.commits != nil {
		c1 := srv.commits()
		if c1.Batches > c0.Batches {
			ph.avgBatch = float64(c1.Items-c0.Items) / float64(c1.Batches-c0.Batches)
		}
		if res.elapsed > 0 {
			ph.writerBusy = float64(c1.Busy-c0.Busy) / float64(res.elapsed)
		}
	}
	return ph
}

func ackTriple(h *histogram) string {
	return fmt.Sprintf("%.2f/%.2f/%.2f ms", msF(h.quantile(.5)), msF(h.quantile(.99)), msF(h.maxValue()))
}

func msF(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (b *bench) printAckRun(r int, run *ackRun) {
	b.say("   %d  ack idle p50/p99/max %s | ack backlog p50/p99/max %s | processed during backlog %d (%.0f ev/s) | end to end %.0f ev/s",
		r, ackTriple(run.idle.load.lat), ackTriple(run.backlog.load.lat), run.backlogProcessed, run.processedPerSec(), run.endToEnd())
	phase := func(name string, ph ackPhase) {
		l := ph.load
		line := fmt.Sprintf("      %s: %d sent, %d accepted (%.0f/s), cpu/delivery %.1fµs", name, l.sent, l.accepted, l.acceptedPerSec(),
			float64(l.cpuPerDelivery())/1e3)
		if ph.avgBatch > 0 {
			line += fmt.Sprintf(", %.1f deliveries per commit, writer busy %.0f%%", ph.avgBatch, 100*ph.writerBusy)
		}
		line += fmt.Sprintf(", errors %s, %d sends >1ms late (max %s)", l.errorText(), l.behind, ms(l.maxLag))
		if l.duplicates > 0 {
			line += fmt.Sprintf(", duplicates %d", l.duplicates)
		}
		b.say("%s", line)
	}
	phase("idle", run.idle)
	verdict := "the pause held"
	if !run.pauseHeld() {
		verdict = "THE PAUSE DID NOT HOLD: the idle figures are not those of idle processing"
	}
	b.say("      paused: %d events processed during the idle phase, %d jobs finished before resume (%s); %d events waiting at resume",
		run.idleProcessed, run.finishedBeforeResume, verdict, run.waitingAtResume)
	phase("backlog", run.backlog)
	if e := run.all; e != nil {
		b.say("      drain: resume → last completion %s; delivery → completed p50 %s p99 %s max %s (backlog phase's deliveries p50 %s p99 %s) (%d completed, %d failed, %d unfinished)",
			secs(run.resumeToLast), secs(e.p50), secs(e.p99), secs(e.max), secs(run.fresh.p50), secs(run.fresh.p99), e.completed, e.failed, e.unfinished)
	}
	if run.drainErr != nil {
		b.say("      drain: %v", run.drainErr)
	}
}

func (b *bench) printAckSummary(size int64, kind string, conc, count int, runs []*ackRun) {
	if len(runs) == 0 {
		return
	}
	med := func(f func(*ackRun) time.Duration) string { return ms(medianD(mapF(runs, f))) }
	medF := func(f func(*ackRun) float64) float64 { return median(mapF(runs, f)) }
	var errs int64
	done, n, failed := 0, 0, 0
	for _, r := range runs {
		for _, l := range []*loadResult{r.idle.load, r.backlog.load} {
			for _, k := range l.errors {
				errs += k
			}
		}
		done += r.all.completed + r.all.failed
		n += r.all.n
		failed += r.all.failed
	}
	b.say("\n== summary (medians of %d runs; ack idle = processing paused, ack backlog = processing resumed over the idle phase's events)", len(runs))
	b.say("| payload | senders | rate | workers | deliveries/phase | ack idle p50 | ack idle p99 | ack idle max | ack backlog p50 | ack backlog p99 | ack backlog max | processed during backlog ev/s | end-to-end ev/s | e2e p50 | e2e p99 | late sends idle | late sends backlog | errors |")
	b.say("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	b.say("| %s %s | %d | %.0f/s | %d | %d | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %s | %s | %.0f | %.0f | %d |",
		fmtBytes(size), kind, conc, b.o.rate, b.o.workers, count,
		med(func(r *ackRun) time.Duration { return r.idle.load.lat.quantile(.5) }),
		med(func(r *ackRun) time.Duration { return r.idle.load.lat.quantile(.99) }),
		med(func(r *ackRun) time.Duration { return r.idle.load.lat.maxValue() }),
		med(func(r *ackRun) time.Duration { return r.backlog.load.lat.quantile(.5) }),
		med(func(r *ackRun) time.Duration { return r.backlog.load.lat.quantile(.99) }),
		med(func(r *ackRun) time.Duration { return r.backlog.load.lat.maxValue() }),
		medF((*ackRun).processedPerSec), medF((*ackRun).endToEnd),
		secs(medianD(mapF(runs, func(r *ackRun) time.Duration { return r.all.p50 }))),
		secs(medianD(mapF(runs, func(r *ackRun) time.Duration { return r.all.p99 }))),
		medF(func(r *ackRun) float64 { return float64(r.idle.load.behind) }),
		medF(func(r *ackRun) float64 { return float64(r.backlog.load.behind) }),
		errs)
	b.say("late sends: open-loop sends that started > 1 ms after their due time (the load generator fell behind); e2e includes the idle phase's wait for the resume")
	b.say("%d of %d jobs finished, %d failed", done, n, failed)
}
