package bench

import (
	"bytes"
	"context"
	"flag"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

// The bench's own tests check that it works and counts right; they assert
// nothing about speed. Those that run it against the real server are in
// cmd/voicehook, which gives it its Target.

// testCommand parses as the voicehook command does, minus the environment;
// it has no Target, so it serves only to check flags.
var testCommand = Command{
	Version:    "test",
	NewFlagSet: func(name, _ string) *flag.FlagSet { return flag.NewFlagSet(name, flag.ContinueOnError) },
	ParseFlags: func(fs *flag.FlagSet, args []string) error { return fs.Parse(args) },
	ParseSize:  func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) },
}

func TestBenchRefusesRemoteTargets(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--target", "http://192.0.2.1:8080", "--secret", "x"},
		{"--target", "http://example.com", "--secret", "x"},
		{"--database-url", "postgres://u@db.example.com/x"},
		{"--duration", "10s"},
	} {
		err := testCommand.Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "invalid bench flags") {
			t.Errorf("bench %v: got %v, want refused", args, err)
		}
	}
}

func TestBenchPayloads(t *testing.T) {
	t.Parallel()
	now := time.Now()
	v := &elevenlabs.Verifier{Secrets: []string{"wsec_x"}}
	for _, tc := range []struct {
		kind string
		size int64
		want voicehook.OutcomeKind
	}{
		{kindURL, 1000, voicehook.OutcomeCompleted},
		{kindURL, 100_000, voicehook.OutcomeCompleted},
		{kindInline, 200_000, voicehook.OutcomeCompleted},
	} {
		p := newPayloadMaker(tc.kind, tc.size, "wsec_x", "t1", "http://127.0.0.1:1", nil)
		seen := map[string]bool{}
		for i := range 3 {
			d := p.make(i, now)
			var body bytes.Buffer
			if _, err := body.ReadFrom(d.body()); err != nil {
				t.Fatal(err)
			}
			if int64(body.Len()) != d.size() {
				t.Fatalf("%s: body %d bytes, size() %d", tc.kind, body.Len(), d.size())
			}
			if math.Abs(float64(d.size()-tc.size)) > 0.02*float64(tc.size)+200 {
				t.Errorf("%s %d: body is %d bytes", tc.kind, tc.size, d.size())
			}
			if err := v.Verify(d.signature, body.Bytes()); err != nil {
				t.Errorf("%s: signature: %v", tc.kind, err)
			}
			parsed, err := elevenlabs.Parse(body.Bytes(), d.segment)
			if err != nil {
				t.Fatalf("%s: Parse: %v", tc.kind, err)
			}
			if parsed.Outcome.Kind != tc.want {
				t.Errorf("%s: outcome %v, want %v", tc.kind, parsed.Outcome.Kind, tc.want)
			}
			if seen[parsed.DedupeKey] {
				t.Errorf("%s: two deliveries share the dedupe key %s", tc.kind, parsed.DedupeKey)
			}
			seen[parsed.DedupeKey] = true
		}
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	var h histogram
	for i := 1; i <= 100000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		want := q * 100000
		got := float64(h.quantile(q) / time.Microsecond)
		if math.Abs(got-want) > 0.003*want+1 {
			t.Errorf("quantile %.2f = %.0fµs, want %.0fµs", q, got, want)
		}
	}
	if h.maxValue() != 100*time.Millisecond {
		t.Errorf("max %s", h.maxValue())
	}
	for us := uint64(0); us < 1<<24; us = us*5/4 + 1 {
		i := histIndex(us)
		if hi := histValue(i); hi < us || (i > 0 && histValue(i-1) >= us) {
			t.Fatalf("value %d in bucket %d whose range ends at %d (previous %d)", us, i, hi, histValue(i-1))
		}
	}
}

func TestLinearFit(t *testing.T) {
	t.Parallel()
	xs := []float64{0, 1, 2, 3, 4}
	slope, r2 := linearFit(xs, []float64{10, 12, 14, 16, 18})
	if math.Abs(slope-2) > 1e-9 || math.Abs(r2-1) > 1e-9 {
		t.Errorf("slope %v r² %v, want 2 and 1", slope, r2)
	}
	slope, _ = linearFit(xs, []float64{5, 5, 5, 5, 5})
	if slope != 0 {
		t.Errorf("flat series: slope %v", slope)
	}
}

// With ownConnections each sender keeps one connection for its deliveries
// and one for its `before` calls for the whole run, even where the shared
// clients would drop idle connections (here after 1 ms) and dial again.
func TestRunLoadOwnConnections(t *testing.T) {
	t.Parallel()
	run := func(own bool) int {
		var mu sync.Mutex
		conns := 0
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				mu.Lock()
				conns++
				mu.Unlock()
			}
		}
		srv.Start()
		defer srv.Close()
		client, api := newBenchClient(16, 5*time.Second), newBenchClient(16, 5*time.Second)
		for _, c := range []*http.Client{client, api} {
			c.Transport.(*http.Transport).IdleConnTimeout = time.Millisecond
			defer c.CloseIdleConnections()
		}
		// 100/s over 4 senders: each connection idles ~40 ms between uses.
		res := runLoad(context.Background(), client, loadSpec{base: srv.URL, concurrency: 4, rate: 100, count: 60,
			next: func(i int) *delivery { return &delivery{query: "/", head: []byte("{}")} },
			before: func(ctx context.Context, api *http.Client, i int, d *delivery) error {
				resp, err := api.Get(srv.URL + "/job")
				if err == nil {
					resp.Body.Close()
				}
				return err
			},
			api: api, ownConnections: own, timeout: 5 * time.Second})
		if res.accepted != 60 {
			t.Fatalf("own=%v: accepted %d of 60: %v", own, res.accepted, res.errors)
		}
		mu.Lock()
		defer mu.Unlock()
		return conns
	}
	if got := run(true); got != 8 {
		t.Errorf("own connections: %d opened, want 8 (4 senders × deliveries + api)", got)
	}
	// The control: the shared pool does redial, so the count above means
	// something.
	if got := run(false); got <= 8 {
		t.Errorf("shared pool: %d connections opened, want more than 8 (idle ones redialled)", got)
	}
}

func TestAckScenarioFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--scenario", "latency"},
		{"--scenario", "ack", "--target", "http://127.0.0.1:8080", "--secret", "x"},
		{"--scenario", "ack", "--process=false"},
		{"--scenario", "ack", "--e2e=false"},
		{"--scenario", "ack", "--soak", "1m"},
		{"--scenario", "ack", "--concurrency", "8,64"},
		{"--scenario", "ack", "--payload-size", "1000,2000"},
		{"--scenario", "ack", "--cpuprofile", "/tmp/x"},
	} {
		err := testCommand.Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "invalid bench flags") {
			t.Errorf("bench %v: got %v, want refused", args, err)
		}
	}
	// Defaults: 1000/s for 10 s per phase, so 10,000 deliveries a phase;
	// a rate or count given is kept.
	for _, tc := range []struct {
		o    benchOpts
		want int
	}{
		{benchOpts{}, 10000},
		{benchOpts{rate: 200}, 2000},
		{benchOpts{rate: 200, duration: time.Second}, 200},
		{benchOpts{count: 500}, 500},
	} {
		o := tc.o
		o.scenario, o.process, o.e2e, o.runs, o.kind = scenarioAck, true, true, 1, "auto"
		o.concurrency, o.sizes = intList{64}, sizeList{vals: []int64{1000}}
		if err := o.check(); err != nil {
			t.Fatalf("%+v: %v", tc.o, err)
		}
		if got := o.countFor(1000); got != tc.want {
			t.Errorf("%+v: %d deliveries per phase, want %d", tc.o, got, tc.want)
		}
	}
}

func TestFinishesAround(t *testing.T) {
	t.Parallel()
	resumed := time.Date(2025, 1, 1, 0, 0, 10, 0, time.UTC)
	end := resumed.Add(10 * time.Second)
	finished := []time.Time{
		{},                             // unfinished
		resumed.Add(-time.Microsecond), // before the resume
		resumed,                        // at the resume: during
		resumed.Add(5 * time.Second),   // during
		end,                            // at the end: during
		end.Add(time.Microsecond),      // in the drain
	}
	before, during := finishesAround(finished, resumed, end)
	if before != 1 || during != 3 {
		t.Errorf("before %d during %d, want 1 and 3", before, during)
	}
}
