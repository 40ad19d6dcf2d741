package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/qa"
)

// ------------------------------------------------------------------- fakes

// fakeQA is an in-memory QAChecks holding fixed checks.
type fakeQA struct {
	mu     sync.Mutex
	checks []voicehook.QACheck
}

func (f *fakeQA) ExpectScript(ctx context.Context, job voicehook.Job, script string) error {
	return nil
}

func (f *fakeQA) QueueQA(ctx context.Context, job voicehook.Job, script string, audio voicehook.StoredAudio) (bool, error) {
	return false, nil
}

func (f *fakeQA) find(match func(voicehook.QACheck) bool) (voicehook.QACheck, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best voicehook.QACheck
	found := false
	for _, c := range f.checks {
		if match(c) && (!found || c.Updated.After(best.Updated)) {
			best, found = c, true
		}
	}
	if !found {
		return best, voicehook.ErrNotFound
	}
	return best, nil
}

func (f *fakeQA) QA(ctx context.Context, jobID string) (voicehook.QACheck, error) {
	return f.find(func(c voicehook.QACheck) bool { return c.JobID == jobID })
}

func (f *fakeQA) QAByRequest(ctx context.Context, requestID string) (voicehook.QACheck, error) {
	return f.find(func(c voicehook.QACheck) bool { return c.RequestID == requestID })
}

func (f *fakeQA) SegmentQA(ctx context.Context, segmentID string) (voicehook.QACheck, error) {
	return f.find(func(c voicehook.QACheck) bool { return c.SegmentID == segmentID })
}

func (f *fakeQA) SaveQA(ctx context.Context, c voicehook.QACheck) error {
	panic("the admin pages save no QA check")
}

// ListQA returns the checks in job id order, not worst first: the page
// must not depend on the store's order to show the worst first.
func (f *fakeQA) ListQA(ctx context.Context, flt voicehook.QAFilter) ([]voicehook.QACheck, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []voicehook.QACheck
	for _, c := range f.checks {
		if flt.Status == "" || c.Status == flt.Status {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b voicehook.QACheck) int { return strings.Compare(a.JobID, b.JobID) })
	if flt.Limit > 0 && len(out) > flt.Limit {
		out = out[:flt.Limit]
	}
	return out, nil
}

// fakeGenerations knows the generations of some jobs and records new ones.
type fakeGenerations struct {
	mu    sync.Mutex
	gens  map[string]voicehook.Generation
	added []voicehook.Generation
}

func (f *fakeGenerations) AddGeneration(ctx context.Context, job voicehook.Job, script voicehook.Script) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := voicehook.Generation{JobID: job.ID, SegmentID: job.SegmentID, Script: script, State: voicehook.GenerationQueued}
	f.gens[job.ID] = g
	f.added = append(f.added, g)
	return nil
}

func (f *fakeGenerations) Generation(ctx context.Context, jobID string) (voicehook.Generation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.gens[jobID]
	if !ok {
		return g, fmt.Errorf("generation of %s: %w", jobID, voicehook.ErrNotFound)
	}
	return g, nil
}

func (f *fakeGenerations) SegmentGeneration(ctx context.Context, segmentID string) (voicehook.Generation, error) {
	return voicehook.Generation{}, voicehook.ErrNotFound
}

func (f *fakeGenerations) SequenceBefore(ctx context.Context, seq voicehook.Sequence) (voicehook.Generation, error) {
	return voicehook.Generation{}, voicehook.ErrNotFound
}

func (f *fakeGenerations) SavePart(ctx context.Context, jobID string, part voicehook.GenerationPart) error {
	panic("the admin pages generate nothing")
}

func (f *fakeGenerations) SaveStored(ctx context.Context, jobID string, audio voicehook.StoredAudio, captions string, cues []voicehook.Cue) error {
	panic("the admin pages generate nothing")
}

func (f *fakeGenerations) EndGeneration(ctx context.Context, jobID string, state voicehook.GenerationState, reason string) error {
	panic("the admin pages generate nothing")
}

func (f *fakeGenerations) CharactersSince(ctx context.Context, t time.Time) (int, error) {
	return 0, nil
}

// qaRecords holds the QA tests' jobs and segments and creates jobs.
type qaRecords struct {
	fakeRecords
	mu       sync.Mutex
	jobs     map[string]voicehook.Job
	segments map[string]voicehook.Segment
	created  []voicehook.NewJob
}

func (r *qaRecords) CreateJob(ctx context.Context, nj voicehook.NewJob) (voicehook.Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created = append(r.created, nj)
	job := voicehook.Job{ID: fmt.Sprintf("job_new%d", len(r.created)), SegmentID: nj.SegmentID, Type: nj.Type,
		ExternalID: nj.ExternalID, Status: voicehook.JobProcessing, Timestamps: voicehook.Timestamps{Created: &testNow}}
	r.jobs[job.ID] = job
	return job, nil
}

func (r *qaRecords) Job(ctx context.Context, id string) (voicehook.Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j, ok := r.jobs[id]; ok {
		return j, nil
	}
	return voicehook.Job{}, fmt.Errorf("job %s: %w", id, voicehook.ErrNotFound)
}

func (r *qaRecords) Segment(ctx context.Context, id string) (voicehook.Segment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.segments[id]; ok {
		return s, nil
	}
	return voicehook.Segment{}, fmt.Errorf("segment %s: %w", id, voicehook.ErrNotFound)
}

func (r *qaRecords) ListJobs(ctx context.Context, f voicehook.JobFilter) ([]voicehook.Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []voicehook.Job
	for _, j := range r.jobs {
		if (f.Status == "" || j.Status == f.Status) && (f.SegmentID == "" || j.SegmentID == f.SegmentID) {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b voicehook.Job) int { return strings.Compare(b.ID, a.ID) })
	return out, nil
}

// ----------------------------------------------------------------- fixture

// The flagged check of seg_q: the script said "We paid 1,000 dollars for
// the brown fox." and the voice said "We paid 1000 dollars for the box
// again". ScriptIndex counts the script's normalised tokens ("1,000" is
// two: "one thousand"), so "brown" is token 7 though it is word 6.
const qaScript = "We paid 1,000 dollars for the brown fox."

var (
	qaDeletion     = voicehook.QADifference{Kind: voicehook.DiffDeletion, Expected: "brown", At: 2.1, End: 2.2, ScriptIndex: 7}
	qaSubstitution = voicehook.QADifference{Kind: voicehook.DiffSubstitution, Expected: "fox.", Heard: "box", At: 2.2, End: 2.6, ScriptIndex: 8}
	qaInsertion    = voicehook.QADifference{Kind: voicehook.DiffInsertion, Heard: "again", At: 2.7, End: 3.0, ScriptIndex: 8}
)

func tw(text string, start, end float64) voicehook.TranscriptWord {
	return voicehook.TranscriptWord{Text: text, Start: start, End: end, Type: "word"}
}

func qaFixture() (*qaRecords, *fakeQA, *fakeGenerations) {
	seed := 3
	audio := func(seg string) *voicehook.StoredAudio {
		return &voicehook.StoredAudio{URL: "https://media.example/" + seg + ".mp3"}
	}
	job := func(id, seg string) voicehook.Job {
		return voicehook.Job{ID: id, SegmentID: seg, Type: voicehook.JobTypeVoiceover, Status: voicehook.JobCompleted,
			ExternalID: "ext_" + id, Timestamps: voicehook.Timestamps{Created: &testNow}}
	}
	seg := func(id string) voicehook.Segment {
		return voicehook.Segment{ID: id, Status: voicehook.SegmentVoiceoverReady, Voiceover: "https://media.example/" + id + ".mp3", UpdatedAt: testNow}
	}
	recs := &qaRecords{
		jobs: map[string]voicehook.Job{
			"job_gen": job("job_gen", "seg_q"), "job_cb": job("job_cb", "seg_cb"), "job_worst": job("job_worst", "seg_w"),
			"job_ok": job("job_ok", "seg_ok"), "job_unc": job("job_unc", "seg_unc"), "job_other": job("job_other", "seg_cb"),
		},
		segments: map[string]voicehook.Segment{
			"seg_q": seg("seg_q"), "seg_cb": seg("seg_cb"), "seg_w": seg("seg_w"), "seg_ok": seg("seg_ok"), "seg_unc": seg("seg_unc"),
		},
	}
	script := voicehook.Script{Text: qaScript, VoiceID: "voice_1", ModelID: "eleven_multilingual_v2", Seed: &seed}
	gens := &fakeGenerations{gens: map[string]voicehook.Generation{
		"job_gen": {JobID: "job_gen", SegmentID: "seg_q", Script: script, State: voicehook.GenerationDone},
	}}
	updated := testNow.Add(-time.Hour)
	checks := &fakeQA{checks: []voicehook.QACheck{
		{
			JobID: "job_gen", SegmentID: "seg_q", Script: qaScript, State: voicehook.QAChecked, Status: voicehook.QAFlagged,
			Audio: audio("seg_q"), Notes: "3 differences in 9 words", Updated: updated,
			Transcript: &voicehook.Transcript{Text: "We paid 1000 dollars for the box again", Words: []voicehook.TranscriptWord{
				tw("We", 0, 0.2), {Text: " ", Start: 0.2, End: 0.3, Type: "spacing"}, tw("paid", 0.3, 0.6), tw("1000", 0.7, 1.2),
				tw("dollars", 1.3, 1.7), tw("for", 1.8, 1.9), tw("the", 2.0, 2.1), tw("box", 2.2, 2.6), tw("again", 2.7, 3.0),
				{Text: "(laughs)", Start: 3.1, End: 3.3, Type: "audio_event"},
			}},
			Result: &voicehook.QAResult{WER: 3.0 / 9.0, ScriptWords: 9, Differences: []voicehook.QADifference{qaDeletion, qaSubstitution, qaInsertion}},
		},
		{
			JobID: "job_cb", SegmentID: "seg_cb", Script: "Hello <i>world</i>", State: voicehook.QAChecked, Status: voicehook.QAFlagged,
			Audio: audio("seg_cb"), Updated: updated,
			Transcript: &voicehook.Transcript{Text: "Yellow <script>x</script>", Words: []voicehook.TranscriptWord{tw("Yellow", 0, 0.4), tw("<script>x</script>", 0.5, 0.9)}},
			Result: &voicehook.QAResult{WER: 0.1, ScriptWords: 10, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffSubstitution, Expected: "Hello", Heard: "Yellow", At: 0, End: 0.4, ScriptIndex: 0},
			}},
		},
		{
			JobID: "job_worst", SegmentID: "seg_w", Script: "a b c d e f g h i j", State: voicehook.QAChecked, Status: voicehook.QAFlagged,
			Audio: audio("seg_w"), Updated: updated,
			Result: &voicehook.QAResult{WER: 0.9, ScriptWords: 10, Differences: []voicehook.QADifference{
				{Kind: voicehook.DiffDeletion, Expected: "a"}, {Kind: voicehook.DiffDeletion, Expected: "b", ScriptIndex: 1},
				{Kind: voicehook.DiffDeletion, Expected: "c", ScriptIndex: 2}, {Kind: voicehook.DiffDeletion, Expected: "d", ScriptIndex: 3},
			}},
		},
		{
			JobID: "job_ok", SegmentID: "seg_ok", Script: "fine", State: voicehook.QAChecked, Status: voicehook.QAPassed,
			Audio: audio("seg_ok"), Updated: updated, Result: &voicehook.QAResult{WER: 0, ScriptWords: 1, Differences: []voicehook.QADifference{}},
		},
		{
			JobID: "job_unc", SegmentID: "seg_unc", Script: "unheard", State: voicehook.QAErrored, Status: voicehook.QAUnchecked,
			Audio: audio("seg_unc"), Updated: updated, Notes: "speech to text refused the audio: 422",
		},
	}}
	return recs, checks, gens
}

// newQAServer is a test server with voiceover QA on and a generating
// ElevenLabs behind it.
func newQAServer(t *testing.T) (*testServer, *qaRecords, *fakeGenerations) {
	t.Helper()
	ts := newTestServer(t, "", "")
	recs, checks, gens := qaFixture()
	ts.srv.Records, ts.srv.QA, ts.srv.Generations = recs, checks, gens
	ts.h = ts.srv.Handler()
	return ts, recs, gens
}

// ------------------------------------------------------------------- tests

// between returns the part of s from the element with id to the next
// element with class qa-col (or the end).
func between(t *testing.T, s, id string) string {
	t.Helper()
	i := strings.Index(s, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no element %q in the page", id)
	}
	s = s[i:]
	if j := strings.Index(s[1:], `class="qa-col"`); j >= 0 {
		s = s[:j+1]
	}
	return s
}

type highlight struct{ Kind, At, Text string }

var highlightRE = regexp.MustCompile(`<a class="qa-hl qa-(\w+)" href="([^"]*)" data-at="([^"]*)"[^>]*><(?:del|mark|ins)>([^<]*)</`)

func highlights(s string) (out []highlight, hrefs []string) {
	for _, m := range highlightRE.FindAllStringSubmatch(s, -1) {
		out = append(out, highlight{m[1], m[3], m[4]})
		hrefs = append(hrefs, m[2])
	}
	return out, hrefs
}

func TestSegmentPageComparesScriptAndTranscript(t *testing.T) {
	t.Parallel()
	ts, _, _ := newQAServer(t)
	w := ts.do("GET", "/segments/seg_q", reqOpts{})
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("code %d\n%.800s", w.Code, body)
	}
	for _, s := range []string{
		`>Voiceover QA</h2>`, `id="qa-status">flagged<`, `st-qa-flagged`, `id="qa-wer">33.3%<`, "3 of 9 words",
		"3 differences in 9 words", `<audio controls preload="metadata" src="https://media.example/seg_q.mp3" id="voiceover">`,
		`id="regenerate"`, `name="job_id" value="job_gen"`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if w.Header().Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Error("segment page without its Content-Security-Policy")
	}

	script, hrefs := highlights(between(t, body, "qa-script"))
	want := []highlight{{"deletion", "2.1", "brown"}, {"substitution", "2.2", "fox."}}
	if diff := cmp.Diff(want, script); diff != "" {
		t.Errorf("script column highlights (-want +got):\n%s", diff)
	}
	// Without JavaScript a highlight still plays from its moment: a media
	// fragment on the voiceover's URL.
	if diff := cmp.Diff([]string{"https://media.example/seg_q.mp3#t=2.1", "https://media.example/seg_q.mp3#t=2.2"}, hrefs); diff != "" {
		t.Errorf("script highlight links (-want +got):\n%s", diff)
	}
	scriptCol := between(t, body, "qa-script")
	for _, word := range []string{"We", "1,000", "the"} {
		if !strings.Contains(scriptCol, ">"+word+"<") {
			t.Errorf("script column lacks the plain word %q", word)
		}
	}

	heard, _ := highlights(between(t, body, "qa-transcript"))
	want = []highlight{{"substitution", "2.2", "box"}, {"insertion", "2.7", "again"}}
	if diff := cmp.Diff(want, heard); diff != "" {
		t.Errorf("transcript column highlights (-want +got):\n%s", diff)
	}
	heardCol := between(t, body, "qa-transcript")
	if !strings.Contains(heardCol, ">1000<") || !strings.Contains(heardCol, "(laughs)") {
		t.Errorf("transcript column lacks a plain word or the audio event:\n%s", heardCol)
	}

	// Every row of the differences table plays from the difference's At.
	var rows []string
	for _, m := range regexp.MustCompile(`<tr class="qa-diff qa-(\w+)" data-at="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		rows = append(rows, m[1]+"@"+m[2])
	}
	if diff := cmp.Diff([]string{"deletion@2.1", "substitution@2.2", "insertion@2.7"}, rows); diff != "" {
		t.Errorf("differences rows (-want +got):\n%s", diff)
	}
	if !strings.Contains(body, ">0:02.10<") || !strings.Contains(body, ">0:02.70<") {
		t.Error("differences table lacks the times as 0:02.10")
	}
}

func TestSegmentPageQAEscapesAndStates(t *testing.T) {
	t.Parallel()
	ts, _, _ := newQAServer(t)
	cases := []struct {
		path    string
		want    []string
		notWant []string
	}{
		{"/segments/seg_cb", []string{"Hello", "&lt;i&gt;world&lt;/i&gt;", "&lt;script&gt;x&lt;/script&gt;", "10.0%", "1 of 10 words"},
			[]string{"<i>", "<script>x", `id="regenerate"`}},
		{"/segments/seg_unc", []string{`id="qa-status">unchecked<`, "speech to text refused the audio: 422", "st-qa-unchecked"},
			[]string{`id="qa-script"`, `id="qa-wer"`}},
		{"/segments/seg_ok", []string{`id="qa-status">passed<`, "0.0%", "No differences"}, nil},
	}
	for _, c := range cases {
		w := ts.do("GET", c.path, reqOpts{})
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s: code %d", c.path, w.Code)
		}
		for _, s := range c.want {
			if !strings.Contains(body, s) {
				t.Errorf("%s lacks %q", c.path, s)
			}
		}
		for _, s := range c.notWant {
			if strings.Contains(body, s) {
				t.Errorf("%s has %q", c.path, s)
			}
		}
	}
}

var qaRowRE = regexp.MustCompile(`<tr data-job="([^"]+)"`)

func TestQAList(t *testing.T) {
	t.Parallel()
	ts, _, _ := newQAServer(t)
	cases := []struct {
		path string
		code int
		rows []string
		want []string
	}{
		{"/qa", 200, []string{"job_worst", "job_gen", "job_cb"}, []string{
			`href="/qa?status=flagged" aria-current="page"`, `href="/segments/seg_q"`, "33.3%", "90.0%",
			"brown → —", "fox. → box", "— → again", "Hello → Yellow", "a → —, b → —, c → — …",
			`name="job_id" value="job_gen"`, `different seed (optional)`,
		}},
		{"/qa?status=passed", 200, []string{"job_ok"}, []string{`href="/qa?status=passed" aria-current="page"`, "0.0%"}},
		{"/qa?status=unchecked", 200, []string{"job_unc"}, []string{"speech to text refused the audio: 422"}},
		{"/qa?status=bogus", 400, nil, []string{"Check the filter: status"}},
	}
	for _, c := range cases {
		w := ts.do("GET", c.path, reqOpts{})
		body := w.Body.String()
		if w.Code != c.code {
			t.Errorf("%s: code %d, want %d\n%.600s", c.path, w.Code, c.code, body)
		}
		var rows []string
		for _, m := range qaRowRE.FindAllStringSubmatch(body, -1) {
			rows = append(rows, m[1])
		}
		if diff := cmp.Diff(c.rows, rows); diff != "" {
			t.Errorf("%s rows (-want +got):\n%s", c.path, diff)
		}
		for _, s := range c.want {
			if !strings.Contains(body, s) {
				t.Errorf("%s lacks %q", c.path, s)
			}
		}
		if w.Header().Get("Content-Security-Policy") != contentSecurityPolicy {
			t.Errorf("%s without its Content-Security-Policy", c.path)
		}
		if strings.Contains(body, "<i>") || strings.Contains(body, "<script>x") {
			t.Errorf("%s carries unescaped markup from data", c.path)
		}
	}
	// Only the generated job can be regenerated.
	body := ts.do("GET", "/qa", reqOpts{}).Body.String()
	for _, job := range []string{"job_cb", "job_worst"} {
		if strings.Contains(body, `name="job_id" value="`+job+`"`) {
			t.Errorf("a Regenerate button for %s, which voicehook did not generate", job)
		}
	}
	if !strings.Contains(body, `<a href="/qa"`) {
		t.Error("no QA link in the menu with QA on")
	}
}

func TestQARegenerate(t *testing.T) {
	t.Parallel()
	type result struct {
		Code     int
		Location string
	}
	seed3, seed7, seedMax := 3, 7, 4294967295
	cases := []struct {
		name     string
		form     url.Values
		noToken  bool
		want     result
		wantText string
		// wantSeed is the new generation's seed; nil means no job is made.
		wantSeed *int
	}{
		{"a different seed", url.Values{"job_id": {"job_gen"}, "seed": {"7"}}, false, result{303, "/segments/seg_q?job=job_new1&msg=regenerating"}, "", &seed7},
		{"the job's own seed", url.Values{"job_id": {"job_gen"}, "seed": {" "}}, false, result{303, "/segments/seg_q?job=job_new1&msg=regenerating"}, "", &seed3},
		{"the largest seed", url.Values{"job_id": {"job_gen"}, "seed": {"4294967295"}}, false, result{303, "/segments/seg_q?job=job_new1&msg=regenerating"}, "", &seedMax},
		{"not generated", url.Values{"job_id": {"job_cb"}}, false, result{409, ""}, "not generated by voicehook", nil},
		{"unknown job", url.Values{"job_id": {"job_nope"}}, false, result{404, ""}, "No job by that id.", nil},
		{"no job", url.Values{}, false, result{400, ""}, "Say which job", nil},
		{"seed not a number", url.Values{"job_id": {"job_gen"}, "seed": {"seven"}}, false, result{400, ""}, "whole number from 0 to 4294967295", nil},
		{"negative seed", url.Values{"job_id": {"job_gen"}, "seed": {"-1"}}, false, result{400, ""}, "whole number from 0 to 4294967295", nil},
		{"seed too large", url.Values{"job_id": {"job_gen"}, "seed": {"4294967296"}}, false, result{400, ""}, "whole number from 0 to 4294967295", nil},
		{"no form token", url.Values{"job_id": {"job_gen"}}, true, result{403, ""}, "form token", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ts, recs, gens := newQAServer(t)
			form := url.Values{}
			for k, v := range c.form {
				form[k] = v
			}
			if !c.noToken {
				form.Set("csrf_token", csrfFrom(t, ts.do("GET", "/qa", reqOpts{}).Body.String()))
			}
			w := ts.do("POST", "/qa/regenerate", reqOpts{form: form, headers: map[string]string{"Sec-Fetch-Site": "same-origin"}})
			got := result{w.Code, w.Header().Get("Location")}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s%.600s", diff, w.Body.String())
			}
			if !strings.Contains(w.Body.String(), c.wantText) {
				t.Errorf("answer lacks %q:\n%.800s", c.wantText, w.Body.String())
			}
			if w.Code >= 400 && w.Header().Get("Content-Security-Policy") == "" {
				t.Error("error page without a Content-Security-Policy")
			}
			if c.wantSeed == nil {
				if len(recs.created) != 0 || len(gens.added) != 0 {
					t.Errorf("jobs created %v, generations added %v; want none", recs.created, gens.added)
				}
				return
			}
			// The new job is the old one's segment, type and external id,
			// generated from the same script.
			wantScript := voicehook.Script{Text: qaScript, VoiceID: "voice_1", ModelID: "eleven_multilingual_v2", Seed: c.wantSeed}
			if diff := cmp.Diff([]voicehook.Generation{{JobID: "job_new1", SegmentID: "seg_q", Script: wantScript, State: voicehook.GenerationQueued}}, gens.added); diff != "" {
				t.Errorf("generations added (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]voicehook.NewJob{{SegmentID: "seg_q", Type: voicehook.JobTypeVoiceover, ExternalID: "ext_job_gen", Script: &wantScript}}, recs.created); diff != "" {
				t.Errorf("jobs created (-want +got):\n%s", diff)
			}
			// The page it leads to says what happened.
			page := ts.do("GET", got.Location, reqOpts{}).Body.String()
			if !strings.Contains(page, "Regenerating: job job_new1 created.") {
				t.Errorf("no notice on the segment page:\n%.800s", page)
			}
		})
	}
}

// TestRegenerateNoticeFromTheRecords: the notice names a job only when the
// records hold it for that segment; the URL cannot make the page say
// anything else.
func TestRegenerateNoticeFromTheRecords(t *testing.T) {
	t.Parallel()
	ts, _, _ := newQAServer(t)
	for _, path := range []string{
		"/segments/seg_q?msg=regenerating&job=%3Cb%3Ejob%3C%2Fb%3E",
		"/segments/seg_q?msg=regenerating&job=job_other", // another segment's job
		"/segments/seg_q?msg=regenerating",
	} {
		body := ts.do("GET", path, reqOpts{}).Body.String()
		if strings.Contains(body, "Regenerating") || strings.Contains(body, "<b>") {
			t.Errorf("%s shows a notice:\n%.600s", path, body)
		}
	}
	body := ts.do("GET", "/segments/seg_q?msg=regenerating&job=job_gen", reqOpts{}).Body.String()
	if !strings.Contains(body, `class="notice notice-ok"`) || !strings.Contains(body, "Regenerating: job job_gen created.") {
		t.Errorf("no notice for the segment's own job:\n%.600s", body)
	}
}

func TestQAOff(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "", "")
	w := ts.do("GET", "/qa", reqOpts{})
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "Voiceover QA is off: start the server with --qa stt") {
		t.Errorf("/qa with QA off: %d\n%.600s", w.Code, w.Body.String())
	}
	if w.Header().Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Error("/qa with QA off: no Content-Security-Policy")
	}
	page := ts.do("GET", "/segments/seg_1", reqOpts{}).Body.String()
	if strings.Contains(page, `href="/qa"`) || strings.Contains(page, "Voiceover QA") {
		t.Errorf("QA shown with QA off:\n%.600s", page)
	}
	form := url.Values{"csrf_token": {csrfFrom(t, ts.do("GET", "/dead", reqOpts{}).Body.String())}, "job_id": {"job_1"}}
	if w := ts.do("POST", "/qa/regenerate", reqOpts{form: form}); w.Code != http.StatusNotFound {
		t.Errorf("POST /qa/regenerate with QA off: %d", w.Code)
	}
}

// TestQAPagesSignedIn: with --admin-token the QA pages want a session like
// every other page, and the form token of the session.
func TestQAPagesSignedIn(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testToken, "https://hooks.example.com")
	recs, checks, gens := qaFixture()
	ts.srv.Records, ts.srv.QA, ts.srv.Generations = recs, checks, gens
	ts.h = ts.srv.Handler()
	if w := ts.do("GET", "/qa", reqOpts{}); w.Code != http.StatusSeeOther {
		t.Errorf("/qa signed out: %d", w.Code)
	}
	page := ts.do("GET", "/qa", reqOpts{session: true})
	if page.Code != 200 {
		t.Fatalf("/qa signed in: %d", page.Code)
	}
	form := url.Values{"csrf_token": {csrfFrom(t, page.Body.String())}, "job_id": {"job_gen"}}
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	if w := ts.do("POST", "/qa/regenerate", reqOpts{session: true, form: form, headers: cross}); w.Code != http.StatusForbidden {
		t.Errorf("cross-site regenerate: %d", w.Code)
	}
	if w := ts.do("POST", "/qa/regenerate", reqOpts{form: form}); w.Code != http.StatusUnauthorized {
		t.Errorf("regenerate signed out: %d", w.Code)
	}
	if len(recs.created) != 0 {
		t.Fatalf("refused posts created jobs: %v", recs.created)
	}
	w := ts.do("POST", "/qa/regenerate", reqOpts{session: true, form: form, headers: map[string]string{"Sec-Fetch-Site": "same-origin"}})
	if w.Code != http.StatusSeeOther || len(recs.created) != 1 {
		t.Errorf("regenerate signed in: %d, %d jobs created", w.Code, len(recs.created))
	}
}

func TestScriptHighlights(t *testing.T) {
	t.Parallel()
	del := func(expected string, idx int) voicehook.QADifference {
		return voicehook.QADifference{Kind: voicehook.DiffDeletion, Expected: expected, ScriptIndex: idx}
	}
	cases := []struct {
		name   string
		script string
		diffs  []voicehook.QADifference
		want   map[int]string // word index → kind
	}{
		{"one token a word", "the quick brown fox", []voicehook.QADifference{del("brown", 2)}, map[int]string{2: "deletion"}},
		{"a word of two tokens shifts the rest", "paid 1,000 for the fox", []voicehook.QADifference{del("fox", 5)}, map[int]string{4: "deletion"}},
		{"both tokens of one word: marked once", "about 1,000 people", []voicehook.QADifference{del("1,000", 1), del("1,000", 2)}, map[int]string{1: "deletion"}},
		// "and" in "hundred and five" is no token in the whole text but is
		// one on its own: the script's word as written puts it right.
		{"context the word alone lacks", "one hundred and five cats sat", []voicehook.QADifference{del("cats", 3)}, map[int]string{4: "deletion"}},
		{"insertions mark no script word", "a b", []voicehook.QADifference{{Kind: voicehook.DiffInsertion, Heard: "x", ScriptIndex: 1}}, map[int]string{}},
		{"an index out of range falls back on the word", "a b c", []voicehook.QADifference{del("c", 9)}, map[int]string{2: "deletion"}},
		{"nothing to match", "a b c", []voicehook.QADifference{del("zzz", 9)}, map[int]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := map[int]string{}
			for i, w := range scriptWords(c.script, c.diffs) {
				if w.Kind != "" {
					got[i] = w.Kind
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFmtClock(t *testing.T) {
	t.Parallel()
	for at, want := range map[float64]string{0: "0:00.00", 3.42: "0:03.42", 59.999: "1:00.00", 61.5: "1:01.50", 3725.07: "62:05.07", -1: "0:00.00"} {
		if got := fmtClock(at); got != want {
			t.Errorf("fmtClock(%v) = %q, want %q", at, got, want)
		}
	}
}

// TestHighlightsFollowCompare: with qa.Compare's own result, the page marks
// the very words that differ, though "and" in "hundred and five" is no
// token and "21st" is two, which shifts ScriptIndex off the word count.
func TestHighlightsFollowCompare(t *testing.T) {
	t.Parallel()
	script := "It cost one hundred and five dollars, said Dr. Smith on the 21st of May."
	var heard []voicehook.TranscriptWord
	for i, w := range strings.Fields(script) {
		switch w {
		case "Smith":
			continue
		case "May.":
			w = "June."
		}
		heard = append(heard, tw(w, float64(i), float64(i)+0.5), voicehook.TranscriptWord{Text: " ", Start: float64(i) + 0.5, End: float64(i) + 1, Type: "spacing"})
	}
	res, _ := qa.Compare(script, heard, 0)
	marks := map[string]string{}
	for _, w := range scriptWords(script, res.Differences) {
		if w.Kind != "" {
			marks[w.Text] = w.Kind + "@" + w.At
		}
	}
	if diff := cmp.Diff(map[string]string{"Smith": "deletion@8.5", "May.": "substitution@14"}, marks); diff != "" {
		t.Errorf("script marks (-want +got):\n%s", diff)
	}
	marks = map[string]string{}
	for _, w := range transcriptWords(heard, res.Differences) {
		if w.Kind != "" {
			marks[w.Text] = w.Kind + "@" + w.At
		}
	}
	if diff := cmp.Diff(map[string]string{"June.": "substitution@14"}, marks); diff != "" {
		t.Errorf("transcript marks (-want +got):\n%s", diff)
	}
}
