package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/dbtest"
	"github.com/voicehook/voicehook/internal/sqlstore"
	"github.com/voicehook/voicehook/postgres"
	"github.com/voicehook/voicehook/sqlite"
)

// t0 is the fake clock's start; it has microsecond precision, as stored.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// fakeClock is a voicehook.Clock whose time the test sets.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// store is one backend the shared suite runs against.
type store struct {
	name string
	// location makes a new, empty database and returns where it is.
	location func(t *testing.T) string
	// open opens the database at loc, without migrating it; it is closed
	// when the test ends.
	open func(t *testing.T, loc string, clock voicehook.Clock) *sqlstore.DB
	// separateOpens: several separately opened DBs may share one database
	// (PostgreSQL replicas). Otherwise replicas share one DB (SQLite: one
	// process owns the file).
	separateOpens bool
}

func stores(t *testing.T) []store {
	t.Helper()
	return []store{
		{
			name:     "sqlite",
			location: func(t *testing.T) string { return t.TempDir() },
			open: func(t *testing.T, dir string, clock voicehook.Clock) *sqlstore.DB {
				t.Helper()
				db, err := sqlite.Open(dir, sqlite.Options{Clock: clock})
				if err != nil {
					t.Fatalf("sqlite.Open: %v", err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			},
		},
		{
			name:     "postgres",
			location: func(t *testing.T) string { return dbtest.PostgresURL(t) },
			open: func(t *testing.T, url string, clock voicehook.Clock) *sqlstore.DB {
				t.Helper()
				db, err := postgres.Open(context.Background(), url, postgres.Options{Clock: clock, MaxConns: 4})
				if err != nil {
					t.Fatalf("postgres.Open: %v", err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			},
			separateOpens: true,
		},
	}
}

// setup returns a fresh, migrated store and its clock.
func (s store) setup(t *testing.T) (*sqlstore.DB, *fakeClock) {
	t.Helper()
	clock := newClock()
	db := s.open(t, s.location(t), clock)
	migrate(t, db)
	return db, clock
}

// replicas returns n migrated DBs on one fresh database: separately opened
// where the backend allows it, else the same DB n times.
func (s store) replicas(t *testing.T, n int) ([]*sqlstore.DB, *fakeClock) {
	t.Helper()
	clock := newClock()
	loc := s.location(t)
	first := s.open(t, loc, clock)
	migrate(t, first)
	dbs := []*sqlstore.DB{first}
	for len(dbs) < n {
		if s.separateOpens {
			dbs = append(dbs, s.open(t, loc, clock))
		} else {
			dbs = append(dbs, first)
		}
	}
	return dbs, clock
}

// forEachStore runs fn as a parallel subtest per store.
func forEachStore(t *testing.T, fn func(t *testing.T, s store)) {
	t.Helper()
	t.Parallel()
	for _, s := range stores(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			fn(t, s)
		})
	}
}

func migrate(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
}

func newEvent(id, key string, at time.Time) voicehook.NewEvent {
	return voicehook.NewEvent{
		ID:         id,
		Service:    voicehook.ServiceElevenLabs,
		Endpoint:   "/webhooks/elevenlabs",
		DedupeKey:  key,
		Type:       "speech.completed",
		RawPayload: []byte(`{"id":"` + id + `"}`),
		Headers:    map[string]string{"Content-Type": "application/json"},
		ReceivedAt: at,
	}
}

// ingest stores evs in one batch and fails the test on any error.
func ingest(t *testing.T, db *sqlstore.DB, evs ...voicehook.NewEvent) []voicehook.IngestResult {
	t.Helper()
	res := db.Ingest(context.Background(), evs)
	if len(res) != len(evs) {
		t.Fatalf("Ingest returned %d results for %d events", len(res), len(evs))
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("Ingest result %d: %v", i, r.Err)
		}
	}
	return res
}

func event(t *testing.T, db *sqlstore.DB, id string) voicehook.Event {
	t.Helper()
	ev, err := db.Event(context.Background(), id)
	if err != nil {
		t.Fatalf("Event(%s): %v", id, err)
	}
	return ev
}

func finish(t *testing.T, db *sqlstore.DB, id string, f voicehook.EventFinish) {
	t.Helper()
	if err := db.FinishEvent(context.Background(), id, f); err != nil {
		t.Fatalf("FinishEvent(%s): %v", id, err)
	}
}

func createJob(t *testing.T, db *sqlstore.DB, segment, typ, external string) voicehook.Job {
	t.Helper()
	job, err := db.CreateJob(context.Background(), voicehook.NewJob{SegmentID: segment, Type: typ, ExternalID: external})
	if err != nil {
		t.Fatalf("CreateJob(%s): %v", segment, err)
	}
	return job
}

func job(t *testing.T, db *sqlstore.DB, id string) voicehook.Job {
	t.Helper()
	j, err := db.Job(context.Background(), id)
	if err != nil {
		t.Fatalf("Job(%s): %v", id, err)
	}
	return j
}

func segment(t *testing.T, db *sqlstore.DB, id string) voicehook.Segment {
	t.Helper()
	s, err := db.Segment(context.Background(), id)
	if err != nil {
		t.Fatalf("Segment(%s): %v", id, err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// ---------------------------------------------------------------- migrations

func TestMigrate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		for i := range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("Migrate again (%d): %v", i+1, err)
			}
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("Ping after Migrate: %v", err)
		}
		// The data survives a repeated migration.
		ingest(t, db, newEvent("evt_1", "k1", t0))
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate with data: %v", err)
		}
		event(t, db, "evt_1")

		// A schema behind the latest migration fails Ping and says what to do.
		if _, err := db.Writer().ExecContext(ctx, "DELETE FROM voicehook_migrations"); err != nil {
			t.Fatal(err)
		}
		err := db.Ping(ctx)
		if err == nil || !strings.Contains(err.Error(), "migrate") {
			t.Fatalf("Ping on a schema behind: got %v, want an error telling to migrate", err)
		}
	})
}

func TestPingUnmigrated(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db := s.open(t, s.location(t), newClock())
		err := db.Ping(context.Background())
		if err == nil {
			t.Fatal("Ping on an unmigrated database succeeded")
		}
		if !strings.Contains(err.Error(), "migrate") {
			t.Errorf("Ping on an unmigrated database: %q does not tell to migrate", err)
		}
		t.Logf("Ping error: %v", err)
		migrate(t, db)
		if err := db.Ping(context.Background()); err != nil {
			t.Fatalf("Ping after Migrate: %v", err)
		}
	})
}

func TestMigrateConcurrentReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		if !s.separateOpens {
			t.Skip("one process owns a SQLite file and migrates it once; concurrent migration is a PostgreSQL concern")
		}
		loc := s.location(t)
		dbs := make([]*sqlstore.DB, 3)
		for i := range dbs {
			dbs[i] = s.open(t, loc, newClock())
		}
		errs := make([]error, len(dbs))
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() { errs[i] = db.Migrate(context.Background()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: Migrate: %v", i, err)
			}
		}
		for i, db := range dbs {
			if err := db.Ping(context.Background()); err != nil {
				t.Errorf("replica %d: Ping: %v", i, err)
			}
		}
		// Every migration was recorded exactly once.
		var n, distinct int
		if err := dbs[0].Writer().QueryRow("SELECT COUNT(*), COUNT(DISTINCT version) FROM voicehook_migrations").Scan(&n, &distinct); err != nil {
			t.Fatal(err)
		}
		if n != distinct || n == 0 {
			t.Errorf("voicehook_migrations has %d rows for %d versions", n, distinct)
		}
	})
}

// -------------------------------------------------------------------- ingest

// A batch larger than one INSERT (see sqlstore.Ingest) keeps one event per
// dedupe key whether the repeat is in the same statement, a later one, or
// an earlier batch.
func TestIngestLargeBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, _ := s.setup(t)
		at := time.Date(2025, 3, 14, 16, 9, 26, 0, time.UTC)
		ingest(t, db, newEvent("evt_old", "key_7", at))
		const n = 203 // chunks of 64, 64, 64, 8, 2, 1
		evs := make([]voicehook.NewEvent, n)
		want := make([]voicehook.IngestResult, n)
		firstOf := map[string]string{"key_7": "evt_old"}
		for i := range n {
			// Every fifth event repeats the key of the event 70 before it
			// (another statement) or 3 before it (the same statement).
			key := fmt.Sprintf("key_%d", i)
			switch {
			case i%5 == 0 && i >= 70:
				key = evs[i-70].DedupeKey
			case i%5 == 0 && i >= 3:
				key = evs[i-3].DedupeKey
			}
			id := fmt.Sprintf("evt_%03d", i)
			evs[i] = newEvent(id, key, at.Add(time.Duration(i)*time.Millisecond))
			if first, ok := firstOf[key]; ok {
				want[i] = voicehook.IngestResult{EventID: first, Duplicate: true}
			} else {
				firstOf[key] = id
				want[i] = voicehook.IngestResult{EventID: id}
			}
		}
		if diff := cmp.Diff(want, ingest(t, db, evs...)); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		var stored int
		if err := db.Writer().QueryRow("SELECT COUNT(*) FROM voicehook_events").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != len(firstOf) {
			t.Errorf("%d events stored, want %d (one per dedupe key)", stored, len(firstOf))
		}
	})
}

func TestIngest(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		at := time.Date(2025, 3, 14, 16, 9, 26, 123456789, time.FixedZone("CET", 3600))
		raw := []byte{0x00, 0xff, 0xfe, '{', 0x80, '\n', 'x', 0x00}
		e1 := newEvent("evt_1", "key_a", at)
		e1.RawPayload = raw
		e1.SegmentID = "seg_1"
		e1.Type = "post_call_audio"
		e1.Headers = map[string]string{
			"Content-Type":          "application/octet-stream",
			"Elevenlabs-Signature":  "t=1600000000,v0=abc",
			"X-Forwarded-For":       "203.0.113.7, 10.0.0.1",
			"X-Request-Id":          `req "quoted" ü`,
			"User-Agent":            "ElevenLabs/1.0",
			"X-Empty-Header-Kept":   "",
			"X-Unicode-\u00e9-Name": "\u2603",
		}
		e2 := newEvent("evt_2", "key_b", at.Add(time.Second))
		e2.RawPayload = []byte{} // a signed empty body is still stored
		e3 := newEvent("evt_3", "key_a", at.Add(2*time.Second))

		res := ingest(t, db, e1, e2, e3)
		want := []voicehook.IngestResult{
			{EventID: "evt_1"},
			{EventID: "evt_2"},
			{EventID: "evt_1", Duplicate: true},
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("first batch (-want +got):\n%s", diff)
		}

		e4 := newEvent("evt_4", "key_b", at.Add(3*time.Second))
		e5 := newEvent("evt_5", "key_c", at.Add(4*time.Second))
		res = ingest(t, db, e4, e5)
		want = []voicehook.IngestResult{
			{EventID: "evt_2", Duplicate: true},
			{EventID: "evt_5"},
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("second batch (-want +got):\n%s", diff)
		}

		// The whole batch a duplicate: nothing new.
		res = ingest(t, db, newEvent("evt_6", "key_c", at), newEvent("evt_7", "key_a", at))
		want = []voicehook.IngestResult{
			{EventID: "evt_5", Duplicate: true},
			{EventID: "evt_1", Duplicate: true},
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("third batch (-want +got):\n%s", diff)
		}

		wantAt := time.Date(2025, 3, 14, 15, 9, 26, 123456000, time.UTC)
		wantE1 := voicehook.Event{
			ID:         "evt_1",
			Service:    voicehook.ServiceElevenLabs,
			Endpoint:   "/webhooks/elevenlabs",
			DedupeKey:  "key_a",
			Type:       "post_call_audio",
			SegmentID:  "seg_1",
			RawPayload: raw,
			Headers:    e1.Headers,
			ReceivedAt: wantAt,
			Status:     voicehook.EventReceived,
			Processed:  false,
			Success:    nil,
			UpdatedAt:  wantAt,
		}
		if diff := cmp.Diff(wantE1, event(t, db, "evt_1")); diff != "" {
			t.Errorf("Event(evt_1) (-want +got):\n%s", diff)
		}
		ev, err := db.EventForUpdate(ctx, "evt_1")
		if err != nil {
			t.Fatalf("EventForUpdate: %v", err)
		}
		if diff := cmp.Diff(wantE1, ev); diff != "" {
			t.Errorf("EventForUpdate(evt_1) (-want +got):\n%s", diff)
		}
		if got := event(t, db, "evt_2"); len(got.RawPayload) != 0 || got.DedupeKey != "key_b" {
			t.Errorf("Event(evt_2): payload %q, key %q; want empty payload, key_b", got.RawPayload, got.DedupeKey)
		}

		for _, id := range []string{"evt_3", "evt_4", "evt_6", "evt_7", "nope"} {
			if _, err := db.Event(ctx, id); !errors.Is(err, voicehook.ErrNotFound) {
				t.Errorf("Event(%s): got %v, want ErrNotFound", id, err)
			}
			if _, err := db.EventForUpdate(ctx, id); !errors.Is(err, voicehook.ErrNotFound) {
				t.Errorf("EventForUpdate(%s): got %v, want ErrNotFound", id, err)
			}
		}
		all, err := db.ListEvents(ctx, voicehook.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"evt_5", "evt_2", "evt_1"}, ids(all)); diff != "" {
			t.Errorf("stored events (-want +got):\n%s", diff)
		}
	})
}

func TestIngestConcurrentReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		const n = 24
		dbs, _ := s.replicas(t, 2)
		results := make([]voicehook.IngestResult, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				ev := newEvent(fmt.Sprintf("evt_%02d", i), "same_key", t0.Add(time.Duration(i)*time.Millisecond))
				results[i] = dbs[i%len(dbs)].Ingest(context.Background(), []voicehook.NewEvent{ev})[0]
			})
		}
		close(start)
		wg.Wait()
		winner := ""
		for i, r := range results {
			if r.Err != nil {
				t.Fatalf("goroutine %d: Ingest: %v", i, r.Err)
			}
			if !r.Duplicate {
				if winner != "" {
					t.Errorf("two deliveries stored: %s and %s", winner, r.EventID)
				}
				winner = r.EventID
			}
		}
		if winner == "" {
			t.Fatal("every delivery reported a duplicate; none stored")
		}
		for i, r := range results {
			if r.EventID != winner {
				t.Errorf("goroutine %d: event id %s, want %s", i, r.EventID, winner)
			}
		}
		for i, db := range dbs {
			all, err := db.ListEvents(context.Background(), voicehook.EventFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{winner}, ids(all)); diff != "" {
				t.Errorf("replica %d: stored events (-want +got):\n%s", i, diff)
			}
		}
	})
}

// --------------------------------------------------------- event processing

func TestFinishEventStatus(t *testing.T) {
	type state struct {
		Status       string
		Processed    bool
		Success      *bool
		ErrorDetails string
		RelatedJob   string
	}
	view := func(ev voicehook.Event) state {
		return state{ev.Status, ev.Processed, ev.Success, ev.ErrorDetails, ev.RelatedJob}
	}
	tests := []struct {
		status    string
		processed bool
		success   *bool
	}{
		{voicehook.EventSucceeded, true, ptr(true)},
		{voicehook.EventFailed, true, ptr(false)},
		{voicehook.EventDead, true, ptr(false)},
		{voicehook.EventIgnored, true, nil},
		{voicehook.EventReceived, false, nil},
	}
	forEachStore(t, func(t *testing.T, s store) {
		db, clock := s.setup(t)
		for i, tt := range tests {
			id := fmt.Sprintf("evt_%d", i)
			ingest(t, db, newEvent(id, id, t0))
			at := clock.Advance(time.Minute)
			finish(t, db, id, voicehook.EventFinish{Status: tt.status, ErrorDetails: "boom " + id, RelatedJob: "job_" + id})
			want := state{tt.status, tt.processed, tt.success, "boom " + id, "job_" + id}
			ev := event(t, db, id)
			if diff := cmp.Diff(want, view(ev)); diff != "" {
				t.Errorf("after FinishEvent(%s) (-want +got):\n%s", tt.status, diff)
			}
			if !ev.UpdatedAt.Equal(at) {
				t.Errorf("%s: updated_at %v, want %v", tt.status, ev.UpdatedAt, at)
			}
			// Empty details and job keep the earlier values.
			finish(t, db, id, voicehook.EventFinish{Status: tt.status})
			if diff := cmp.Diff(want, view(event(t, db, id))); diff != "" {
				t.Errorf("after FinishEvent(%s) with empty fields (-want +got):\n%s", tt.status, diff)
			}
		}

		// A later status keeps the earlier details; new details replace them.
		ingest(t, db, newEvent("evt_seq", "evt_seq", t0))
		steps := []struct {
			finish voicehook.EventFinish
			want   state
		}{
			{voicehook.EventFinish{Status: voicehook.EventFailed, ErrorDetails: "first", RelatedJob: "job_a"},
				state{voicehook.EventFailed, true, ptr(false), "first", "job_a"}},
			{voicehook.EventFinish{Status: voicehook.EventSucceeded},
				state{voicehook.EventSucceeded, true, ptr(true), "first", "job_a"}},
			{voicehook.EventFinish{Status: voicehook.EventIgnored, ErrorDetails: "second"},
				state{voicehook.EventIgnored, true, nil, "second", "job_a"}},
			{voicehook.EventFinish{Status: voicehook.EventDead, RelatedJob: "job_b"},
				state{voicehook.EventDead, true, ptr(false), "second", "job_b"}},
		}
		for i, st := range steps {
			finish(t, db, "evt_seq", st.finish)
			if diff := cmp.Diff(st.want, view(event(t, db, "evt_seq"))); diff != "" {
				t.Errorf("step %d (-want +got):\n%s", i, diff)
			}
		}
	})
}

func TestAttempts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		ingest(t, db, newEvent("evt_1", "k1", t0), newEvent("evt_2", "k2", t0))
		in := []voicehook.Attempt{
			{EventID: "evt_1", StartedAt: t0.Add(time.Second), FinishedAt: t0.Add(2*time.Second + 999), Outcome: "retry", Error: "fetching audio: 503"},
			{EventID: "evt_1", StartedAt: t0.Add(time.Minute), FinishedAt: t0.Add(time.Minute + time.Second), Outcome: "retry", Error: "no job yet"},
			{EventID: "evt_1", Attempt: 99, StartedAt: t0.Add(time.Hour), FinishedAt: t0.Add(time.Hour + time.Second), Outcome: "succeeded"},
		}
		var want []voicehook.Attempt
		for i, a := range in {
			at := clock.Advance(time.Second)
			if err := db.RecordAttempt(ctx, a); err != nil {
				t.Fatalf("RecordAttempt %d: %v", i, err)
			}
			ev := event(t, db, "evt_1")
			if ev.Attempts != i+1 {
				t.Errorf("after attempt %d: attempts = %d", i+1, ev.Attempts)
			}
			if !ev.UpdatedAt.Equal(at) {
				t.Errorf("after attempt %d: updated_at %v, want %v", i+1, ev.UpdatedAt, at)
			}
			a.Attempt = i + 1
			a.StartedAt, a.FinishedAt = a.StartedAt.Truncate(time.Microsecond), a.FinishedAt.Truncate(time.Microsecond)
			want = append(want, a)
		}
		got, err := db.Attempts(ctx, "evt_1")
		if err != nil {
			t.Fatalf("Attempts: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Attempts(evt_1) (-want +got):\n%s", diff)
		}
		got, err = db.Attempts(ctx, "evt_2")
		if err != nil || len(got) != 0 {
			t.Errorf("Attempts(evt_2) = %v, %v; want none", got, err)
		}
		if ev := event(t, db, "evt_2"); ev.Attempts != 0 {
			t.Errorf("evt_2 attempts = %d, want 0", ev.Attempts)
		}
		if err := db.RecordAttempt(ctx, voicehook.Attempt{EventID: "nope", Outcome: "retry"}); err == nil {
			t.Error("RecordAttempt on an unknown event succeeded")
		}
	})
}

// ------------------------------------------------------------------ enqueue

// enqueued calls EnqueuePending and returns the ids insert was handed.
func enqueued(t *testing.T, db *sqlstore.DB, limit int) []string {
	t.Helper()
	var got []string
	calls := 0
	n, err := db.EnqueuePending(context.Background(), limit, func(ctx context.Context, tx *sql.Tx, ids []string) error {
		calls++
		if tx == nil {
			return errors.New("insert got a nil transaction")
		}
		got = append(got, ids...)
		return nil
	})
	if err != nil {
		t.Fatalf("EnqueuePending(%d): %v", limit, err)
	}
	if n != len(got) {
		t.Errorf("EnqueuePending returned %d, insert got %d ids", n, len(got))
	}
	if calls > 1 || (calls == 1 && len(got) == 0) {
		t.Errorf("insert called %d times with %d ids; want once with ids, or not at all", calls, len(got))
	}
	return got
}

func TestEnqueuePending(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		// Stored out of order; they come out in received order.
		for _, i := range []int{3, 1, 4, 0, 2} {
			id := fmt.Sprintf("evt_%d", i)
			ingest(t, db, newEvent(id, id, t0.Add(time.Duration(i)*time.Second)))
		}
		if diff := cmp.Diff([]string{"evt_0", "evt_1"}, enqueued(t, db, 2)); diff != "" {
			t.Errorf("first call (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"evt_2", "evt_3"}, enqueued(t, db, 2)); diff != "" {
			t.Errorf("second call (-want +got):\n%s", diff)
		}

		// A failing insert rolls back: the same ids come out next time.
		boom := errors.New("queue down")
		var handed []string
		n, err := db.EnqueuePending(ctx, 10, func(ctx context.Context, tx *sql.Tx, ids []string) error {
			handed = append(handed, ids...)
			return boom
		})
		if !errors.Is(err, boom) || n != 0 {
			t.Errorf("EnqueuePending with failing insert = %d, %v; want 0, %v", n, err, boom)
		}
		if diff := cmp.Diff([]string{"evt_4"}, handed); diff != "" {
			t.Errorf("failing insert got (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"evt_4"}, enqueued(t, db, 10)); diff != "" {
			t.Errorf("after rollback (-want +got):\n%s", diff)
		}
		if got := enqueued(t, db, 10); len(got) != 0 {
			t.Errorf("nothing pending, yet got %v", got)
		}

		// A new event comes out once.
		ingest(t, db, newEvent("evt_5", "evt_5", t0.Add(5*time.Second)))
		if diff := cmp.Diff([]string{"evt_5"}, enqueued(t, db, 10)); diff != "" {
			t.Errorf("new event (-want +got):\n%s", diff)
		}

		// Replay puts a finished event back to received; it comes out again,
		// keeping its attempts and related job.
		if err := db.RecordAttempt(ctx, voicehook.Attempt{EventID: "evt_1", Outcome: "failed", Error: "x"}); err != nil {
			t.Fatal(err)
		}
		finish(t, db, "evt_1", voicehook.EventFinish{Status: voicehook.EventDead, ErrorDetails: "gave up", RelatedJob: "job_1"})
		if err := db.Replay(ctx, "evt_1"); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		ev := event(t, db, "evt_1")
		type state struct {
			Status       string
			Processed    bool
			Success      *bool
			ErrorDetails string
			RelatedJob   string
			Attempts     int
		}
		want := state{voicehook.EventReceived, false, nil, "", "job_1", 1}
		if diff := cmp.Diff(want, state{ev.Status, ev.Processed, ev.Success, ev.ErrorDetails, ev.RelatedJob, ev.Attempts}); diff != "" {
			t.Errorf("replayed event (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"evt_1"}, enqueued(t, db, 10)); diff != "" {
			t.Errorf("after Replay (-want +got):\n%s", diff)
		}
		if got := enqueued(t, db, 10); len(got) != 0 {
			t.Errorf("replayed event came out twice: %v", got)
		}
		if err := db.Replay(ctx, "nope"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("Replay(nope): got %v, want ErrNotFound", err)
		}
	})
}

func TestEnqueuePendingConcurrentReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		const events = 60
		dbs, _ := s.replicas(t, 2)
		var all []voicehook.NewEvent
		for i := range events {
			id := fmt.Sprintf("evt_%02d", i)
			all = append(all, newEvent(id, id, t0.Add(time.Duration(i)*time.Millisecond)))
		}
		ingest(t, dbs[0], all...)

		var mu sync.Mutex
		seen := map[string]int{}
		var errs []error
		var wg sync.WaitGroup
		for g := range 6 {
			db := dbs[g%len(dbs)]
			wg.Go(func() {
				for {
					n, err := db.EnqueuePending(context.Background(), 4, func(ctx context.Context, tx *sql.Tx, ids []string) error {
						time.Sleep(2 * time.Millisecond) // hold the rows a while
						mu.Lock()
						defer mu.Unlock()
						for _, id := range ids {
							seen[id]++
						}
						return nil
					})
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					if n == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("EnqueuePending: %v", errors.Join(errs...))
		}
		// Whatever the racers left (rows locked by another when they looked)
		// comes out now.
		for _, id := range enqueued(t, dbs[1], events) {
			seen[id]++
		}
		for _, ev := range all {
			if seen[ev.ID] != 1 {
				t.Errorf("%s handed to insert %d times, want once", ev.ID, seen[ev.ID])
			}
		}
		if len(seen) != events {
			t.Errorf("insert saw %d distinct ids, want %d", len(seen), events)
		}
	})
}

// TestEnqueuePendingSkipLocked: while one replica holds rows in its
// enqueue transaction, another takes the rest without waiting for it.
func TestEnqueuePendingSkipLocked(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		if !s.separateOpens {
			t.Skip("SQLite has one writer: a second enqueuer waits by design")
		}
		dbs, _ := s.replicas(t, 2)
		for i := range 4 {
			id := fmt.Sprintf("evt_%d", i)
			ingest(t, dbs[0], newEvent(id, id, t0.Add(time.Duration(i)*time.Second)))
		}
		holding, release := make(chan []string), make(chan struct{})
		firstDone := make(chan error, 1)
		go func() {
			_, err := dbs[0].EnqueuePending(context.Background(), 2, func(ctx context.Context, tx *sql.Tx, ids []string) error {
				holding <- ids
				<-release
				return nil
			})
			firstDone <- err
		}()
		var first []string
		select {
		case first = <-holding:
		case <-time.After(20 * time.Second):
			t.Fatal("first replica never reached insert")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var second []string
		_, err := dbs[1].EnqueuePending(ctx, 10, func(ctx context.Context, tx *sql.Tx, ids []string) error {
			second = append(second, ids...)
			return nil
		})
		close(release)
		if err != nil {
			t.Fatalf("second replica, while the first holds its rows: %v", err)
		}
		if err := <-firstDone; err != nil {
			t.Fatalf("first replica: %v", err)
		}
		if diff := cmp.Diff([]string{"evt_0", "evt_1"}, first); diff != "" {
			t.Errorf("first replica (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"evt_2", "evt_3"}, second); diff != "" {
			t.Errorf("second replica (-want +got):\n%s", diff)
		}
		if got := enqueued(t, dbs[1], 10); len(got) != 0 {
			t.Errorf("left over: %v", got)
		}
	})
}

// -------------------------------------------------------------- list, count

func ids(evs []voicehook.Event) []string {
	out := []string{}
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

func TestListEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
		mk := func(id string, at int, seg, typ string) voicehook.NewEvent {
			ev := newEvent(id, id, sec(at))
			ev.SegmentID, ev.Type = seg, typ
			return ev
		}
		ingest(t, db,
			mk("e01", 1, "A", "speech.completed"),
			mk("e02", 2, "B", "post_call_audio"),
			mk("e03", 3, "A", "post_call_audio"),
		)
		ingest(t, db,
			mk("e06", 5, "B", "speech.completed"), // same time as e05: id breaks the tie
			mk("e04", 4, "", "speech.completed"),
			mk("e05", 5, "A", "speech.completed"),
		)
		finish(t, db, "e02", voicehook.EventFinish{Status: voicehook.EventSucceeded})
		finish(t, db, "e03", voicehook.EventFinish{Status: voicehook.EventFailed})
		finish(t, db, "e05", voicehook.EventFinish{Status: voicehook.EventFailed})

		tests := []struct {
			name string
			f    voicehook.EventFilter
			want []string
		}{
			{"all newest first", voicehook.EventFilter{}, []string{"e06", "e05", "e04", "e03", "e02", "e01"}},
			{"status failed", voicehook.EventFilter{Status: voicehook.EventFailed}, []string{"e05", "e03"}},
			{"status received", voicehook.EventFilter{Status: voicehook.EventReceived}, []string{"e06", "e04", "e01"}},
			{"status none", voicehook.EventFilter{Status: voicehook.EventDead}, []string{}},
			{"segment", voicehook.EventFilter{SegmentID: "A"}, []string{"e05", "e03", "e01"}},
			{"type", voicehook.EventFilter{Type: "post_call_audio"}, []string{"e03", "e02"}},
			{"since inclusive", voicehook.EventFilter{Since: sec(3)}, []string{"e06", "e05", "e04", "e03"}},
			{"until exclusive", voicehook.EventFilter{Until: sec(3)}, []string{"e02", "e01"}},
			{"since and until", voicehook.EventFilter{Since: sec(2), Until: sec(5)}, []string{"e04", "e03", "e02"}},
			{"combined", voicehook.EventFilter{SegmentID: "A", Status: voicehook.EventFailed, Since: sec(4)}, []string{"e05"}},
			{"limit", voicehook.EventFilter{Limit: 2}, []string{"e06", "e05"}},
			{"before tie", voicehook.EventFilter{BeforeID: "e06", Limit: 2}, []string{"e05", "e04"}},
			{"before", voicehook.EventFilter{BeforeID: "e03"}, []string{"e02", "e01"}},
			{"before with filter", voicehook.EventFilter{Status: voicehook.EventReceived, BeforeID: "e04"}, []string{"e01"}},
			{"before the last", voicehook.EventFilter{BeforeID: "e01"}, []string{}},
		}
		for _, tt := range tests {
			got, err := db.ListEvents(ctx, tt.f)
			if err != nil {
				t.Fatalf("%s: ListEvents: %v", tt.name, err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}

		// Paging with BeforeID walks the whole list without overlap.
		for _, f := range []voicehook.EventFilter{{Limit: 2}, {Limit: 4}, {Limit: 1, SegmentID: "A"}} {
			var pages [][]string
			var walked []string
			before := ""
			for range 10 {
				f.BeforeID = before
				page, err := db.ListEvents(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > f.Limit {
					t.Errorf("page of %d, limit %d", len(page), f.Limit)
				}
				if len(page) == 0 {
					break
				}
				pages = append(pages, ids(page))
				walked = append(walked, ids(page)...)
				before = page[len(page)-1].ID
			}
			whole := f
			whole.Limit, whole.BeforeID = 0, ""
			all, err := db.ListEvents(ctx, whole)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ids(all), walked); diff != "" {
				t.Errorf("paging %+v: pages %v (-whole list +walked):\n%s", f, pages, diff)
			}
		}

		counts, err := db.CountEvents(ctx, 0)
		if err != nil {
			t.Fatalf("CountEvents: %v", err)
		}
		want := map[string]int{voicehook.EventReceived: 3, voicehook.EventSucceeded: 1, voicehook.EventFailed: 2}
		if diff := cmp.Diff(want, counts); diff != "" {
			t.Errorf("CountEvents(0) (-want +got):\n%s", diff)
		}
		counts, err = db.CountEvents(ctx, sec(4).UnixMicro())
		if err != nil {
			t.Fatalf("CountEvents: %v", err)
		}
		want = map[string]int{voicehook.EventReceived: 2, voicehook.EventFailed: 1}
		if diff := cmp.Diff(want, counts); diff != "" {
			t.Errorf("CountEvents(since 4s) (-want +got):\n%s", diff)
		}
		counts, err = db.CountEvents(ctx, sec(6).UnixMicro())
		if err != nil || len(counts) != 0 {
			t.Errorf("CountEvents(after all) = %v, %v; want empty", counts, err)
		}
	})
}

func TestListEventsDefaultLimit(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		db, _ := s.setup(t)
		var evs []voicehook.NewEvent
		for i := range 103 {
			id := fmt.Sprintf("evt_%03d", i)
			evs = append(evs, newEvent(id, id, t0.Add(time.Duration(i)*time.Second)))
		}
		ingest(t, db, evs...)
		for _, limit := range []int{0, -1, 5000} {
			got, err := db.ListEvents(context.Background(), voicehook.EventFilter{Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 100 || got[0].ID != "evt_102" {
				t.Errorf("limit %d: %d events starting %v; want 100 newest first", limit, len(got), ids(got[:1]))
			}
		}
		got, err := db.ListEvents(context.Background(), voicehook.EventFilter{Limit: 103})
		if err != nil || len(got) != 103 {
			t.Errorf("limit 103: %d events, %v", len(got), err)
		}
	})
}

// ------------------------------------------------------------------ records

func TestCreateJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		// A clock reading finer than storage keeps: what CreateJob returns is
		// what a later read returns.
		clock.Set(t0.Add(789 * time.Nanosecond))
		j1 := createJob(t, db, "seg_1", voicehook.JobTypeVoiceover, "")
		if !strings.HasPrefix(j1.ID, "job_") {
			t.Errorf("job id %q lacks the job_ prefix", j1.ID)
		}
		want := voicehook.Job{
			ID:         j1.ID,
			SegmentID:  "seg_1",
			Type:       voicehook.JobTypeVoiceover,
			Status:     voicehook.JobProcessing,
			Timestamps: voicehook.Timestamps{Created: ptr(t0)},
		}
		if diff := cmp.Diff(want, j1); diff != "" {
			t.Errorf("CreateJob (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, job(t, db, j1.ID)); diff != "" {
			t.Errorf("Job (-want +got):\n%s", diff)
		}
		wantSeg := voicehook.Segment{ID: "seg_1", Status: voicehook.SegmentPending, UpdatedAt: t0}
		if diff := cmp.Diff(wantSeg, segment(t, db, "seg_1")); diff != "" {
			t.Errorf("Segment (-want +got):\n%s", diff)
		}

		// A second job on the segment reuses it.
		later := clock.Advance(time.Hour)
		j2 := createJob(t, db, "seg_1", voicehook.JobTypeVoiceover, "req_9")
		if j2.ID == j1.ID {
			t.Fatalf("second job reused id %s", j1.ID)
		}
		if diff := cmp.Diff(wantSeg, segment(t, db, "seg_1")); diff != "" {
			t.Errorf("Segment after second job (-want +got):\n%s", diff)
		}
		want2 := voicehook.Job{
			ID: j2.ID, SegmentID: "seg_1", Type: voicehook.JobTypeVoiceover, Status: voicehook.JobProcessing,
			ExternalID: "req_9", Timestamps: voicehook.Timestamps{Created: ptr(later.Truncate(time.Microsecond))},
		}
		if diff := cmp.Diff(want2, job(t, db, j2.ID)); diff != "" {
			t.Errorf("second Job (-want +got):\n%s", diff)
		}
		jobs, err := db.ListJobs(ctx, voicehook.JobFilter{SegmentID: "seg_1"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]voicehook.Job{want2, want}, jobs); diff != "" {
			t.Errorf("ListJobs(seg_1) (-want +got):\n%s", diff)
		}

		if _, err := db.Job(ctx, "job_missing"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("Job(missing): got %v, want ErrNotFound", err)
		}
		if _, err := db.Segment(ctx, "seg_missing"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("Segment(missing): got %v, want ErrNotFound", err)
		}
	})
}

func TestFindJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		find := func(q voicehook.JobQuery) string {
			t.Helper()
			j, err := db.FindJob(ctx, q)
			if err != nil {
				t.Fatalf("FindJob(%+v): %v", q, err)
			}
			return j.ID
		}
		notFound := func(q voicehook.JobQuery) {
			t.Helper()
			if j, err := db.FindJob(ctx, q); !errors.Is(err, voicehook.ErrNotFound) {
				t.Errorf("FindJob(%+v) = %s, %v; want ErrNotFound", q, j.ID, err)
			}
		}

		older := createJob(t, db, "seg_s", voicehook.JobTypeVoiceover, "")
		clock.Advance(time.Minute)
		newer := createJob(t, db, "seg_s", voicehook.JobTypeVoiceover, "")
		if got := find(voicehook.JobQuery{SegmentID: "seg_s"}); got != newer.ID {
			t.Errorf("both processing: found %s, want the newest %s", got, newer.ID)
		}
		if err := db.CompleteJob(ctx, newer, voicehook.StoredAudio{URL: "https://x/a.mp3"}, clock.Advance(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := find(voicehook.JobQuery{SegmentID: "seg_s"}); got != older.ID {
			t.Errorf("processing vs newer finished: found %s, want the processing %s", got, older.ID)
		}
		if err := db.FailJob(ctx, older, "boom", clock.Advance(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := find(voicehook.JobQuery{SegmentID: "seg_s"}); got != newer.ID {
			t.Errorf("both finished: found %s, want the newest %s", got, newer.ID)
		}

		req := createJob(t, db, "seg_t", voicehook.JobTypeVoiceover, "req_1")
		proj := createJob(t, db, "seg_u", voicehook.JobTypeVoiceover, "proj_9")
		createJob(t, db, "seg_v", "other_type", "other_1")
		createJob(t, db, "seg_w", voicehook.JobTypeVoiceover, "")

		if got := find(voicehook.JobQuery{ExternalIDs: []string{"req_1"}}); got != req.ID {
			t.Errorf("by external id: found %s, want %s", got, req.ID)
		}
		if got := find(voicehook.JobQuery{ExternalIDs: []string{"nope", "chap_3", "proj_9"}}); got != proj.ID {
			t.Errorf("by any of several ids: found %s, want %s", got, proj.ID)
		}
		if got := find(voicehook.JobQuery{SegmentID: "seg_unknown", ExternalIDs: []string{"req_1"}}); got != req.ID {
			t.Errorf("unknown segment, known id: found %s, want %s", got, req.ID)
		}
		if got := find(voicehook.JobQuery{SegmentID: "seg_u", ExternalIDs: []string{"req_1"}}); got != proj.ID {
			t.Errorf("segment first: found %s, want %s", got, proj.ID)
		}
		notFound(voicehook.JobQuery{})
		notFound(voicehook.JobQuery{SegmentID: "seg_unknown"})
		notFound(voicehook.JobQuery{ExternalIDs: []string{"nope"}})
		notFound(voicehook.JobQuery{ExternalIDs: []string{""}}) // jobs without an external id never match
		notFound(voicehook.JobQuery{SegmentID: "seg_v"})        // not a voiceover job
		notFound(voicehook.JobQuery{ExternalIDs: []string{"other_1"}})
	})
}

func TestCompleteAndFailJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)

		done := createJob(t, db, "seg_ok", voicehook.JobTypeVoiceover, "")
		audio := voicehook.StoredAudio{URL: "https://cdn.example.com/seg_ok.mp3", Key: "k", SHA256: strings.Repeat("ab", 32),
			Bytes: 123456, DurationMS: 7890, ContentType: "audio/mpeg"}
		doneAt := clock.Advance(time.Minute).Add(321 * time.Nanosecond)
		if err := db.CompleteJob(ctx, done, audio, doneAt); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		wantJob := done
		wantJob.Status = voicehook.JobCompleted
		wantJob.Timestamps.Completed = ptr(doneAt.Truncate(time.Microsecond))
		wantSeg := voicehook.Segment{ID: "seg_ok", Status: voicehook.SegmentVoiceoverReady, Voiceover: audio.URL, SHA256: audio.SHA256,
			Bytes: audio.Bytes, DurationMS: audio.DurationMS, UpdatedAt: doneAt.Truncate(time.Microsecond)}
		check := func(step string, jobID string, wantJob voicehook.Job, wantSeg voicehook.Segment) {
			t.Helper()
			if diff := cmp.Diff(wantJob, job(t, db, jobID)); diff != "" {
				t.Errorf("%s: job (-want +got):\n%s", step, diff)
			}
			if diff := cmp.Diff(wantSeg, segment(t, db, wantSeg.ID)); diff != "" {
				t.Errorf("%s: segment (-want +got):\n%s", step, diff)
			}
		}
		check("CompleteJob", done.ID, wantJob, wantSeg)

		// A finished job never moves, whatever the caller's copy says.
		other := voicehook.StoredAudio{URL: "https://cdn.example.com/other.mp3", SHA256: "ff", Bytes: 1, DurationMS: 1}
		if err := db.CompleteJob(ctx, done, other, clock.Advance(time.Minute)); err != nil {
			t.Fatalf("CompleteJob again: %v", err)
		}
		check("CompleteJob on completed", done.ID, wantJob, wantSeg)
		if err := db.FailJob(ctx, done, "late failure", clock.Advance(time.Minute)); err != nil {
			t.Fatalf("FailJob on completed: %v", err)
		}
		check("FailJob on completed", done.ID, wantJob, wantSeg)

		failed := createJob(t, db, "seg_bad", voicehook.JobTypeVoiceover, "")
		failAt := clock.Advance(time.Minute)
		if err := db.FailJob(ctx, failed, "quota exceeded", failAt); err != nil {
			t.Fatalf("FailJob: %v", err)
		}
		wantFailed := failed
		wantFailed.Status = voicehook.JobFailed
		wantFailed.ErrorDetails = "quota exceeded"
		wantFailed.Timestamps.Failed = ptr(failAt)
		wantBadSeg := voicehook.Segment{ID: "seg_bad", Status: voicehook.SegmentVoiceoverFailed, UpdatedAt: failAt}
		check("FailJob", failed.ID, wantFailed, wantBadSeg)
		if err := db.FailJob(ctx, failed, "another reason", clock.Advance(time.Minute)); err != nil {
			t.Fatalf("FailJob again: %v", err)
		}
		check("FailJob on failed", failed.ID, wantFailed, wantBadSeg)
		if err := db.CompleteJob(ctx, failed, audio, clock.Advance(time.Minute)); err != nil {
			t.Fatalf("CompleteJob on failed: %v", err)
		}
		check("CompleteJob on failed", failed.ID, wantFailed, wantBadSeg)

		// The other segment was never touched.
		check("untouched", done.ID, wantJob, wantSeg)
	})
}

func TestListJobs(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, clock := s.setup(t)
		a1 := createJob(t, db, "seg_a", voicehook.JobTypeVoiceover, "")
		clock.Advance(time.Second)
		b1 := createJob(t, db, "seg_b", voicehook.JobTypeVoiceover, "")
		clock.Advance(time.Second)
		a2 := createJob(t, db, "seg_a", voicehook.JobTypeVoiceover, "")
		clock.Advance(time.Second)
		b2 := createJob(t, db, "seg_b", voicehook.JobTypeVoiceover, "")
		if err := db.CompleteJob(ctx, a1, voicehook.StoredAudio{URL: "u"}, clock.Advance(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := db.FailJob(ctx, b2, "x", clock.Advance(time.Second)); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			f    voicehook.JobFilter
			want []string
		}{
			{"all newest first", voicehook.JobFilter{}, []string{b2.ID, a2.ID, b1.ID, a1.ID}},
			{"segment", voicehook.JobFilter{SegmentID: "seg_a"}, []string{a2.ID, a1.ID}},
			{"status processing", voicehook.JobFilter{Status: voicehook.JobProcessing}, []string{a2.ID, b1.ID}},
			{"status completed", voicehook.JobFilter{Status: voicehook.JobCompleted}, []string{a1.ID}},
			{"status and segment", voicehook.JobFilter{Status: voicehook.JobFailed, SegmentID: "seg_b"}, []string{b2.ID}},
			{"no match", voicehook.JobFilter{Status: voicehook.JobFailed, SegmentID: "seg_a"}, []string{}},
			{"limit", voicehook.JobFilter{Limit: 3}, []string{b2.ID, a2.ID, b1.ID}},
		}
		for _, tt := range tests {
			jobs, err := db.ListJobs(ctx, tt.f)
			if err != nil {
				t.Fatalf("%s: ListJobs: %v", tt.name, err)
			}
			got := []string{}
			for _, j := range jobs {
				got = append(got, j.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}
	})
}

// ------------------------------------------------------------------- claims

func TestClaimJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		db, _ := s.setup(t)
		if _, err := db.ClaimOwner(ctx, "job_1"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("ClaimOwner before any claim: got %v, want ErrNotFound", err)
		}
		steps := []struct{ job, event, owner string }{
			{"job_1", "evt_a", "evt_a"},
			{"job_1", "evt_b", "evt_a"},
			{"job_1", "evt_a", "evt_a"},
			{"job_2", "evt_b", "evt_b"},
			{"job_2", "evt_a", "evt_b"},
		}
		for _, st := range steps {
			owner, err := db.ClaimJob(ctx, st.job, st.event)
			if err != nil {
				t.Fatalf("ClaimJob(%s, %s): %v", st.job, st.event, err)
			}
			if owner != st.owner {
				t.Errorf("ClaimJob(%s, %s) = %s, want %s", st.job, st.event, owner, st.owner)
			}
		}
		for jobID, want := range map[string]string{"job_1": "evt_a", "job_2": "evt_b"} {
			if got, err := db.ClaimOwner(ctx, jobID); err != nil || got != want {
				t.Errorf("ClaimOwner(%s) = %s, %v; want %s", jobID, got, err, want)
			}
		}
		if _, err := db.ClaimOwner(ctx, "job_3"); !errors.Is(err, voicehook.ErrNotFound) {
			t.Errorf("ClaimOwner(job_3): got %v, want ErrNotFound", err)
		}
	})
}

func TestClaimJobConcurrentReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		const n = 24
		dbs, _ := s.replicas(t, 2)
		owners := make([]string, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				owners[i], errs[i] = dbs[i%len(dbs)].ClaimJob(context.Background(), "job_race", fmt.Sprintf("evt_%02d", i))
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("claimant %d: %v", i, err)
			}
		}
		owner := owners[0]
		if !strings.HasPrefix(owner, "evt_") {
			t.Fatalf("owner %q is no claimant", owner)
		}
		for i, o := range owners {
			if o != owner {
				t.Errorf("claimant %d sees owner %s, claimant 0 sees %s", i, o, owner)
			}
		}
		for i, db := range dbs {
			if got, err := db.ClaimOwner(context.Background(), "job_race"); err != nil || got != owner {
				t.Errorf("replica %d: ClaimOwner = %s, %v; want %s", i, got, err, owner)
			}
		}
	})
}

// ------------------------------------------------------------------ secrets

func TestSecret(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		dbs, _ := s.replicas(t, 2)
		var mu sync.Mutex
		n := 0
		gen := func() string {
			mu.Lock()
			defer mu.Unlock()
			n++
			return fmt.Sprintf("generated_%d", n)
		}
		first, err := dbs[0].Secret(ctx, "callback_key", gen)
		if err != nil {
			t.Fatalf("Secret: %v", err)
		}
		if first != "generated_1" {
			t.Fatalf("first Secret = %q, want gen's value generated_1", first)
		}
		for i, db := range []*sqlstore.DB{dbs[0], dbs[1], dbs[0], dbs[1]} {
			got, err := db.Secret(ctx, "callback_key", gen)
			if err != nil {
				t.Fatalf("call %d: Secret: %v", i, err)
			}
			if got != first {
				t.Errorf("call %d: Secret = %q, want the stored %q", i, got, first)
			}
		}
		// Another name is another secret.
		media, err := dbs[1].Secret(ctx, "media_key", gen)
		if err != nil {
			t.Fatal(err)
		}
		if media == first || !strings.HasPrefix(media, "generated_") {
			t.Errorf("media_key = %q; want a new generated value", media)
		}

		// Replicas racing on a new name agree.
		const racers = 12
		got := make([]string, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { got[i], errs[i] = dbs[i%2].Secret(ctx, "raced_key", gen) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if len(slices.Compact(slices.Clone(got))) != 1 {
			t.Errorf("racing replicas got different secrets: %v", got)
		}
	})
}
