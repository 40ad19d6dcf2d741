package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/dbtest"
	"github.com/voicehook/voicehook/internal/sqlstore"
	"github.com/voicehook/voicehook/postgres"
	"github.com/voicehook/voicehook/sqlite"
	"github.com/voicehook/voicehook/voicehooktest"
)

// t0 is where every test's clock starts (voicehooktest.T0); it has
// microsecond precision, as stored.
var t0 = voicehooktest.T0

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
func (s store) setup(t *testing.T) (*sqlstore.DB, *voicehooktest.Clock) {
	t.Helper()
	clock := voicehooktest.NewClock()
	db := s.open(t, s.location(t), clock)
	migrate(t, db)
	return db, clock
}

// replicas returns n migrated DBs on one fresh database: separately opened
// where the backend allows it, else the same DB n times.
func (s store) replicas(t *testing.T, n int) ([]*sqlstore.DB, *voicehooktest.Clock) {
	t.Helper()
	clock := voicehooktest.NewClock()
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

// finish moves an event to f as processing does: an attempt recorded with
// the event's new state (so it also counts one attempt).
func finish(t *testing.T, db *sqlstore.DB, id string, f voicehook.EventFinish) {
	t.Helper()
	outcome := voicehook.OutcomeOf(f.Status)
	if !f.Status.Finished() {
		outcome = voicehook.AttemptRetry
	}
	a := voicehook.Attempt{EventID: id, StartedAt: t0, FinishedAt: t0, Outcome: outcome, Error: f.ErrorDetails}
	if err := db.RecordAttempt(context.Background(), a, &f); err != nil {
		t.Fatalf("RecordAttempt(%s, %s): %v", id, f.Status, err)
	}
}

func attempts(t *testing.T, db *sqlstore.DB, eventID string) []voicehook.Attempt {
	t.Helper()
	as, err := db.Attempts(context.Background(), eventID)
	if err != nil {
		t.Fatalf("Attempts(%s): %v", eventID, err)
	}
	return as
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

// finishJob moves job to end and fails the test on an error.
func finishJob(t *testing.T, db *sqlstore.DB, j voicehook.Job, end voicehook.JobEnd) {
	t.Helper()
	if err := db.FinishJob(context.Background(), j, end); err != nil {
		t.Fatalf("FinishJob(%s, %s): %v", j.ID, end.Status, err)
	}
}

func ids(evs []voicehook.Event) []string {
	out := []string{}
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
