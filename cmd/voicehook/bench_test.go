package main

import (
	"bytes"
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

// The bench's own tests check that it works and counts right; they assert
// nothing about speed.

func TestBenchRuns(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := cmdBench(context.Background(), []string{"--count", "40", "--runs", "2", "--concurrency", "1,4",
		"--payload-size", "1KB,1MB", "--workers", "2"}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	s := out.String()
	if !strings.Contains(s, "× ceiling") || !strings.Contains(s, "== summary") {
		t.Errorf("output lacks the ceiling comparison or the summary")
	}
	// Every run accepted every delivery, without errors, and every event
	// went to a completed job.
	if n := strings.Count(s, "errors -"); n != 2*2*2*2 {
		t.Errorf("%d runs without errors, want 16", n)
	}
	if n := strings.Count(s, "(40 completed, 0 failed, 0 unfinished)"); n != 2*2*2 {
		t.Errorf("%d voicehook runs with all 40 jobs completed, want 8", n)
	}
	if strings.Contains(s, "post_call_audio") == false {
		t.Errorf("the 1MB payload did not use post_call_audio")
	}
}

func TestBenchSoak(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := cmdBench(context.Background(), []string{"--soak", "5s", "--rate", "40", "--sample-every", "1s", "--concurrency", "4", "--workers", "2"}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	s := out.String()
	for _, want := range []string{"every accepted event processed", "trend over", "heap-live", "rss"} {
		if !strings.Contains(s, want) {
			t.Errorf("soak output lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(\d+) sent, (\d+) accepted`).FindStringSubmatch(s); m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("soak load line: %v", m)
	}
}

func TestBenchRefusesRemoteTargets(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--target", "http://192.0.2.1:8080", "--secret", "x"},
		{"--target", "http://example.com", "--secret", "x"},
		{"--database-url", "postgres://u@db.example.com/x"},
		{"--duration", "10s"},
	} {
		err := cmdBench(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
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
		p := newPayloadMaker(tc.kind, tc.size, "wsec_x", "t1", "http://127.0.0.1:1")
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

// TestBenchManual runs the bench with the arguments in VOICEHOOK_BENCH_ARGS
// (space-separated); it is skipped otherwise.
func TestBenchManual(t *testing.T) {
	args := os.Getenv("VOICEHOOK_BENCH_ARGS")
	if args == "" {
		t.Skip("set VOICEHOOK_BENCH_ARGS to run")
	}
	if err := cmdBench(context.Background(), strings.Fields(args), os.Stdout, os.Stderr); err != nil {
		t.Fatal(err)
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
