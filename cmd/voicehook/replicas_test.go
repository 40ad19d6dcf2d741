package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/voicehook/voicehook/internal/audiotest"
	"github.com/voicehook/voicehook/internal/dbtest"
)

// TestReplicasOnPostgres runs three real `voicehook serve` processes on one
// database, spreads 3,000 signed webhooks across them, sends 10% of them a
// second time to a different replica, and kills one replica with SIGKILL
// half-way. A delivery that fails at the killed replica goes to another, as
// a load balancer would send it. Afterwards every acknowledged event is
// stored once, its segment updated exactly once, and no job is left
// processing.
func TestReplicasOnPostgres(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.PostgresURL(t)
	src := newAudioSource(t)
	src.serve(audiotest.MP3(200 * time.Millisecond))
	args := []string{"--database-url", dbURL, "--elevenlabs-secret", testSecret, "--fetch-allow-private",
		"--job-timeout", "3s", "--retry-base", "100ms", "--retry-max", "1s", "--workers", "8"}
	var reps []*proc
	for range 3 {
		reps = append(reps, startServe(t, append(args, "--data-dir", t.TempDir())...))
	}
	h := &harness{t: t, src: src, base: reps[0].base}

	const n = 3000
	for i := range n {
		h.base = reps[i%3].base
		h.createJob(fmt.Sprintf("rep-seg-%d", i), "")
	}

	var killed atomic.Bool
	alive := func(i int) bool { return !(killed.Load() && i == 1) }
	type result struct{ id string }
	results := make([]result, n)
	var sent atomic.Int64
	var dupMismatch atomic.Int64
	deliverTo := func(rep int, seg string, body []byte) (string, bool) {
		hh := &harness{t: t, base: reps[rep].base}
		code, a := hh.deliverNoFatal(seg, body)
		if code != 200 {
			return "", false
		}
		return a.EventID, true
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				seg := fmt.Sprintf("rep-seg-%d", i)
				body := seedCompleted(src.url(seg + ".mp3"))
				first := i % 3
				var id string
				for try := 0; id == ""; try++ {
					rep := (first + try) % 3
					if !alive(rep) {
						continue
					}
					if got, ok := deliverTo(rep, seg, body); ok {
						id = got
						first = rep
					}
					if try > 10 {
						t.Errorf("delivery %d refused by every replica", i)
						return
					}
				}
				results[i].id = id
				if i%10 == 0 { // the same delivery again, to another replica
					for off := 1; off < 3; off++ {
						rep := (first + off) % 3
						if !alive(rep) {
							continue
						}
						if dup, ok := deliverTo(rep, seg, body); ok && dup != id {
							dupMismatch.Add(1)
						}
						break
					}
				}
				if sent.Add(1) == n/2 {
					reps[1].kill()
					killed.Store(true)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if dupMismatch.Load() > 0 {
		t.Fatalf("%d duplicate deliveries got a different event id", dupMismatch.Load())
	}

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var pending int
		if err := db.QueryRow("SELECT COUNT(*) FROM voicehook_events WHERE status = 'received'").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still unprocessed after 3 minutes", pending)
		}
		time.Sleep(250 * time.Millisecond)
	}
	count := func(q string) int {
		var c int
		if err := db.QueryRow(q).Scan(&c); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return c
	}
	checks := []struct {
		what, query string
		want        int
	}{
		{"events stored", "SELECT COUNT(*) FROM voicehook_events", n},
		{"distinct dedupe keys", "SELECT COUNT(DISTINCT dedupe_key) FROM voicehook_events", n},
		{"events succeeded", "SELECT COUNT(*) FROM voicehook_events WHERE status = 'succeeded'", n},
		{"events succeeded more than once", "SELECT COUNT(*) FROM (SELECT event_id FROM voicehook_attempts WHERE outcome = 'succeeded' GROUP BY event_id HAVING COUNT(*) > 1) d", 0},
		{"claims (one update per segment)", "SELECT COUNT(*) FROM voicehook_claims", n},
		{"jobs completed", "SELECT COUNT(*) FROM voicehook_jobs WHERE status = 'completed'", n},
		{"jobs left processing", "SELECT COUNT(*) FROM voicehook_jobs WHERE status = 'processing'", 0},
		{"segments ready", "SELECT COUNT(*) FROM voicehook_segments WHERE status = 'voiceover_ready'", n},
	}
	for _, c := range checks {
		if got := count(c.query); got != c.want {
			t.Errorf("%s = %d, want %d", c.what, got, c.want)
		}
	}
	seen := map[string]bool{}
	for i, r := range results {
		if r.id == "" || seen[r.id] {
			t.Fatalf("delivery %d: event id %q missing or shared", i, r.id)
		}
		seen[r.id] = true
		var status string
		if err := db.QueryRow("SELECT status FROM voicehook_events WHERE id = $1", r.id).Scan(&status); err != nil || status != "succeeded" {
			t.Fatalf("acknowledged event %s: %q %v", r.id, status, err)
		}
	}
}

// deliverNoFatal is deliver for goroutines: a failed request is a result,
// not a test failure.
func (h *harness) deliverNoFatal(segment string, body []byte) (int, ack) {
	req, err := http.NewRequest("POST", h.base+webhookPath(segment), bytesReader(body))
	if err != nil {
		return 0, ack{}
	}
	req.Header.Set("ElevenLabs-Signature", signNow(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ack{}
	}
	defer resp.Body.Close()
	var a ack
	_ = jsonDecode(resp.Body, &a)
	return resp.StatusCode, a
}
