package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// A burst of deliveries through the real processing path (webhook, inbox,
// River, processor, StepResolver, the Airtable records and mirror) against
// the emulator at Airtable's own limit (5 requests/s per base, 30 s of
// silence after a 429) and latency, with the client's defaults (4
// requests/s, 8 workers). What it measures is what a user's monthly call
// cap pays per event.

// burstResult is what one burst cost.
type burstResult struct {
	events   int
	requests int
	byRoute  map[string]int
	took     time.Duration
}

func (r burstResult) perEvent() float64 { return float64(r.requests) / float64(r.events) }

func (r burstResult) String() string {
	routes := slices.Sorted(maps.Keys(r.byRoute))
	parts := make([]string, 0, len(routes))
	for _, k := range routes {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.byRoute[k]))
	}
	return fmt.Sprintf("%d events: %d requests, %.2f requests/event, %s (%s)",
		r.events, r.requests, r.perEvent(), r.took.Round(100*time.Millisecond), strings.Join(parts, ", "))
}

// tbWriter logs through a testing.TB (the harness's testWriter needs a *testing.T).
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// runBurst starts a server on SQLite with --records airtable, makes n
// segments with a processing job each in the base (as the user's pipeline
// does, without going through voicehook), delivers a completed callback
// for each at once, and waits until every segment is voiceover_ready and
// every event is mirrored. It counts the requests the base received from
// the first delivery on.
func runBurst(tb testing.TB, n int) burstResult {
	tb.Helper()
	emu := airtabletest.New(airtabletest.Options{Latency: 150 * time.Millisecond})
	tb.Cleanup(emu.Close)
	audio := audiotest.MP3(2 * time.Second)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(audio)
	}))
	tb.Cleanup(src.Close)

	var cfg config
	cfg.register(newFlagSet("test", ""))
	cfg.Addr, cfg.DataDir, cfg.ElevenLabsSecret, cfg.CallbackKey = "127.0.0.1:0", tb.TempDir(), testSecret, testCallbackKey
	cfg.FetchAllowPriv = true // the audio source is a loopback test server
	cfg.RetryBase, cfg.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.Records = "airtable"
	cfg.Airtable.Token, cfg.Airtable.Base, cfg.Airtable.APIURL = emu.Token, emu.Base, emu.URL
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(context.Background(), cfg, ln, log)
	if err != nil {
		tb.Fatalf("starting app: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("app stopped with error: %v", err)
		}
	})

	segs := make([]string, n)
	for i := range segs {
		seg, err := emu.Insert("Segments", map[string]any{"Name": fmt.Sprintf("scene %d", i), "Status": "pending"})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := emu.Insert("Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "voiceover_generation", "Status": "processing"}); err != nil {
			tb.Fatal(err)
		}
		segs[i] = seg
	}
	emu.ResetRequests()
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i, seg := range segs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			body := seedCompleted(fmt.Sprintf("%s/audio/%d.mp3", src.URL, i))
			req, _ := http.NewRequest(http.MethodPost, a.baseURL+webhookPath(seg), bytes.NewReader(body))
			req.Header.Set(elevenlabs.HeaderName, elevenlabs.Sign(testSecret, time.Now(), body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				tb.Errorf("delivering for %s: %v", seg, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				tb.Errorf("delivering for %s: %s", seg, resp.Status)
			}
		})
	}
	wg.Wait()

	deadline := time.Now().Add(time.Duration(n)*time.Second + 30*time.Second)
	for {
		ready := 0
		for _, seg := range segs {
			if rec, _ := emu.Record("Segments", seg); rec.Fields["Status"] == "voiceover_ready" {
				ready++
			}
		}
		mirrored := 0
		for _, rec := range emu.Records("Webhook Events") {
			if rec.Fields["Processed"] == true && rec.Fields["Success"] == true {
				mirrored++
			}
		}
		if ready == n && mirrored == n {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %d of %d segments ready, %d events mirrored", time.Since(start).Round(time.Second), ready, n, mirrored)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	if got := len(emu.Records("Webhook Events")); got != n {
		tb.Errorf("%d Webhook Events records, want %d", got, n)
	}
	byRoute := emu.Requests()
	total := 0
	for _, v := range byRoute {
		total += v
	}
	return burstResult{events: n, requests: total, byRoute: byRoute, took: took}
}

// TestAirtableBurstRequests holds a burst of 40 deliveries to at most 1.5
// Airtable requests per event (the seed spends 5 to 6; a request is 1/5 s
// of the base's limit and one call of a Free or Team plan's monthly cap).
func TestAirtableBurstRequests(t *testing.T) {
	t.Parallel()
	res := runBurst(t, 40)
	t.Log(res)
	if res.perEvent() > 1.5 {
		t.Errorf("%.2f requests/event, want at most 1.5", res.perEvent())
	}
}

// BenchmarkAirtableBurst prints requests/event for bursts of 40 and 400
// deliveries (the 400 take about two minutes at Airtable's rate):
//
//	go test -run '^$' -bench AirtableBurst -benchtime 1x ./cmd/voicehook
func BenchmarkAirtableBurst(b *testing.B) {
	for _, n := range []int{40, 400} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var last burstResult
			requests := 0
			for b.Loop() {
				last = runBurst(b, n)
				requests += last.requests
			}
			b.Log(last)
			b.ReportMetric(float64(requests)/float64(n*b.N), "requests/event")
		})
	}
}
