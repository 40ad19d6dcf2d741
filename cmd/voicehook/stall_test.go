package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/dbtest"
)

// A stalled PostgreSQL (packets dropped, not refused) must cost a delivery
// --ack-timeout, never a hang: these tests stall the database behind a
// stallProxy and time every answer with a client that gives up well after
// the deadline, so a hang fails the test instead of stalling it.

const (
	stallAck = 2 * time.Second
	// stallMargin is what a 503 may take beyond --ack-timeout (reading the
	// request, the race detector, a busy CI machine).
	stallMargin = 1500 * time.Millisecond
	// recoverWithin: once the database answers again, deliveries get 200
	// within this.
	recoverWithin = 5 * time.Second
)

func TestAckTimeoutDefault(t *testing.T) {
	t.Parallel()
	var cfg config
	fs := newFlagSet("serve", "")
	cfg.register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if cfg.AckTimeout != 5*time.Second {
		t.Fatalf("--ack-timeout default %s, want 5s", cfg.AckTimeout)
	}
	if cfg.DBOpTimeout != 10*time.Second {
		t.Fatalf("--db-op-timeout default %s, want 10s", cfg.DBOpTimeout)
	}
}

// TestPostgresBlackholeAnswers503: for 20 s PostgreSQL's packets vanish (the
// proxy accepts and forwards nothing). Every delivery meanwhile answers 503
// with Retry-After within --ack-timeout, /readyz answers 503, and once the
// network heals deliveries get 200 again within 5 s, without a restart; the
// refused ones are accepted when retried, and every acknowledged event ends
// succeeded.
func TestPostgresBlackholeAnswers503(t *testing.T) {
	t.Parallel()
	h, proxy := setupStalled(t)
	segs := h.stallJobs("bh", 16)
	acked := map[string]string{} // event id → segment
	first := h.deliverTimed(segs[0], stallBody(h, segs[0]), stallAck+stallMargin)
	if first.code != 200 {
		t.Fatalf("delivery before the stall: %+v", first)
	}
	acked[first.ack.EventID] = segs[0]

	proxy.blackhole()
	start := time.Now()
	var refused []timedDelivery
	next := 1
	// Deliveries arrive throughout the stall, two at a time: while the
	// first commit waits, after its deadline has cut its connection, and
	// while new connections hang at connect.
	for round := 0; time.Since(start) < 20*time.Second; round++ {
		for _, d := range h.deliverAll(segs[next:next+2], stallAck+10*time.Second) {
			h.assertRefusedInTime(d)
			refused = append(refused, d)
		}
		next += 2
		h.assertNotReady()
		time.Sleep(min(4*time.Second, time.Until(start.Add(20*time.Second))))
	}
	t.Logf("stall of %s: %d deliveries refused, the slowest 503 in %s", time.Since(start).Round(time.Millisecond), len(refused), slowest(refused))

	proxy.restore()
	healed := time.Now()
	// ElevenLabs retries what was refused; the first retry is the probe.
	h.waitAccepted(refused[0], healed)
	t.Logf("first 200 %s after the network healed", time.Since(healed).Round(time.Millisecond))
	for _, d := range refused {
		r := h.deliverTimed(d.segment, d.body, stallAck+stallMargin)
		if r.code != 200 {
			t.Fatalf("retry after recovery of segment %s: %+v", d.segment, r)
		}
		acked[r.ack.EventID] = d.segment
	}
	h.waitReady(healed)
	h.assertAllSucceeded(acked)
}

// TestPostgresFreezeAnswers503ThenCommits: PostgreSQL's connections freeze
// mid-stream (a few more bytes pass, then nothing; new connections get
// nothing). Deliveries answer 503 within --ack-timeout and /readyz fails.
// When the connections thaw, the commit that was stuck completes: the
// refused deliveries were stored after all, so their retries answer
// duplicate:true, and their events are processed as usual.
func TestPostgresFreezeAnswers503ThenCommits(t *testing.T) {
	t.Parallel()
	// The store's own deadline is long, so the stuck commit outlives the
	// freeze and completes late, the case a 503 must not lose.
	h, proxy := setupStalled(t, func(c *config) { c.DBOpTimeout = 60 * time.Second })
	segs := h.stallJobs("fz", 6)
	acked := map[string]string{}
	first := h.deliverTimed(segs[0], stallBody(h, segs[0]), stallAck+stallMargin)
	if first.code != 200 {
		t.Fatalf("delivery before the stall: %+v", first)
	}
	acked[first.ack.EventID] = segs[0]

	proxy.freeze(7) // part of a protocol message header, then nothing
	refused := h.deliverAll(segs[1:4], stallAck+10*time.Second)
	for _, d := range refused {
		h.assertRefusedInTime(d)
	}
	h.assertNotReady()
	t.Logf("freeze: %d deliveries refused, the slowest 503 in %s", len(refused), slowest(refused))

	proxy.thaw()
	thawed := time.Now()
	h.waitAccepted(timedDelivery{segment: segs[4], body: stallBody(h, segs[4])}, thawed)
	t.Logf("first 200 %s after the thaw", time.Since(thawed).Round(time.Millisecond))
	for _, d := range refused {
		r := h.deliverTimed(d.segment, d.body, stallAck+stallMargin)
		if r.code != 200 || !r.ack.Duplicate {
			t.Fatalf("retry after the thaw of segment %s: %+v, want 200 duplicate:true (the stuck commit stored it)", d.segment, r)
		}
		acked[r.ack.EventID] = d.segment
	}
	h.waitReady(thawed)
	h.assertAllSucceeded(acked)
}

// setupStalled runs the server on PostgreSQL behind a stallProxy with
// --ack-timeout 2s.
func setupStalled(t *testing.T, mutate ...func(*config)) (*harness, *stallProxy) {
	t.Helper()
	u, err := url.Parse(dbtest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallProxy(t, u.Host)
	u.Host = proxy.addr()
	mutate = append([]func(*config){func(c *config) {
		c.DatabaseURL = u.String()
		c.AckTimeout = stallAck
	}}, mutate...)
	h := setup(t, "", mutate...)
	// Cleanups run last-registered first: the database answers again
	// before the server shuts down, even when the test stops mid-stall.
	t.Cleanup(proxy.restore)
	return h, proxy
}

// stallJobs creates n jobs, one per segment, before the stall, and
// remembers each segment's callback URL.
func (h *harness) stallJobs(prefix string, n int) []string {
	segs := make([]string, n)
	for i := range segs {
		segs[i] = fmt.Sprintf("%s-%02d", prefix, i)
		job := h.createJob(segs[i], "")
		u, err := url.Parse(job.CallbackURL)
		if err != nil || job.CallbackURL == "" {
			h.t.Fatalf("job of %s has callback URL %q: %v", segs[i], job.CallbackURL, err)
		}
		callbackPaths.Store(segs[i], u.RequestURI())
	}
	return segs
}

// callbackPaths maps a segment to its job's callback path and query (which
// carries the segment's token).
var callbackPaths sync.Map

func stallBody(h *harness, segment string) []byte {
	return seedCompleted(h.src.url(segment + ".mp3"))
}

// timedDelivery is one delivery's answer and how long it took; err is set
// when the client gave up (the server hung).
type timedDelivery struct {
	segment    string
	body       []byte
	code       int
	ack        ack
	retryAfter string
	took       time.Duration
	err        error
}

// deliverTimed posts a signed delivery to the segment's callback URL,
// giving up after limit.
func (h *harness) deliverTimed(segment string, body []byte, limit time.Duration) timedDelivery {
	d := timedDelivery{segment: segment, body: body}
	path, ok := callbackPaths.Load(segment)
	if !ok {
		h.t.Fatalf("no job for segment %s", segment)
	}
	req, err := http.NewRequest("POST", h.base+path.(string), bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(elevenlabs.HeaderName, elevenlabs.Sign(testSecret, time.Now(), body))
	start := time.Now()
	resp, err := (&http.Client{Timeout: limit}).Do(req)
	if err != nil {
		d.took, d.err = time.Since(start), err
		return d
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	d.took, d.code, d.retryAfter = time.Since(start), resp.StatusCode, resp.Header.Get("Retry-After")
	_ = jsonDecode(bytes.NewReader(raw), &d.ack)
	return d
}

// deliverAll delivers to each segment at once.
func (h *harness) deliverAll(segs []string, limit time.Duration) []timedDelivery {
	out := make([]timedDelivery, len(segs))
	var wg sync.WaitGroup
	for i, s := range segs {
		wg.Go(func() { out[i] = h.deliverTimed(s, stallBody(h, s), limit) })
	}
	wg.Wait()
	return out
}

// assertRefusedInTime: a delivery during a stall answers 503 with
// Retry-After within --ack-timeout.
func (h *harness) assertRefusedInTime(d timedDelivery) {
	h.t.Helper()
	switch {
	case d.err != nil:
		h.t.Fatalf("delivery to %s during the stall hung: no answer after %s (%v)", d.segment, d.took.Round(time.Millisecond), d.err)
	case d.code != 503:
		h.t.Fatalf("delivery to %s during the stall: %d %+v, want 503", d.segment, d.code, d.ack)
	case d.took > stallAck+stallMargin:
		h.t.Fatalf("delivery to %s during the stall answered 503 after %s, want within %s (+%s)", d.segment, d.took, stallAck, stallMargin)
	case d.retryAfter == "":
		h.t.Fatalf("503 during the stall without Retry-After: %+v", d)
	case d.ack.Message == "":
		h.t.Fatalf("503 during the stall without a message: %+v", d)
	}
}

func slowest(ds []timedDelivery) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d.took)
	}
	return m.Round(time.Millisecond)
}

// readyz asks /readyz, giving up after limit.
func (h *harness) readyz(limit time.Duration) (int, error) {
	resp, err := (&http.Client{Timeout: limit}).Get(h.base + "/readyz")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// assertNotReady: /readyz answers 503 during the stall, promptly.
func (h *harness) assertNotReady() {
	h.t.Helper()
	start := time.Now()
	code, err := h.readyz(10 * time.Second)
	if err != nil || code != 503 {
		h.t.Fatalf("/readyz during the stall: %d %v after %s, want 503", code, err, time.Since(start).Round(time.Millisecond))
	}
}

// waitAccepted retries d until it answers 200, which must happen within
// recoverWithin of since.
func (h *harness) waitAccepted(d timedDelivery, since time.Time) {
	h.t.Helper()
	for {
		r := h.deliverTimed(d.segment, d.body, stallAck+stallMargin)
		if r.code == 200 {
			return
		}
		if time.Since(since) > recoverWithin {
			h.t.Fatalf("no 200 within %s of recovery; last answer %+v", recoverWithin, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady: /readyz answers 200 again within recoverWithin of since.
func (h *harness) waitReady(since time.Time) {
	h.t.Helper()
	for {
		code, err := h.readyz(5 * time.Second)
		if code == 200 {
			return
		}
		if time.Since(since) > recoverWithin {
			h.t.Fatalf("/readyz not 200 within %s of recovery: %d %v", recoverWithin, code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertAllSucceeded: no acknowledged event is lost.
func (h *harness) assertAllSucceeded(acked map[string]string) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for id, seg := range acked {
		for {
			ev := h.event(id)
			if ev.Status == "succeeded" {
				break
			}
			if time.Now().After(deadline) {
				h.t.Fatalf("acknowledged event %s (segment %s) is %s, not succeeded, 30s on: %+v", id, seg, ev.Status, ev)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
