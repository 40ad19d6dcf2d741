package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/sqlstore"
	"github.com/voicehook/voicehook/sqlite"
	"github.com/voicehook/voicehook/voicehooktest"
)

// These tests run the API over the real SQL store (SQLite): replays,
// retries and superseded jobs are the store's behaviour as much as the
// handlers'.

// migrated is a migrated store file, made once per test binary.
var (
	migratedOnce sync.Once
	migrated     []byte
	migratedErr  error
)

// storeAPI is a Server over a fresh SQLite store, with the admin token
// unset (loopback clients are served).
type storeAPI struct {
	t     *testing.T
	srv   *Server
	db    *sqlstore.DB
	clock *voicehooktest.Clock
	h     http.Handler
	woken atomic.Int32
}

func newStoreAPI(t *testing.T, mutate ...func(*Server)) *storeAPI {
	t.Helper()
	// Migrating a new file takes seconds under -race: each test starts
	// from a copy of one migrated file.
	migratedOnce.Do(func() { migrated, migratedErr = migrateTemplate() })
	if migratedErr != nil {
		t.Fatalf("migrating a template store: %v", migratedErr)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, sqlite.FileName), migrated, 0o600); err != nil {
		t.Fatal(err)
	}
	clock := voicehooktest.NewClockAt(testNow)
	db, err := sqlite.Open(dir, sqlite.Options{Clock: clock})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrating the store: %v", err)
	}
	a := &storeAPI{t: t, db: db, clock: clock}
	a.srv = &Server{
		Inbox: db, Records: db, Clock: clock, PublicURL: "https://hooks.example.com",
		Tokens: NewTokens([]byte("0123456789abcdef")), Wake: func() { a.woken.Add(1) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mutate {
		m(a.srv)
	}
	a.h = a.srv.Handler()
	return a
}

// migrateTemplate migrates a new store and returns its file's bytes.
func migrateTemplate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "voicehook-web-test")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(dir, sqlite.Options{})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	// Closing the last connection checkpoints the WAL into the file.
	if err := db.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, sqlite.FileName))
}

// do sends a loopback API request and returns the status and body.
func (a *storeAPI) do(method, target, body string) (int, string) {
	a.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr, r.Host = "127.0.0.1:40000", "localhost:8080"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func (a *storeAPI) createJob(seg, externalID string) voicehook.Job {
	a.t.Helper()
	a.clock.Advance(time.Second)
	j, err := a.db.CreateJob(context.Background(), voicehook.NewJob{SegmentID: seg, Type: voicehook.JobTypeVoiceover, ExternalID: externalID})
	if err != nil {
		a.t.Fatal(err)
	}
	return j
}

func (a *storeAPI) finishJob(j voicehook.Job, end voicehook.JobEnd) {
	a.t.Helper()
	if err := a.db.FinishJob(context.Background(), j, end); err != nil {
		a.t.Fatal(err)
	}
}

func (a *storeAPI) job(id string) voicehook.Job {
	a.t.Helper()
	j, err := a.db.Job(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	return j
}

var eventSeq atomic.Int64

// event stores a delivery for seg received at receivedAt and, unless fin is
// nil, one attempt that ends it as fin says.
func (a *storeAPI) event(seg, payload string, receivedAt time.Time, fin *voicehook.EventFinish) string {
	a.t.Helper()
	id := fmt.Sprintf("evt_%04d", eventSeq.Add(1))
	parsed, err := elevenlabs.Parse([]byte(payload), seg)
	if err != nil {
		a.t.Fatal(err)
	}
	res := a.db.Ingest(context.Background(), []voicehook.NewEvent{{ID: id, Service: voicehook.ServiceElevenLabs, Endpoint: WebhookPath,
		DedupeKey: id, Type: parsed.Outcome.EventType, SegmentID: seg, RawPayload: []byte(payload), ReceivedAt: receivedAt}})
	if res[0].Err != nil {
		a.t.Fatalf("ingesting: %v", res[0].Err)
	}
	if fin != nil {
		a.attempt(id, voicehook.OutcomeOf(fin.Status), fin.ErrorDetails, fin)
	}
	return id
}

func (a *storeAPI) attempt(id string, outcome voicehook.AttemptOutcome, errText string, fin *voicehook.EventFinish) {
	a.t.Helper()
	started := a.clock.Advance(time.Second)
	at := voicehook.Attempt{EventID: id, StartedAt: started, FinishedAt: started.Add(20 * time.Millisecond), Outcome: outcome, Error: errText}
	if err := a.db.RecordAttempt(context.Background(), at, fin); err != nil {
		a.t.Fatal(err)
	}
}

func (a *storeAPI) eventStatus(id string) voicehook.EventStatus {
	a.t.Helper()
	ev, err := a.db.Event(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	return ev.Status
}

const (
	completedPayload = `{"status":"completed","output":{"url":"https://audio.example/x.mp3"}}`
	failedPayload    = `{"status":"failed","error":"quota exceeded"}`
	// A genuine event voicehook does not act on.
	otherPayload = `{"type":"post_call_transcription","data":{"conversation_id":"conv_1"}}`
)

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

// TestAPIJSONNotHTMLEscaped: the API's JSON shows & in callback URLs, not
// \u0026, so a user can copy the URL from any JSON it prints.
func TestAPIJSONNotHTMLEscaped(t *testing.T) {
	t.Parallel()
	a := newStoreAPI(t)
	check := func(what string, code, want int, body string) {
		t.Helper()
		if code != want {
			t.Fatalf("%s: %d %s, want %d", what, code, body, want)
		}
		if strings.Contains(body, `\u0026`) || !strings.Contains(body, `&token=`) {
			t.Errorf("%s: body %s, want the callback URL with & unescaped", what, body)
		}
	}
	code, body := a.do("POST", "/api/jobs", `{"segment_id":"scene <12>"}`)
	check("POST /api/jobs", code, http.StatusCreated, body)
	if !strings.Contains(body, `"segment_id":"scene <12>"`) {
		t.Errorf("POST /api/jobs: %s, want < and > as they are", body)
	}
	code, body = a.do("GET", "/api/segments/scene%20%3C12%3E", "")
	check("GET /api/segments/{id}", code, http.StatusOK, body)
	code, body = a.do("GET", "/api/segments/not-yet", "")
	check("GET /api/segments/{id} of an unknown segment", code, http.StatusNotFound, body)
	code, body = a.do("GET", "/api/segments/a&b/callback-url", "")
	check("GET /api/segments/{id}/callback-url", code, http.StatusOK, body)

	// Unescaped JSON is still never read as HTML.
	r := httptest.NewRequest("GET", "/api/segments/x", nil)
	r.RemoteAddr, r.Host = "127.0.0.1:40000", "localhost:8080"
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
}

// TestAPIInvalidFilters: a filter the API does not know is a 400 that
// lists what it takes, never an empty list.
func TestAPIInvalidFilters(t *testing.T) {
	t.Parallel()
	a := newStoreAPI(t)
	timeForms := `want an RFC 3339 time (2025-03-14T15:09:26Z), a date (2025-03-14, UTC) or a duration before now (90m, 24h)`
	tests := []struct {
		target string
		code   int
		msg    string
	}{
		{"/api/jobs?status=done", 400, `status "done": want processing, completed or failed`},
		{"/api/jobs?status=Processing", 400, `status "Processing": want processing, completed or failed`},
		{"/api/jobs?status=failed", 200, ""},
		{"/api/jobs?limit=0", 400, `limit "0": want a number from 1 to 1000`},
		{"/api/jobs?limit=5000", 400, `limit "5000": want a number from 1 to 1000`},
		{"/api/jobs?limit=ten", 400, `limit "ten": want a number from 1 to 1000`},
		{"/api/events?status=done", 400, `status "done": want received, succeeded, failed, ignored or dead`},
		{"/api/events?status=dead", 200, ""},
		{"/api/events?type=any.thing", 200, ""},
		{"/api/events?since=yesterday", 400, `since "yesterday": ` + timeForms},
		{"/api/events?until=2025-13-01", 400, `until "2025-13-01": ` + timeForms},
		{"/api/events?since=-5m", 400, `since "-5m": ` + timeForms},
		{"/api/events?since=2025-03-14T15:00:00Z&until=2025-03-14T14:00:00Z", 400,
			`since (2025-03-14T15:00:00Z) is not before until (2025-03-14T14:00:00Z): nothing can match`},
		{"/api/events?limit=-1", 400, `limit "-1": want a number from 1 to 1000`},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			code, body := a.do("GET", tt.target, "")
			if code != tt.code {
				t.Fatalf("%d %s, want %d", code, body, tt.code)
			}
			if tt.msg == "" {
				return
			}
			got := decode[map[string]string](t, body)
			if diff := cmp.Diff(map[string]string{"status": "error", "message": tt.msg}, got); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAPIEventTimeFilters: since and until take an RFC 3339 time, a date
// or a duration before now, and select on the time received.
func TestAPIEventTimeFilters(t *testing.T) {
	t.Parallel()
	a := newStoreAPI(t)
	old := a.event("seg", completedPayload, testNow.Add(-2*time.Hour), nil)
	yesterday := a.event("seg", completedPayload, testNow.Add(-26*time.Hour), nil)
	recent := a.event("seg", completedPayload, testNow.Add(-time.Minute), nil)
	tests := []struct {
		query string
		want  []string
	}{
		{"since=90m", []string{recent}},
		{"since=24h", []string{recent, old}},
		{"since=2025-03-14", []string{recent, old}},
		{"until=2025-03-14", []string{yesterday}},
		{"since=2025-03-14T13:00:00Z&until=2025-03-14T15:00:00Z", []string{old}},
		{"since=2025-03-14T13:00:00%2B01:00", []string{recent, old}},
		{"until=1h", []string{old, yesterday}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			code, body := a.do("GET", "/api/events?"+tt.query, "")
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			var got []string
			for _, ev := range decode[struct{ Events []voicehook.Event }](t, body).Events {
				got = append(got, ev.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

type replayReply struct {
	Status  string `json:"status"`
	EventID string `json:"event_id"`
	Message string `json:"message"`
}

// TestReplaySaysWhenItChangesNothing: replaying an event whose job is
// finished is still done (202), and the answer says it changes nothing and
// what would.
func TestReplaySaysWhenItChangesNothing(t *testing.T) {
	t.Parallel()
	note := func(job voicehook.Job, status, evt string) string {
		return fmt.Sprintf("job %s is already %s; replaying changes nothing: create a new job for this segment, "+
			"or POST /api/events/%s/retry-segment to do both in one step", job.ID, status, evt)
	}
	a := newStoreAPI(t)
	at := func() time.Time { return a.clock.Advance(time.Second) }

	failedJob := a.createJob("seg-failed", "")
	a.finishJob(failedJob, voicehook.Failed("quota exceeded", at()))
	failedEvt := a.event("seg-failed", failedPayload, at(), &voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: failedJob.ID, ErrorDetails: "quota exceeded"})

	doneJob := a.createJob("seg-done", "")
	a.finishJob(doneJob, voicehook.Completed(voicehook.StoredAudio{URL: "https://audio.example/x.mp3"}, at()))
	doneEvt := a.event("seg-done", completedPayload, at(), &voicehook.EventFinish{Status: voicehook.EventSucceeded, RelatedJob: doneJob.ID})

	// Its job failed, but the segment has a new job since: a replay
	// completes that one.
	oldJob := a.createJob("seg-new", "")
	a.finishJob(oldJob, voicehook.Failed("fetching audio: 404", at()))
	staleEvt := a.event("seg-new", completedPayload, at(), &voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: oldJob.ID, ErrorDetails: "fetching audio: 404"})
	a.createJob("seg-new", "")

	// Dead while its job is still processing: a replay tries again.
	liveJob := a.createJob("seg-dead", "")
	deadEvt := a.event("seg-dead", completedPayload, at(), &voicehook.EventFinish{Status: voicehook.EventDead, RelatedJob: liveJob.ID, ErrorDetails: "gave up"})

	// Moves no job at all.
	otherEvt := a.event("", otherPayload, at(), &voicehook.EventFinish{Status: voicehook.EventIgnored, ErrorDetails: "not acted on"})

	tests := []struct {
		name, id, message string
	}{
		{"job already failed", failedEvt, note(failedJob, "failed", failedEvt)},
		{"job already completed", doneEvt, note(doneJob, "completed", doneEvt)},
		{"a newer job is processing", staleEvt, ""},
		{"dead, job processing", deadEvt, ""},
		{"moves no job", otherEvt, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := a.do("POST", "/api/events/"+tt.id+"/replay", "")
			if code != http.StatusAccepted {
				t.Fatalf("%d %s, want 202", code, body)
			}
			want := replayReply{Status: "replaying", EventID: tt.id, Message: tt.message}
			if diff := cmp.Diff(want, decode[replayReply](t, body)); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
			if tt.message == "" && strings.Contains(body, `"message"`) {
				t.Errorf("reply %s has a message, want none", body)
			}
			if st := a.eventStatus(tt.id); st != voicehook.EventReceived {
				t.Errorf("event is %s after the replay, want received", st)
			}
		})
	}
	if code, body := a.do("POST", "/api/events/"+failedEvt+"/replay", ""); code != http.StatusConflict {
		t.Errorf("replaying a waiting event: %d %s, want 409", code, body)
	}
	if got := a.woken.Load(); got != int32(len(tests)) {
		t.Errorf("the queue was woken %d times, want %d", got, len(tests))
	}
}

type retryReply struct {
	Job     voicehook.Job `json:"job"`
	EventID string        `json:"event_id"`
	Message string        `json:"message"`
}

// TestRetrySegment: POST /api/events/{id}/retry-segment creates a new job
// like the event's finished one and replays the event, in one step.
func TestRetrySegment(t *testing.T) {
	t.Parallel()
	a := newStoreAPI(t)
	old := a.createJob("seg-r", "proj_1")
	a.finishJob(old, voicehook.Failed("fetching audio: 404", a.clock.Advance(time.Second)))
	evt := a.event("seg-r", completedPayload, a.clock.Advance(time.Second),
		&voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: old.ID, ErrorDetails: "fetching audio: 404"})

	code, body := a.do("POST", "/api/events/"+evt+"/retry-segment", "")
	if code != http.StatusCreated {
		t.Fatalf("%d %s, want 201", code, body)
	}
	if strings.Contains(body, `\u0026`) {
		t.Errorf("reply %s escapes & in the callback URL", body)
	}
	got := decode[retryReply](t, body)
	if got.Job.ID == "" || got.Job.ID == old.ID {
		t.Fatalf("job %q, want a new job", got.Job.ID)
	}
	want := retryReply{
		Job: voicehook.Job{ID: got.Job.ID, SegmentID: "seg-r", Type: voicehook.JobTypeVoiceover, Status: voicehook.JobProcessing,
			ExternalID: "proj_1", Timestamps: voicehook.Timestamps{Created: got.Job.Timestamps.Created}, CallbackURL: a.srv.callbackURL("seg-r")},
		EventID: evt,
		Message: fmt.Sprintf("created job %s for segment seg-r and replayed %s", got.Job.ID, evt),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	if j := a.job(got.Job.ID); j.Status != voicehook.JobProcessing {
		t.Errorf("the new job is stored as %s, want processing", j.Status)
	}
	if st := a.eventStatus(evt); st != voicehook.EventReceived {
		t.Errorf("event is %s, want received (replayed)", st)
	}
	if a.woken.Load() != 1 {
		t.Errorf("the queue was woken %d times, want 1", a.woken.Load())
	}
	// The old job keeps its own end; a finished job is not superseded.
	if j := a.job(old.ID); j.Status != voicehook.JobFailed || j.ErrorDetails != "fetching audio: 404" {
		t.Errorf("old job %s %q, want failed as it was", j.Status, j.ErrorDetails)
	}
	// And the replayed event now matches the new job.
	if j, err := a.db.FindJob(context.Background(), voicehook.JobQuery{SegmentID: "seg-r"}); err != nil || j.ID != got.Job.ID {
		t.Errorf("FindJob(seg-r) = %s, %v; want the new job %s", j.ID, err, got.Job.ID)
	}
}

// TestRetrySegmentRefusals: 409 with the reason when there is nothing to
// retry, 404 for an unknown event.
func TestRetrySegmentRefusals(t *testing.T) {
	t.Parallel()
	a := newStoreAPI(t)
	at := func() time.Time { return a.clock.Advance(time.Second) }
	waiting := a.event("seg-w", completedPayload, at(), nil)
	other := a.event("", otherPayload, at(), &voicehook.EventFinish{Status: voicehook.EventIgnored, ErrorDetails: "not acted on"})
	orphan := a.event("seg-none", completedPayload, at(), &voicehook.EventFinish{Status: voicehook.EventFailed,
		ErrorDetails: `no matching voiceover job for segment "seg-none" after waiting 10m0s (--job-match-grace)`})
	live := a.createJob("seg-live", "")
	dead := a.event("seg-live", completedPayload, at(), &voicehook.EventFinish{Status: voicehook.EventDead, RelatedJob: live.ID, ErrorDetails: "gave up"})

	tests := []struct {
		name, id string
		code     int
		msg      string
	}{
		{"still waiting", waiting, 409, "event " + waiting + " is still waiting to be processed; retry its segment once it has finished"},
		{"moves no job", other, 409, "event " + other + " (post_call_transcription) moves no voiceover job: there is no segment to retry"},
		{"no job matched", orphan, 409, "event " + orphan + ` matched no job (segment "seg-none"): create one with POST /api/jobs, then replay the event`},
		{"job still processing", dead, 409, "job " + live.ID + " of event " + dead + " is still processing: replay the event instead (POST /api/events/" + dead + "/replay)"},
		{"unknown event", "evt_nope", 404, "event not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := a.do("POST", "/api/events/"+tt.id+"/retry-segment", "")
			if code != tt.code {
				t.Fatalf("%d %s, want %d", code, body, tt.code)
			}
			if diff := cmp.Diff(map[string]string{"status": "error", "message": tt.msg}, decode[map[string]string](t, body)); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
	jobs, err := a.db.ListJobs(context.Background(), voicehook.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Errorf("%d jobs after refused retries, want only the one created", len(jobs))
	}
	if a.woken.Load() != 0 {
		t.Errorf("the queue was woken %d times, want none", a.woken.Load())
	}
}

// TestRetrySegmentOfGeneratedJob: a generated job's segment is retried
// with the same script (a Studio job's event is what comes back); a
// callback job on the same server gets a callback job.
func TestRetrySegmentOfGeneratedJob(t *testing.T) {
	t.Parallel()
	gens := &fakeGenerations{gens: map[string]voicehook.Generation{}} // admin_qa_test.go
	a := newStoreAPI(t, func(s *Server) { s.Generations = gens })
	seed := 7
	script := voicehook.Script{Text: "Chapter one.", VoiceID: "voice_a", Seed: &seed, Studio: true, CallbackURL: "https://old.example/cb"}
	gen := a.createJob("seg-g", "proj_7")
	if err := gens.AddGeneration(context.Background(), gen, script); err != nil {
		t.Fatal(err)
	}
	a.finishJob(gen, voicehook.Failed("conversion failed", a.clock.Advance(time.Second)))
	genEvt := a.event("seg-g", failedPayload, a.clock.Advance(time.Second),
		&voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: gen.ID, ErrorDetails: "conversion failed"})

	cb := a.createJob("seg-c", "")
	a.finishJob(cb, voicehook.Failed("fetching audio: 404", a.clock.Advance(time.Second)))
	cbEvt := a.event("seg-c", completedPayload, a.clock.Advance(time.Second),
		&voicehook.EventFinish{Status: voicehook.EventFailed, RelatedJob: cb.ID, ErrorDetails: "fetching audio: 404"})

	code, body := a.do("POST", "/api/events/"+genEvt+"/retry-segment", "")
	if code != http.StatusCreated {
		t.Fatalf("%d %s, want 201", code, body)
	}
	newGen := decode[retryReply](t, body).Job
	g, err := gens.Generation(context.Background(), newGen.ID)
	if err != nil {
		t.Fatalf("the new job %s has no generation: %v", newGen.ID, err)
	}
	wantScript := script
	wantScript.CallbackURL = a.srv.callbackURL("seg-g") // a Studio project calls the new job's segment's URL
	if diff := cmp.Diff(wantScript, g.Script); diff != "" {
		t.Errorf("the new job's script (-want +got):\n%s", diff)
	}
	if newGen.SegmentID != "seg-g" || newGen.ExternalID != "proj_7" {
		t.Errorf("new job %+v, want segment seg-g, external id proj_7", newGen)
	}

	code, body = a.do("POST", "/api/events/"+cbEvt+"/retry-segment", "")
	if code != http.StatusCreated {
		t.Fatalf("%d %s, want 201", code, body)
	}
	newCB := decode[retryReply](t, body).Job
	if _, err := gens.Generation(context.Background(), newCB.ID); !errors.Is(err, voicehook.ErrNotFound) {
		t.Errorf("the callback job's retry has a generation (%v), want none", err)
	}
}

// TestCollapseHistory: consecutive attempts with the same outcome and error
// become one row with a count and first and last times.
func TestCollapseHistory(t *testing.T) {
	t.Parallel()
	at := func(n int) voicehook.Attempt {
		s := testNow.Add(time.Duration(n) * time.Minute)
		return voicehook.Attempt{EventID: "evt_1", Attempt: n, StartedAt: s, FinishedAt: s.Add(time.Second)}
	}
	with := func(a voicehook.Attempt, outcome voicehook.AttemptOutcome, errText string) voicehook.Attempt {
		a.Outcome, a.Error = outcome, errText
		return a
	}
	row := func(first, last voicehook.Attempt, count int) historyRow {
		return historyRow{Attempt: last, Count: count, FirstAttempt: first.Attempt, FirstAt: first.StartedAt, LastAt: last.FinishedAt}
	}
	waiting := func(n int) voicehook.Attempt { return with(at(n), voicehook.AttemptWaiting, "no matching job yet") }
	retry := func(n int, e string) voicehook.Attempt { return with(at(n), voicehook.AttemptRetry, e) }

	var waits []voicehook.Attempt
	for n := 1; n <= 34; n++ {
		waits = append(waits, waiting(n))
	}
	done := with(at(35), voicehook.AttemptSucceeded, "")
	tests := []struct {
		name string
		in   []voicehook.Attempt
		want []historyRow
	}{
		{"none", nil, []historyRow{}},
		{"one", []voicehook.Attempt{done}, []historyRow{row(done, done, 1)}},
		{"34 waits then success", append(waits, done), []historyRow{row(waits[0], waits[33], 34), row(done, done, 1)}},
		{"only consecutive repeats", []voicehook.Attempt{retry(1, "500"), retry(2, "500"), retry(3, "502"), retry(4, "500")},
			[]historyRow{row(retry(1, "500"), retry(2, "500"), 2), row(retry(3, "502"), retry(3, "502"), 1), row(retry(4, "500"), retry(4, "500"), 1)}},
		{"same error, another outcome", []voicehook.Attempt{retry(1, "500"), with(at(2), voicehook.AttemptDead, "500")},
			[]historyRow{row(retry(1, "500"), retry(1, "500"), 1), row(with(at(2), voicehook.AttemptDead, "500"), with(at(2), voicehook.AttemptDead, "500"), 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, collapseHistory(tt.in)); diff != "" {
				t.Errorf("collapseHistory (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGetEventHistoryCollapsed: GET /api/events/{id} lists collapsed rows,
// each with an attempt's fields and count, first_at and last_at.
func TestGetEventHistoryCollapsed(t *testing.T) {
	t.Parallel()
	a := newStoreAPI(t)
	id := a.event("seg", completedPayload, testNow, nil)
	for range 3 {
		a.attempt(id, voicehook.AttemptWaiting, "no matching job yet", nil)
	}
	a.attempt(id, voicehook.AttemptFailed, "no job after 10m0s", &voicehook.EventFinish{Status: voicehook.EventFailed, ErrorDetails: "no job after 10m0s"})
	attempts, err := a.db.Attempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	code, body := a.do("GET", "/api/events/"+id, "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	got := decode[struct {
		History []map[string]any `json:"history"`
	}](t, body)
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	want := []map[string]any{
		{"event_id": id, "attempt": 3.0, "first_attempt": 1.0, "count": 3.0, "outcome": "waiting", "error": "no matching job yet",
			"started_at": ts(attempts[2].StartedAt), "finished_at": ts(attempts[2].FinishedAt),
			"first_at": ts(attempts[0].StartedAt), "last_at": ts(attempts[2].FinishedAt)},
		{"event_id": id, "attempt": 4.0, "first_attempt": 4.0, "count": 1.0, "outcome": "failed", "error": "no job after 10m0s",
			"started_at": ts(attempts[3].StartedAt), "finished_at": ts(attempts[3].FinishedAt),
			"first_at": ts(attempts[3].StartedAt), "last_at": ts(attempts[3].FinishedAt)},
	}
	if diff := cmp.Diff(want, got.History); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}
