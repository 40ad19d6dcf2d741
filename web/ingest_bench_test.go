package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/dbtest"
	"github.com/voicehook/voicehook/internal/groupcommit"
	"github.com/voicehook/voicehook/internal/metrics"
	"github.com/voicehook/voicehook/internal/sqlstore"
	"github.com/voicehook/voicehook/postgres"
	"github.com/voicehook/voicehook/sqlite"
	"github.com/voicehook/voicehook/web"
)

// The ingest hot path as one benchmark: signed ~1 KB deliveries posted to
// the real handler (routing, body read, HMAC check, payload parse) and stored
// by the real group-commit writer in a real store (SQLite with
// synchronous=FULL in a temp dir, or PostgreSQL), acknowledged after the
// commit. No network and no queue: the queue's insert runs after the ack, off
// this path. BenchmarkIngestNoop is the same with a handler that only reads
// the body, for the ratio. `go test -bench Ingest -run ^$ ./web/`.

const benchSecret = "wsec_bench"

// benchSenders are the concurrent senders each benchmark runs with.
var benchSenders = []int{1, 8, 64, 256}

func BenchmarkIngestSQLite(b *testing.B) {
	for _, senders := range benchSenders {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			db, err := sqlite.Open(b.TempDir(), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			benchIngest(b, db, senders)
		})
	}
}

func BenchmarkIngestPostgres(b *testing.B) {
	for _, senders := range benchSenders {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			db, err := postgres.Open(context.Background(), dbtest.PostgresURL(b), postgres.Options{MaxConns: 10})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			benchIngest(b, db, senders)
		})
	}
}

func BenchmarkIngestNoop(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"accepted"}`+"\n")
	})
	for _, senders := range benchSenders {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) { post(b, h, senders) })
	}
}

func benchIngest(b *testing.B, db *sqlstore.DB, senders int) {
	if err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	w := groupcommit.New(db.Ingest, groupcommit.Options[voicehook.NewEvent, voicehook.IngestResult]{
		Refused: func(err error) voicehook.IngestResult { return voicehook.IngestResult{Err: err} },
	})
	defer w.Close()
	srv := &web.Server{
		Verifier:     &elevenlabs.Verifier{Secrets: []string{benchSecret}},
		Tokens:       benchTokens,
		Ingest:       w.Submit,
		Inbox:        db,
		Records:      db,
		Wake:         func() {},
		Metrics:      metrics.New(),
		PublicURL:    "http://127.0.0.1",
		MaxBodyBytes: 32 << 20,
		Clock:        voicehook.SystemClock{},
		Logger:       slog.New(slog.DiscardHandler),
	}
	post(b, srv.Handler(), senders)
}

var benchSeq atomic.Int64

var benchTokens = web.NewTokens([]byte("bench-callback-key"))

// post sends b.N distinct signed deliveries from senders goroutines: one
// loop for a single sender, else RunParallel with senders/GOMAXPROCS
// goroutines per proc (rounded up).
func post(b *testing.B, h http.Handler, senders int) {
	filler := strings.Repeat("x", 900)
	run := time.Now().UnixNano()
	one := func() {
		n := benchSeq.Add(1)
		seg := fmt.Sprintf("seg-%d-%d", run, n)
		body := []byte(`{"status":"completed","output":{"url":"https://audio.example/` + seg + `.mp3"},"notes":"` + filler + `"}`)
		req := httptest.NewRequest(http.MethodPost, web.WebhookPath+"?segment_id="+seg+"&token="+benchTokens.For(seg), bytes.NewReader(body))
		req.Header.Set(elevenlabs.HeaderName, elevenlabs.Sign(benchSecret, time.Now(), body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("delivery answered %d: %s", rec.Code, rec.Body.String())
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	if senders == 1 {
		for b.Loop() {
			one()
		}
	} else {
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((senders + procs - 1) / procs)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
