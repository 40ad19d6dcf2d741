package process_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
	"github.com/voicehook/voicehook/fetch"
	"github.com/voicehook/voicehook/internal/audiotest"
	"github.com/voicehook/voicehook/internal/tracing"
	"github.com/voicehook/voicehook/internal/tracing/tracingtest"
)

// The message of an event no job matches names what it looked for: the
// segment, the ids, or both, never an empty list.
func TestNoJobMessageNamesWhatWasLookedFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, segment, payload, want string
	}{
		{"segment and ids", "seg_1", inlineAudio, `no matching voiceover job for segment "seg_1" or ids conv_1 after waiting 10m0s (--job-match-grace)`},
		{"segment alone", "seg_1", `{"status":"completed","output":{"url":"https://cdn.example.com/a.mp3"}}`,
			`no matching voiceover job for segment "seg_1" after waiting 10m0s (--job-match-grace)`},
		{"ids alone", "", chapterDone, `no matching voiceover job for ids r1, c1, p1 after waiting 10m0s (--job-match-grace)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, true)
			b.addEventFor("evt_1", tc.segment, tc.payload, b.clock.Now().Add(-grace-time.Second), voicehook.EventReceived)
			b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 5})
			if got := b.store.events["evt_1"].ErrorDetails; got != tc.want {
				t.Errorf("details = %q\nwant      %q", got, tc.want)
			}
		})
	}
}

// tracedBundle is a processor with tracing on, a real Fetcher whose
// transport tracing wraps, an audio server that records the traceparent
// it is sent, and a JSON log.
type tracedBundle struct {
	bundle
	tr      *tracing.Tracing
	col     *tracingtest.Collector
	audio   *httptest.Server
	headers chan string
	log     *bytes.Buffer
}

func setupTraced(t *testing.T) tracedBundle {
	t.Helper()
	b := tracedBundle{bundle: setup(t, true), col: tracingtest.New(t), headers: make(chan string, 4), log: &bytes.Buffer{}}
	var err error
	b.tr, err = tracing.Setup(context.Background(), tracing.Config{Endpoint: b.col.URL, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	mp3 := audiotest.MP3(time.Second)
	b.audio = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.headers <- r.Header.Get("Traceparent")
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(mp3)
	}))
	t.Cleanup(b.audio.Close)
	b.p.Tracing = b.tr
	b.p.Fetcher = &fetch.Fetcher{AllowPrivate: true, WrapTransport: b.tr.Transport}
	b.p.Logger = b.tr.Logger(slog.New(slog.NewJSONHandler(b.log, nil)))
	b.addJob(voicehook.JobProcessing, time.Time{})
	return b
}

// deliver adds evt_1, a completed callback for seg_1 whose audio is on the
// audio server, kept under traceparent.
func (b tracedBundle) deliver(traceparent string) {
	b.addEvent("evt_1", `{"status":"completed","output":{"url":"`+b.audio.URL+`/a.mp3"}}`, b.clock.Now().Add(-time.Second), voicehook.EventReceived)
	ev := b.store.events["evt_1"]
	ev.TraceParent = traceparent
	b.store.events["evt_1"] = ev
}

// shape is a span's place in its trace: its name and its parent's name.
type shape struct{ Name, Parent string }

func shapes(spans []tracingtest.Span) []shape {
	names := map[string]string{}
	for _, s := range spans {
		names[s.SpanID] = s.Name
	}
	var out []shape
	for _, s := range spans {
		parent := names[s.ParentID]
		if parent == "" && s.ParentID != "" {
			parent = "(stored " + s.ParentID + ")"
		}
		out = append(out, shape{s.Name, parent})
	}
	return out
}

// An attempt continues the trace its event kept: the attempt span is a
// child of the stored context, and each outside call a child of the
// attempt, the audio download carrying the traceparent. Its log lines
// carry the trace's id.
func TestAttemptContinuesTheEventsTrace(t *testing.T) {
	t.Parallel()
	b := setupTraced(t)
	const stored = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	b.deliver(stored)
	res := b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 5})
	if res.Retry != nil || b.store.events["evt_1"].Status != voicehook.EventSucceeded {
		t.Fatalf("attempt: %+v, event %+v", res, b.store.events["evt_1"])
	}
	if err := b.tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := b.col.Spans()
	want := []shape{
		{"attempt", "(stored b7ad6b7169203331)"},
		{"records.find_job", "attempt"},
		{"fetch.audio", "attempt"},
		{"GET " + strings.TrimPrefix(b.audio.URL, "http://"), "fetch.audio"},
		{"storage.put", "attempt"},
		{"records.resolve", "attempt"},
	}
	if diff := cmp.Diff(want, shapes(spans)); diff != "" {
		t.Errorf("spans (-want +got):\n%s\n%s", diff, tracingtest.Dump(spans))
	}
	for _, s := range spans {
		if s.TraceID != "0af7651916cd43dd8448eb211c80319c" {
			t.Errorf("span %s in trace %s, not the event's", s.Name, s.TraceID)
		}
	}
	attempt := spans[0]
	for k, v := range map[string]string{"voicehook.event_id": "evt_1", "voicehook.attempt": "1", "voicehook.outcome": "succeeded", "voicehook.job_id": "job_1"} {
		if attempt.Attrs[k] != v {
			t.Errorf("attempt span %s = %q, want %q", k, attempt.Attrs[k], v)
		}
	}
	sent := <-b.headers
	if sc, ok := tracing.ParseTraceParent(sent); !ok || sc.SpanID().String() != spans[3].SpanID {
		t.Errorf("the audio server got traceparent %q, want the download's client span %s", sent, spans[3].SpanID)
	}
	var lines int
	for line := range strings.Lines(b.log.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		lines++
		if rec["trace_id"] != "0af7651916cd43dd8448eb211c80319c" || rec["span_id"] == "" {
			t.Errorf("log line without the trace: %s", line)
		}
	}
	if lines == 0 {
		t.Error("the attempt logged nothing")
	}
}

// Run by the queue, the attempt is a child of the span the queue hands it
// (its wait in the queue), which itself continues the stored context.
func TestAttemptIsAChildOfTheQueueWait(t *testing.T) {
	t.Parallel()
	b := setupTraced(t)
	b.deliver("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	ctx, wait := b.tr.StartFrom(context.Background(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "queue.wait")
	wait.End()
	b.p.Process(ctx, voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 5})
	<-b.headers
	if err := b.tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := shapes(b.col.Spans())
	if len(got) < 2 || got[0] != (shape{"queue.wait", "(stored b7ad6b7169203331)"}) || got[1] != (shape{"attempt", "queue.wait"}) {
		t.Errorf("spans = %v", got)
	}
}

// A failing outside call marks its span and the attempt's failed.
func TestFailedCallMarksItsSpan(t *testing.T) {
	t.Parallel()
	b := setupTraced(t)
	b.storage.err = errStorageDown
	b.deliver("")
	b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 5})
	<-b.headers
	if err := b.tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := b.col.Spans()
	byName := map[string]tracingtest.Span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	attempt, put := byName["attempt"], byName["storage.put"]
	if attempt.ParentID != "" {
		t.Errorf("an event without a stored trace: attempt has parent %s, want a new trace", attempt.ParentID)
	}
	if !put.Failed || put.Error != errStorageDown.Error() {
		t.Errorf("storage.put: failed=%v %q", put.Failed, put.Error)
	}
	if !attempt.Failed || attempt.Attrs["voicehook.outcome"] != "retry" || !strings.Contains(attempt.Error, "storage unavailable") {
		t.Errorf("attempt: failed=%v outcome=%q error=%q", attempt.Failed, attempt.Attrs["voicehook.outcome"], attempt.Error)
	}
}

// With tracing off the attempt leaves no span in the ctx of the calls it
// makes, and the download sends no traceparent.
func TestAttemptUntracedWithTracingOff(t *testing.T) {
	t.Parallel()
	b := setupTraced(t)
	b.p.Tracing = nil
	b.p.Fetcher = &fetch.Fetcher{AllowPrivate: true}
	seen := &spanStorage{memStorage: b.storage}
	b.p.Storage = seen
	b.deliver("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 5})
	if h := <-b.headers; h != "" {
		t.Errorf("traceparent %q sent with tracing off", h)
	}
	if seen.span.IsValid() {
		t.Errorf("storage called within span %v with tracing off", seen.span)
	}
}

type spanStorage struct {
	*memStorage
	span trace.SpanContext
}

func (s *spanStorage) Put(ctx context.Context, obj voicehook.AudioObject) (voicehook.StoredAudio, error) {
	s.span = trace.SpanContextFromContext(ctx)
	return s.memStorage.Put(ctx, obj)
}

func newTracing(t *testing.T) (*tracing.Tracing, *tracingtest.Collector) {
	t.Helper()
	col := tracingtest.New(t)
	tr, err := tracing.Setup(context.Background(), tracing.Config{Endpoint: col.URL, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return tr, col
}

// A generation, which no delivery began, is a trace of its own, with a
// span for each outside call; ElevenLabs gets the traceparent.
func TestGenerationIsATraceOfItsOwn(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS("k")
	t.Cleanup(em.Close)
	g, _, _, _ := newGenerator(t, em, "Traced from the job to the stored audio.")
	tr, col := newTracing(t)
	g.Tracing = tr
	g.TTS.HTTP = tr.Client(g.TTS.HTTP)
	if res := g.Generate(context.Background(), voicehook.GenerationRun{JobID: "job_1", Attempt: 1, MaxAttempts: 5}); res != (voicehook.RunResult{}) {
		t.Fatalf("Generate = %+v", res)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := col.Spans()
	want := []shape{
		{"generation", ""},
		{"records.job", "generation"},
		{"elevenlabs.tts", "generation"},
		{"POST " + strings.TrimPrefix(em.URL, "http://"), "elevenlabs.tts"},
		{"storage.put", "generation"},
		{"storage.put", "generation"},
		{"records.finish_job", "generation"},
	}
	if diff := cmp.Diff(want, shapes(spans)); diff != "" {
		t.Errorf("spans (-want +got):\n%s\n%s", diff, tracingtest.Dump(spans))
	}
	if got := spans[0].Attrs["voicehook.job_id"]; got != "job_1" {
		t.Errorf("generation span job_id = %q", got)
	}
}

// A QA check is a trace of its own too: reading the voiceover back from
// storage and asking speech to text are its spans.
func TestQACheckIsATraceOfItsOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupQA(t)
	tr, col := newTracing(t)
	b.checker.Tracing = tr
	b.addJob(voicehook.JobCompleted, b.clock.Now())
	audio := voicehook.StoredAudio{URL: "http://127.0.0.1:8080/media/seg_1/a.mp3", Key: "seg_1/a.mp3", ContentType: "audio/mpeg"}
	if err := b.checker.QueueQA(ctx, b.store.jobs["job_1"], qaScript, audio); err != nil {
		t.Fatal(err)
	}
	b.stt.err = errors.New("speech to text is down")
	if res := b.checker.Check(ctx, voicehook.QARun{JobID: "job_1", Attempt: 1, MaxAttempts: 5}); res.Retry == nil {
		t.Fatalf("Check = %+v, want a retry", res)
	}
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	spans := col.Spans()
	want := []shape{{"qa.check", ""}, {"records.job", "qa.check"}, {"storage.read", "qa.check"}, {"elevenlabs.stt", "qa.check"}}
	if diff := cmp.Diff(want, shapes(spans)); diff != "" {
		t.Errorf("spans (-want +got):\n%s\n%s", diff, tracingtest.Dump(spans))
	}
	if !spans[0].Failed || !spans[3].Failed || spans[0].Attrs["voicehook.outcome"] != "retry" {
		t.Errorf("a check that will be retried: %+v", spans)
	}
}
