package sqlstore

// Replicas sharing PostgreSQL prove they are alive: each renews its row in
// voicehook_replicas every few seconds, and every replica sweeps for rows
// silent for ReplicaTimeout, making the running attempts of those replicas
// runnable again (rescue.go) and deleting the rows. The row's id is the
// replica's River client ID, which River appends to river_job.attempted_by
// when a replica takes a job, so the last entry names who runs it.
//
// A long attempt of a live replica (a 200 MiB download) is never touched:
// only a silent replica's attempts are. A replica that cannot reach the
// database for ReplicaTimeout is presumed dead, and its attempts may then
// run twice, which processing tolerates (claims are per event). Jobs whose
// last attempt names no row at all (a process that predates heartbeats,
// during a rolling upgrade) are left to River's own rescuer, which stays as
// the safety net after --job-timeout.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"
)

// newReplicaID names a process: its host, its pid and a random part, so a
// restarted process is a new replica and two processes never share a name.
func newReplicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	host = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return '_'
		}
		return r
	}, host)
	host = host[:min(len(host), 60)]
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// ReplicaID is this process's name in the queue and in voicehook_replicas.
func (q *Queue) ReplicaID() string { return q.cfg.ReplicaID }

// heartbeat renews this replica's row.
func (q *Queue) heartbeat(ctx context.Context) error {
	db := q.db
	now := db.now()
	err := db.writeStmt(ctx, func(ctx context.Context) error {
		_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO voicehook_replicas (id, started_at, seen_at) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`), q.cfg.ReplicaID, now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("renewing heartbeat of %s: %w", q.cfg.ReplicaID, err)
	}
	return nil
}

// retire marks this replica's heartbeat silent at once, on a clean stop, so
// the others retry anything it leaves running without waiting
// ReplicaTimeout.
func (q *Queue) retire(ctx context.Context) error {
	db := q.db
	err := db.writeStmt(ctx, func(ctx context.Context) error {
		_, err := db.w.ExecContext(ctx, db.q("UPDATE voicehook_replicas SET seen_at = 0 WHERE id = ?"), q.cfg.ReplicaID)
		return err
	})
	if err != nil {
		return fmt.Errorf("retiring heartbeat of %s: %w", q.cfg.ReplicaID, err)
	}
	return nil
}

// sweepReplicas retries the running attempts of the replicas silent for
// ReplicaTimeout and deletes their rows, in one transaction: a dead
// replica's attempts are rescued exactly when its row goes. Every replica
// sweeps; on PostgreSQL each takes the stale rows no other sweep holds, so
// two sweeps never rescue the same replica at once, and a sweep that finds
// nothing to do is one indexed read.
func (q *Queue) sweepReplicas(ctx context.Context) (rescueResult, error) {
	db := q.db
	var res rescueResult
	cutoff := micros(db.clock.Now().Add(-q.cfg.ReplicaTimeout))
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		query := "SELECT id FROM voicehook_replicas WHERE seen_at < ? AND id <> ?"
		if db.cfg.Dialect == Postgres {
			query += " FOR UPDATE SKIP LOCKED"
		}
		rows, err := tx.QueryContext(ctx, db.q(query), cutoff, q.cfg.ReplicaID)
		if err != nil {
			return fmt.Errorf("reading silent replicas: %w", err)
		}
		dead := map[string]bool{}
		var ids []any
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("reading silent replicas: %w", err)
			}
			dead[id] = true
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading silent replicas: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		now, err := db.queueNow(ctx, tx)
		if err != nil {
			return err
		}
		why := fmt.Sprintf("replica silent for over %s (presumed dead)", q.cfg.ReplicaTimeout)
		if res, err = q.rescue(ctx, tx, now, now, func(replica string) bool { return dead[replica] }, why); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q("DELETE FROM voicehook_replicas WHERE id IN ("+placeholders(len(ids))+")"), ids...); err != nil {
			return fmt.Errorf("deleting silent replicas: %w", err)
		}
		if res.Retried+res.Ended > 0 {
			q.cfg.Logger.Warn("retried the attempts of silent replicas", "replicas", ids, "retried", res.Retried,
				"granted_one_more_attempt", res.Extended, "ended", res.Ended)
		}
		return nil
	})
	return res, err
}

// queueNow is the time River's rows are compared with: the database's on
// PostgreSQL (River stamps attempts with it, and replicas' clocks may
// differ), this process's on SQLite (one process).
func (db *DB) queueNow(ctx context.Context, tx *sql.Tx) (time.Time, error) {
	if db.cfg.Dialect != Postgres {
		return time.Now().UTC(), nil
	}
	var now time.Time
	if err := tx.QueryRowContext(ctx, "SELECT now()").Scan(&now); err != nil {
		return now, fmt.Errorf("reading the database's time: %w", err)
	}
	return now.UTC(), nil
}

// rescueAtStart, on SQLite, makes runnable every queue job the previous
// process left running: the data-dir lock this process holds proves that
// process dead, so there is nothing to wait for.
func (q *Queue) rescueAtStart(ctx context.Context) (rescueResult, error) {
	var res rescueResult
	err := q.db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		now, err := q.db.queueNow(ctx, tx)
		if err != nil {
			return err
		}
		// Every running job, whenever it started.
		horizon := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		res, err = q.rescue(ctx, tx, horizon, now, func(string) bool { return true }, "the process running this attempt died (found at start)")
		return err
	})
	if err != nil {
		return res, fmt.Errorf("retrying the attempts left running by the previous process: %w", err)
	}
	if res.Retried+res.Ended > 0 {
		q.cfg.Logger.Warn("retried the attempts the previous process left running", "retried", res.Retried,
			"granted_one_more_attempt", res.Extended, "ended", res.Ended)
	}
	return res, nil
}

// heartbeats renews the heartbeat and sweeps for silent replicas every
// HeartbeatInterval until ctx ends.
func (q *Queue) heartbeats(ctx context.Context) {
	defer close(q.beatDone)
	tick := time.NewTicker(q.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Each round is bounded, so a stalled database cannot stop the
		// heartbeat from trying again.
		rctx, cancel := context.WithTimeout(ctx, q.cfg.HeartbeatInterval+q.cfg.ReplicaTimeout/2)
		if err := q.heartbeat(rctx); err != nil && ctx.Err() == nil {
			q.cfg.Logger.Warn("heartbeat failed; will retry", "err", err)
		}
		if _, err := q.sweepReplicas(rctx); err != nil && ctx.Err() == nil {
			q.cfg.Logger.Warn("sweeping for silent replicas failed; will retry", "err", err)
		}
		cancel()
	}
}
