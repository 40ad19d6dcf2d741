package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

var _ voicehook.Timeline = (*sqlstore.DB)(nil)

// TestEventHistory: one query counts the events of a window by bucket and
// status; every bucket is there, empty ones too, and the window's edges hold.
func TestEventHistory(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		since := t0.Truncate(time.Minute)
		until := since.Add(4 * time.Minute)
		for _, e := range []struct {
			id     string
			at     time.Duration // after since
			status voicehook.EventStatus
		}{
			{"evt_before", -time.Microsecond, voicehook.EventSucceeded}, // just outside
			{"evt_0a", 0, voicehook.EventSucceeded},                     // the first bucket's first moment
			{"evt_0b", 59 * time.Second, voicehook.EventFailed},
			{"evt_0c", 30 * time.Second, voicehook.EventSucceeded},
			{"evt_2a", 2*time.Minute + time.Second, voicehook.EventDead},
			{"evt_2b", 2*time.Minute + 2*time.Second, voicehook.EventReceived},
			{"evt_3a", 4*time.Minute - time.Microsecond, voicehook.EventIgnored}, // the last moment in
			{"evt_after", 4 * time.Minute, voicehook.EventSucceeded},             // until is out
		} {
			ingest(t, db, newEvent(e.id, "key_"+e.id, since.Add(e.at)))
			if e.status != voicehook.EventReceived {
				finish(t, db, e.id, voicehook.EventFinish{Status: e.status})
			}
		}
		got, err := db.EventHistory(ctx, since, until, time.Minute)
		if err != nil {
			t.Fatalf("EventHistory: %v", err)
		}
		want := []voicehook.EventBucket{
			{Start: since, Counts: map[voicehook.EventStatus]int{voicehook.EventSucceeded: 2, voicehook.EventFailed: 1}},
			{Start: since.Add(time.Minute), Counts: map[voicehook.EventStatus]int{}},
			{Start: since.Add(2 * time.Minute), Counts: map[voicehook.EventStatus]int{voicehook.EventDead: 1, voicehook.EventReceived: 1}},
			{Start: since.Add(3 * time.Minute), Counts: map[voicehook.EventStatus]int{voicehook.EventIgnored: 1}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("buckets (-want +got):\n%s", diff)
		}
		if got[0].Total() != 3 {
			t.Errorf("first bucket total %d, want 3", got[0].Total())
		}

		// Wider buckets over the same events; a window that does not divide
		// by the step ends with a shorter bucket.
		got, err = db.EventHistory(ctx, since, since.Add(5*time.Minute), 2*time.Minute)
		if err != nil {
			t.Fatalf("EventHistory: %v", err)
		}
		var totals []int
		for _, b := range got {
			totals = append(totals, b.Total())
		}
		if diff := cmp.Diff([]int{3, 3, 1}, totals); diff != "" {
			t.Errorf("2-minute totals (-want +got):\n%s", diff)
		}

		for _, bad := range []struct {
			name         string
			since, until time.Time
			step         time.Duration
		}{
			{"no step", since, until, 0},
			{"backwards", until, since, time.Minute},
			{"too many buckets", since, since.Add(48 * time.Hour), time.Second},
		} {
			if _, err := db.EventHistory(ctx, bad.since, bad.until, bad.step); err == nil {
				t.Errorf("%s: no error", bad.name)
			}
		}
	})
}

// TestProcessingLatency: the attempts finished in each bucket give its
// percentiles (nearest rank); polls that found no job are left out.
func TestProcessingLatency(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		since := t0.Truncate(time.Minute)
		ingest(t, db, newEvent("evt_1", "key_1", since))
		record := func(finishedAfter, took time.Duration, outcome voicehook.AttemptOutcome) {
			t.Helper()
			end := since.Add(finishedAfter)
			a := voicehook.Attempt{EventID: "evt_1", StartedAt: end.Add(-took), FinishedAt: end, Outcome: outcome}
			if err := db.RecordAttempt(ctx, a, nil); err != nil {
				t.Fatalf("RecordAttempt: %v", err)
			}
		}
		// Bucket 0: 1..100 ms, in an order that is not sorted.
		for i := range 100 {
			ms := (i*37)%100 + 1
			record(time.Duration(i)*100*time.Millisecond, time.Duration(ms)*time.Millisecond, voicehook.AttemptRetry)
		}
		// A poll that found no job: not processing time.
		record(30*time.Second, time.Hour, voicehook.AttemptWaiting)
		// Bucket 2: one attempt.
		record(2*time.Minute+time.Second, 1500*time.Millisecond, voicehook.AttemptSucceeded)
		// Outside the window.
		record(-time.Second, time.Hour, voicehook.AttemptFailed)
		record(3*time.Minute, time.Hour, voicehook.AttemptFailed)

		got, err := db.ProcessingLatency(ctx, since, since.Add(3*time.Minute), time.Minute)
		if err != nil {
			t.Fatalf("ProcessingLatency: %v", err)
		}
		ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
		want := []voicehook.LatencyBucket{
			{Start: since, Count: 100, P50: ms(50), P95: ms(95), P99: ms(99)},
			{Start: since.Add(time.Minute)},
			{Start: since.Add(2 * time.Minute), Count: 1, P50: ms(1500), P95: ms(1500), P99: ms(1500)},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("latency buckets (-want +got):\n%s", diff)
		}
	})
}

// TestQueueSamples: a sample is written once per minute however many
// replicas try, and samples older than 48 hours are pruned.
func TestQueueSamples(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		dbs, _ := s.replicas(t, 2)
		db := dbs[0]
		minute := t0.Truncate(time.Minute)

		ingest(t, db, newEvent("evt_wait_old", "k1", minute.Add(-10*time.Minute)), newEvent("evt_wait", "k2", minute.Add(-time.Minute)),
			newEvent("evt_dead", "k3", minute.Add(-time.Hour)))
		finish(t, db, "evt_dead", voicehook.EventFinish{Status: voicehook.EventDead})

		// Both replicas sample within the same minute: one row, the first.
		if err := dbs[0].RecordSample(ctx, minute.Add(5*time.Second)); err != nil {
			t.Fatalf("RecordSample: %v", err)
		}
		ingest(t, db, newEvent("evt_late", "k4", minute.Add(6*time.Second)))
		if err := dbs[1].RecordSample(ctx, minute.Add(40*time.Second)); err != nil {
			t.Fatalf("RecordSample on the second replica: %v", err)
		}
		got, err := db.QueueSamples(ctx, minute.Add(-time.Hour))
		if err != nil {
			t.Fatalf("QueueSamples: %v", err)
		}
		want := []voicehook.QueueSample{{At: minute, Depth: 2, OldestAge: 10*time.Minute + 5*time.Second, Dead: 1}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("samples (-want +got):\n%s", diff)
		}

		// The next minute's sample; the queue is empty by then.
		for _, id := range []string{"evt_wait_old", "evt_wait", "evt_late"} {
			finish(t, db, id, voicehook.EventFinish{Status: voicehook.EventSucceeded})
		}
		if err := dbs[1].RecordSample(ctx, minute.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, _ = db.QueueSamples(ctx, minute.Add(30*time.Second))
		want = []voicehook.QueueSample{{At: minute.Add(time.Minute), Dead: 1}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("samples since the second minute (-want +got):\n%s", diff)
		}

		// Two days later the first two are pruned by the next sample.
		later := minute.Add(48*time.Hour + 150*time.Second)
		if err := db.RecordSample(ctx, later); err != nil {
			t.Fatal(err)
		}
		got, _ = db.QueueSamples(ctx, time.Time{})
		var at []time.Time
		for _, smp := range got {
			at = append(at, smp.At)
		}
		if diff := cmp.Diff([]time.Time{later.Truncate(time.Minute)}, at); diff != "" {
			t.Errorf("samples kept after 48 h (-want +got):\n%s", diff)
		}
	})
}

// TestJobEvents: the events a job's processing touched, newest first.
func TestJobEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		j := createJob(t, db, "seg_j", voicehook.JobTypeVoiceover, "")
		other := createJob(t, db, "seg_j", voicehook.JobTypeVoiceover, "")
		for i, id := range []string{"evt_a", "evt_b", "evt_c", "evt_d"} {
			ingest(t, db, newEvent(id, "key_"+id, t0.Add(time.Duration(i)*time.Second)))
		}
		finish(t, db, "evt_a", voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: j.ID})
		finish(t, db, "evt_b", voicehook.EventFinish{Status: voicehook.EventIgnored, RelatedJob: other.ID})
		finish(t, db, "evt_c", voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: j.ID})
		// evt_d never found a job.

		got, err := db.JobEvents(ctx, j.ID, 10)
		if err != nil {
			t.Fatalf("JobEvents: %v", err)
		}
		if diff := cmp.Diff([]string{"evt_c", "evt_a"}, ids(got)); diff != "" {
			t.Errorf("job events (-want +got):\n%s", diff)
		}
		if got[0].Status != voicehook.EventSucceeded || got[0].RelatedJob != j.ID {
			t.Errorf("event read back as %+v", got[0])
		}
		if got, _ := db.JobEvents(ctx, j.ID, 1); len(got) != 1 {
			t.Errorf("limit 1: %d events", len(got))
		}
		if got, err := db.JobEvents(ctx, "job_none", 10); err != nil || len(got) != 0 {
			t.Errorf("unknown job: %v %v", ids(got), err)
		}
	})
}

// TestEventAudio: a succeeded event shows the voiceover its job stored,
// while that is still its segment's; one query for a page of events.
func TestEventAudio(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		first := createJob(t, db, "seg_audio", voicehook.JobTypeVoiceover, "")
		failed := createJob(t, db, "seg_other", voicehook.JobTypeVoiceover, "")
		for i, id := range []string{"evt_ok", "evt_failed", "evt_ignored", "evt_waiting", "evt_ok2"} {
			ingest(t, db, newEvent(id, "key_"+id, t0.Add(time.Duration(i)*time.Second)))
		}
		finishJob(t, db, first, voicehook.Completed(voicehook.StoredAudio{URL: "https://media.example/a.mp3", Bytes: 48213, DurationMS: 2040}, clock.Now()))
		finish(t, db, "evt_ok", voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: first.ID})
		finishJob(t, db, failed, voicehook.Failed("nope", clock.Now()))
		finish(t, db, "evt_failed", voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: failed.ID})
		finish(t, db, "evt_ignored", voicehook.EventFinish{Status: voicehook.EventIgnored, RelatedJob: first.ID})

		all := []string{"evt_ok", "evt_failed", "evt_ignored", "evt_waiting", "evt_ok2", "evt_unknown"}
		got, err := db.EventAudio(ctx, all)
		if err != nil {
			t.Fatalf("EventAudio: %v", err)
		}
		want := map[string]voicehook.EventAudio{"evt_ok": {DurationMS: 2040, Bytes: 48213}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("audio (-want +got):\n%s", diff)
		}

		// A newer voiceover replaces the segment's: the old event's audio
		// is no longer there to show; the new one's is.
		clock.Advance(time.Minute)
		second := createJob(t, db, "seg_audio", voicehook.JobTypeVoiceover, "")
		finishJob(t, db, second, voicehook.Completed(voicehook.StoredAudio{URL: "https://media.example/b.mp3", Bytes: 1000, DurationMS: 500}, clock.Now()))
		finish(t, db, "evt_ok2", voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: second.ID})
		got, err = db.EventAudio(ctx, all)
		if err != nil {
			t.Fatalf("EventAudio: %v", err)
		}
		want = map[string]voicehook.EventAudio{"evt_ok2": {DurationMS: 500, Bytes: 1000}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("audio after a newer voiceover (-want +got):\n%s", diff)
		}
		if got, err := db.EventAudio(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("no ids: %v %v", got, err)
		}
	})
}

// TestProcessingLatencySampled: past the bound, the percentiles come from an
// even sample of the window's attempts, close to the exact ones.
func TestProcessingLatencySampled(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		since := t0.Truncate(time.Minute)
		ingest(t, db, newEvent("evt_1", "key_1", since))
		// 1000 attempts over one minute, 1..1000 ms, their finish times 60 ms
		// (and some odd microseconds) apart, written directly.
		tx, err := db.Writer().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			end := since.Add(time.Duration(i)*60*time.Millisecond + time.Duration(i%7)*time.Microsecond)
			took := time.Duration((i*379)%1000+1) * time.Millisecond
			if _, err := tx.Exec(db.QForTest(`INSERT INTO voicehook_attempts (event_id, attempt, started_at, finished_at, outcome, error)
				VALUES (?, ?, ?, ?, ?, '')`), "evt_1", i+1, end.Add(-took).UnixMicro(), end.UnixMicro(), voicehook.AttemptRetry); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		exact, err := db.ProcessingLatencyForTest(ctx, since, since.Add(time.Minute), time.Minute, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if b := exact[0]; b.Count != 1000 || b.P50 != 500*time.Millisecond || b.P99 != 990*time.Millisecond {
			t.Errorf("exact: %+v", b)
		}
		sampled, err := db.ProcessingLatencyForTest(ctx, since, since.Add(time.Minute), time.Minute, 300)
		if err != nil {
			t.Fatal(err)
		}
		b := sampled[0]
		if b.Count < 100 || b.Count > 300 {
			t.Errorf("sampled %d attempts, want at most 300 and a fair share", b.Count)
		}
		for name, c := range map[string]struct{ got, want time.Duration }{"p50": {b.P50, 500 * time.Millisecond}, "p95": {b.P95, 950 * time.Millisecond}} {
			if d := c.got - c.want; d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("sampled %s = %v, want about %v", name, c.got, c.want)
			}
		}
	})
}

// TestTimelineQueryPlans: on SQLite the charts' queries read an index alone,
// never the table (PostgreSQL's planner picks by table size, so its plan on
// a test's few rows says nothing).
func TestTimelineQueryPlans(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		if s.name != "sqlite" {
			t.Skip("plans are checked on SQLite")
		}
		db, _ := s.setup(t)
		plan := func(query string, args ...any) string {
			t.Helper()
			rows, err := db.Writer().Query("EXPLAIN QUERY PLAN "+query, args...)
			if err != nil {
				t.Fatalf("explain: %v", err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				out = append(out, detail)
			}
			return strings.Join(out, "; ")
		}
		since := t0.Truncate(time.Minute)
		q, args := sqlstore.EventHistoryQueryForTest(since, since.Add(time.Hour), time.Minute)
		if p := plan(q, args...); !strings.Contains(p, "COVERING INDEX voicehook_events_status") {
			t.Errorf("event history plan: %s", p)
		}
		if p := plan(sqlstore.LatencyQueryForTest, 0, 60e6, 0, 1, "waiting"); !strings.Contains(p, "COVERING INDEX voicehook_attempts_finished") {
			t.Errorf("latency plan: %s", p)
		}
	})
}
