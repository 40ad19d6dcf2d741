package main

import (
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/voicehook/voicehook/internal/dbtest"
)

// These tests kill the real binary with SIGKILL while attempts are running
// (their audio downloads held open) and measure how long the acknowledged
// events wait. They keep the default --job-timeout (5m): before the rescue
// at start and the replica heartbeats, a killed attempt waited for it.

// TestCrashRestartResumesInFlightAtOnce: on SQLite, work left running by a
// killed process is retried as the next process starts, not --job-timeout
// later.
func TestCrashRestartResumesInFlightAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := &harness{t: t, src: newAudioSource(t)}
	release := make(chan struct{})
	h.src.blocking = release
	args := []string{"--data-dir", dir, "--elevenlabs-secret", testSecret, "--fetch-allow-private",
		"--retry-base", "50ms", "--retry-max", "500ms", "--workers", "8"}
	p := startServe(t, args...)
	h.base = p.base

	const n = 20
	acked := h.deliverJobs("inflight-seg", n)
	// Every worker is inside a held download: 8 attempts are `running`.
	waitHits(t, h.src, 8)
	p.kill()
	close(release)

	restarted := time.Now()
	p2 := startServe(t, args...)
	h.base = p2.base
	deadline := restarted.Add(15 * time.Second)
	for id, seg := range acked {
		ev := h.waitEventUntil(id, deadline)
		if ev.Status != "succeeded" {
			t.Fatalf("event %s after restart = %+v", id, ev)
		}
		if s := h.segment(seg); s.Status != "voiceover_ready" {
			t.Fatalf("segment %s = %+v", seg, s)
		}
	}
	t.Logf("all %d acknowledged events succeeded %s after the restart", n, time.Since(restarted).Round(time.Millisecond))
}

// TestKilledReplicaWorkResumedByOthers: with three replicas on PostgreSQL,
// the attempts of a replica killed under load are retried by the others
// once its heartbeat is --replica-timeout old.
func TestKilledReplicaWorkResumedByOthers(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.PostgresURL(t)
	src := newAudioSource(t)
	release := make(chan struct{})
	src.blocking = release
	args := []string{"--database-url", dbURL, "--elevenlabs-secret", testSecret, "--fetch-allow-private",
		"--retry-base", "100ms", "--retry-max", "1s", "--workers", "8", "--replica-timeout", "5s"}
	var reps []*proc
	for range 3 {
		reps = append(reps, startServe(t, append(args, "--data-dir", t.TempDir())...))
	}
	const n = 300
	segs := make([]string, n)
	for i := range n {
		segs[i] = fmt.Sprintf("failover-seg-%d", i)
		(&harness{t: t, base: reps[i%3].base}).createJob(segs[i], "")
	}

	var mu sync.Mutex
	var acked []string
	deliver := func(i int, reps ...*proc) {
		body := seedCompleted(src.url(segs[i] + ".mp3"))
		for try := range 10 {
			rep := reps[(i+try)%len(reps)]
			if code, a := (&harness{t: t, base: rep.base}).deliverNoFatal(segs[i], body); code == 200 {
				mu.Lock()
				acked = append(acked, a.EventID)
				mu.Unlock()
				return
			}
		}
		t.Errorf("delivery %d refused by every replica", i)
	}
	// The first half while every download is held: each replica's eight
	// workers end up inside one, so the killed replica has eight attempts
	// running.
	for i := range n / 2 {
		deliver(i, reps...)
	}
	waitHits(t, src, 24)
	var wg sync.WaitGroup
	for w := range 8 { // the second half keeps arriving through the kill
		wg.Go(func() {
			for i := n/2 + w; i < n; i += 8 {
				deliver(i, reps[0], reps[2])
			}
		})
	}
	reps[1].kill()
	killed := time.Now()
	close(release)
	wg.Wait()

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := killed.Add(60 * time.Second)
	for {
		var pending int
		if err := db.QueryRow("SELECT COUNT(*) FROM voicehook_events WHERE status = 'received'").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			var running int
			_ = db.QueryRow("SELECT COUNT(*) FROM river_job WHERE state = 'running'").Scan(&running)
			t.Fatalf("%d events still unprocessed 60s after the kill (%d queue jobs running)", pending, running)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("every acknowledged event processed %s after the kill", time.Since(killed).Round(time.Millisecond))
	if len(acked) != n {
		t.Fatalf("%d deliveries acknowledged, want %d", len(acked), n)
	}
	for _, id := range acked {
		var status string
		var succeeded int
		if err := db.QueryRow("SELECT status FROM voicehook_events WHERE id = $1", id).Scan(&status); err != nil || status != "succeeded" {
			t.Fatalf("acknowledged event %s: %q %v", id, status, err)
		}
		if err := db.QueryRow("SELECT COUNT(*) FROM voicehook_attempts WHERE event_id = $1 AND outcome = 'succeeded'", id).Scan(&succeeded); err != nil || succeeded != 1 {
			t.Fatalf("event %s succeeded %d times (%v)", id, succeeded, err)
		}
	}
	var claims, left int
	if err := db.QueryRow("SELECT COUNT(*) FROM voicehook_claims").Scan(&claims); err != nil || claims != n {
		t.Fatalf("claims = %d (%v), want %d", claims, err, n)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM voicehook_jobs WHERE status = 'processing'").Scan(&left); err != nil || left != 0 {
		t.Fatalf("jobs left processing = %d (%v)", left, err)
	}
}

// TestReplicaTimeoutDefault: a replica is presumed dead after 30s of
// silence unless told otherwise.
func TestReplicaTimeoutDefault(t *testing.T) {
	t.Parallel()
	var cfg config
	cfg.register(newFlagSet("test", ""))
	if cfg.ReplicaTimeout != 30*time.Second {
		t.Fatalf("--replica-timeout default = %s, want 30s", cfg.ReplicaTimeout)
	}
}

// waitHits waits until the audio source has been asked n times.
func waitHits(t *testing.T, src *audioSource, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for src.hits.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("audio source asked %d times in 20s, want %d", src.hits.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEventUntil waits until the event leaves `received`, failing the test
// at deadline.
func (h *harness) waitEventUntil(id string, deadline time.Time) eventView {
	h.t.Helper()
	for {
		ev := h.event(id)
		if ev.Status != "received" {
			return ev
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("event %s still received at the deadline: %+v", id, ev)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
