package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// This file is the load engine of `voicehook bench`: the deliveries it sends,
// the loop that sends them (closed loop at a concurrency, or open loop at a
// rate), and a constant-memory latency histogram.

// ------------------------------------------------------------- deliveries

// delivery is one signed webhook request. Large bodies share their bulk
// (mid) between deliveries, so a run of 5 MB deliveries does not hold
// count × 5 MB in memory: the body is head + mid + tail.
type delivery struct {
	segment    string // the segment (and job) it completes
	query      string // path and query after the base URL
	signature  string // ElevenLabs-Signature header
	head, tail []byte
	mid        []byte // shared; may be nil
	jobID      string // set once its job is created
}

func (d *delivery) size() int64 { return int64(len(d.head) + len(d.mid) + len(d.tail)) }

func (d *delivery) body() io.Reader {
	if d.mid == nil && d.tail == nil {
		return bytes.NewReader(d.head)
	}
	return io.MultiReader(bytes.NewReader(d.head), bytes.NewReader(d.mid), bytes.NewReader(d.tail))
}

// payloadKind names the body forms the bench sends.
const (
	kindURL    = "url"    // the seed's {"status":"completed","output":{"url":…}}, padded to size
	kindInline = "inline" // post_call_audio with base64 MP3 in data.full_audio
)

// kindFor picks the body form for a size when --payload-kind is auto: the
// audio URL form for small bodies, inline base64 audio from 1 MB up (the
// only ElevenLabs callback that is large is post_call_audio).
func kindFor(kind string, size int64) string {
	if kind != "auto" {
		return kind
	}
	if size >= 1_000_000 {
		return kindInline
	}
	return kindURL
}

// payloadMaker builds the deliveries of one run.
type payloadMaker struct {
	kind     string
	size     int64
	secret   string
	runID    string
	audioURL string                      // base of the audio source, for kindURL
	token    func(segment string) string // its callback token; nil sends none
	filler   []byte                      // shared padding (kindURL)
	b64      []byte                      // shared base64 MP3 (kindInline)
}

func newPayloadMaker(kind string, size int64, secret, runID, audioURL string, token func(string) string) *payloadMaker {
	p := &payloadMaker{kind: kind, size: size, secret: secret, runID: runID, audioURL: audioURL, token: token}
	switch kind {
	case kindInline:
		// MP3 frames whose base64 fills the body up to size, less the
		// envelope around it (about 150 bytes).
		raw := max(size-160, 1) * 3 / 4
		frameLen := int64(len(audiotest.MP3Frame(false)))
		frames := max(int(raw/frameLen), 1)
		p.b64 = []byte(base64.StdEncoding.EncodeToString(audiotest.MP3Frames(frames)))
	default:
		// Plain text such as a transcript would carry; JSON-safe.
		const text = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
		n := max(size, 0)
		p.filler = bytes.Repeat([]byte(text), int(n)/len(text)+1)[:n]
	}
	return p
}

// make returns delivery i, signed at now.
func (p *payloadMaker) make(i int, now time.Time) *delivery {
	seg := fmt.Sprintf("bench-%s-%07d", p.runID, i)
	d := &delivery{segment: seg, query: "/webhooks/elevenlabs?segment_id=" + url.QueryEscape(seg)}
	if p.token != nil {
		d.query += "&token=" + p.token(seg)
	}
	switch p.kind {
	case kindInline:
		d.head = fmt.Appendf(nil, `{"type":"post_call_audio","event_timestamp":%d,"data":{"agent_id":"bench","conversation_id":"conv-%s","full_audio":"`,
			now.Unix(), seg)
		d.mid = p.b64
		d.tail = []byte(`"}}`)
	default:
		head := fmt.Appendf(nil, `{"status":"completed","output":{"url":"%s/audio/%s.mp3"},"request_id":"%s","metadata":{"notes":"`,
			p.audioURL, seg, seg)
		tail := []byte(`"}}`)
		pad := max(p.size-int64(len(head)+len(tail)), 0)
		if pad <= 64<<10 {
			// Small bodies are contiguous, as a real client sends them.
			d.head = append(append(head, p.filler[:pad]...), tail...)
		} else {
			d.head, d.mid, d.tail = head, p.filler[:pad], tail
		}
	}
	d.signature = signParts(p.secret, now, d.head, d.mid, d.tail)
	return d
}

// signParts signs head+mid+tail as one body without joining them.
func signParts(secret string, now time.Time, parts ...[]byte) string {
	if len(parts[1]) == 0 && len(parts[2]) == 0 {
		return elevenlabs.Sign(secret, now, parts[0])
	}
	body := make([]byte, 0, len(parts[0])+len(parts[1])+len(parts[2]))
	for _, p := range parts {
		body = append(body, p...)
	}
	return elevenlabs.Sign(secret, now, body)
}

// ------------------------------------------------------------- histogram

// histogram records durations in microseconds with at most 0.2% error,
// in constant memory, safe for concurrent use.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

const (
	histSub     = 9 // 512 sub-buckets per power of two
	histBuckets = (40 - histSub) << histSub
)

func histIndex(us uint64) int {
	if us < 1<<(histSub+1) {
		return int(us)
	}
	e := bits.Len64(us) - (histSub + 1)
	i := (e+1)<<histSub + int(us>>e) - 1<<histSub
	return min(i, histBuckets-1)
}

// histValue is the upper bound of bucket i, in microseconds.
func histValue(i int) uint64 {
	if i < 1<<(histSub+1) {
		return uint64(i)
	}
	e := i>>histSub - 1
	m := uint64(i&(1<<histSub-1) + 1<<histSub)
	return (m+1)<<e - 1
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[histIndex(us)].Add(1)
	h.n.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q ≤ 1).
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(histValue(i), h.max.Load())) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load()) * time.Microsecond
}

func (h *histogram) maxValue() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// ------------------------------------------------------------- the loop

// loadSpec is one run of deliveries against one server.
type loadSpec struct {
	base        string // http://127.0.0.1:port
	concurrency int
	rate        float64 // deliveries per second; 0: closed loop
	count       int     // deliveries to send; 0 with until: until then
	until       time.Duration
	// next returns delivery i (prepared, or made on demand).
	next func(i int) *delivery
	// before runs in the sender right before delivery i is sent (soak:
	// create its job, through api). Its time is not part of the ack latency.
	before func(ctx context.Context, api *http.Client, i int, d *delivery) error
	// api is the client before uses.
	api *http.Client
	// ownConnections gives each sender its own connection for deliveries
	// and its own for before, open for the whole run (soak). A shared pool
	// grows whenever a latency spike puts more requests in flight than
	// before and drops connections idle for its timeout, so the server's
	// connection count — and its memory, each connection holds buffers —
	// would drift over a soak with the load pattern rather than the server.
	ownConnections bool
	// after runs after delivery i was acknowledged with 200.
	after   func(i int, d *delivery, sent time.Time)
	timeout time.Duration
	lat     *histogram // where latencies go (a fresh one if nil)
	// onLatency, if set, also receives every ack latency (soak intervals).
	onLatency func(time.Duration)
}

// loadResult is what one run measured.
type loadResult struct {
	sent, accepted, duplicates int64
	errors                     map[string]int64
	lat                        *histogram
	elapsed                    time.Duration // first send to last answer
	behind                     int64         // open loop: sends more than 1 ms late
	maxLag                     time.Duration
	bytes                      int64
	// cpu is this process's CPU time (user+system) during the load: the load
	// generator's and, for an in-process server, the server's.
	cpu time.Duration
}

// cpuPerDelivery is the process CPU per accepted delivery: the two cores
// divided by this bounds accepted/s when the machine is CPU-bound.
func (r *loadResult) cpuPerDelivery() time.Duration {
	if r.accepted == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.accepted)
}

func (r *loadResult) acceptedPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.accepted) / r.elapsed.Seconds()
}

func (r *loadResult) errorText() string {
	if len(r.errors) == 0 {
		return "-"
	}
	var parts []string
	for k, v := range r.errors {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// newBenchClient is an HTTP client with one keep-alive connection per
// sender, as a fleet of webhook senders would hold.
func newBenchClient(conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         loopbackDialer().DialContext,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// loopbackDialer refuses any address that is not loopback: the bench only
// ever drives servers on this machine.
func loopbackDialer() *net.Dialer {
	return &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("bench: refusing to connect to %s: only loopback addresses", address)
			}
			return nil
		},
	}
}

// runLoad sends the deliveries and measures every acknowledgement.
func runLoad(ctx context.Context, client *http.Client, spec loadSpec) *loadResult {
	res := &loadResult{errors: map[string]int64{}, lat: spec.lat}
	if res.lat == nil {
		res.lat = &histogram{}
	}
	var mu sync.Mutex
	countErr := func(kind string) {
		mu.Lock()
		res.errors[kind]++
		mu.Unlock()
	}
	var sent, accepted, dups, nbytes, behind atomic.Int64
	var maxLag atomic.Int64
	var lastDone atomic.Int64
	cpu0 := processCPU()
	start := time.Now()
	deadline := time.Time{}
	if spec.until > 0 {
		deadline = start.Add(spec.until)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	send := func(client, api *http.Client, i int) {
		d := spec.next(i)
		if spec.before != nil {
			if err := spec.before(ctx, api, i, d); err != nil {
				if ctx.Err() == nil {
					countErr("job_create")
				}
				return
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, spec.base+d.query, d.body())
		if err != nil {
			countErr("request")
			return
		}
		req.ContentLength = d.size()
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "voicehook-bench")
		req.Header.Set(elevenlabs.HeaderName, d.signature)
		t0 := time.Now()
		sent.Add(1)
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				countErr(classifyErr(err))
			}
			return
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(t0)
		lastDone.Store(int64(time.Since(start)))
		if err != nil {
			countErr(classifyErr(err))
			return
		}
		if resp.StatusCode != http.StatusOK {
			countErr(fmt.Sprintf("http_%d", resp.StatusCode))
			return
		}
		res.lat.record(took)
		if spec.onLatency != nil {
			spec.onLatency(took)
		}
		accepted.Add(1)
		nbytes.Add(d.size())
		if bytes.Contains(raw, []byte(`"duplicate":true`)) {
			dups.Add(1)
		}
		if spec.after != nil {
			spec.after(i, d, t0)
		}
	}

	more := func(i int) bool {
		if spec.count > 0 && i >= spec.count {
			return false
		}
		return deadline.IsZero() || time.Now().Before(deadline)
	}

	var wg sync.WaitGroup
	if spec.rate <= 0 {
		// Closed loop: each sender sends its next delivery as soon as the
		// previous one is answered.
		var next atomic.Int64
		for range spec.concurrency {
			wg.Go(func() {
				c, api, done := senderClients(client, spec)
				defer done()
				for ctx.Err() == nil {
					i := int(next.Add(1) - 1)
					if !more(i) {
						return
					}
					send(c, api, i)
				}
			})
		}
	} else {
		// Open loop: delivery i is due at start + i/rate, whatever the
		// answers; up to concurrency are in flight. A send that starts more
		// than 1 ms late is counted (the server, or the senders, fell
		// behind the rate).
		work := make(chan int)
		for range spec.concurrency {
			wg.Go(func() {
				c, api, done := senderClients(client, spec)
				defer done()
				for i := range work {
					send(c, api, i)
				}
			})
		}
		interval := time.Duration(float64(time.Second) / spec.rate)
	dispatch:
		for i := 0; more(i) && ctx.Err() == nil; i++ {
			due := start.Add(time.Duration(i) * interval)
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					break dispatch
				}
			}
			select {
			case work <- i:
			case <-ctx.Done():
				break dispatch
			}
			if lag := time.Since(due); lag > time.Millisecond {
				behind.Add(1)
				for {
					m := maxLag.Load()
					if int64(lag) <= m || maxLag.CompareAndSwap(m, int64(lag)) {
						break
					}
				}
			}
		}
		close(work)
	}
	wg.Wait()
	res.sent, res.accepted, res.duplicates = sent.Load(), accepted.Load(), dups.Load()
	res.bytes = nbytes.Load()
	res.elapsed = time.Duration(lastDone.Load())
	res.cpu = processCPU() - cpu0
	res.behind, res.maxLag = behind.Load(), time.Duration(maxLag.Load())
	return res
}

// classifyErr names a transport failure for the errors-by-kind report.
func classifyErr(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "conn_reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_port"
	default:
		return "transport"
	}
}

// senderClients are the clients one sender uses: the shared ones, or with
// ownConnections a single-connection clone of each, without idle timeout.
func senderClients(client *http.Client, spec loadSpec) (load, api *http.Client, done func()) {
	if !spec.ownConnections {
		return client, spec.api, func() {}
	}
	one := func(c *http.Client) *http.Client {
		if c == nil {
			return nil
		}
		tr := c.Transport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost, tr.IdleConnTimeout = 1, 1, 0
		return &http.Client{Transport: tr, Timeout: c.Timeout}
	}
	load, api = one(client), one(spec.api)
	return load, api, func() {
		load.CloseIdleConnections()
		if api != nil {
			api.CloseIdleConnections()
		}
	}
}
