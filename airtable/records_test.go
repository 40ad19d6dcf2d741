package airtable

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable/airtabletest"
)

func TestCreateJob(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	clock := newFakeClock()
	r := newRecords(t, testConfig(emu, clock))
	seg := insert(t, emu, "Segments", map[string]any{"Name": "scene 1"})
	job, err := r.CreateJob(context.Background(), voicehook.NewJob{SegmentID: seg, Type: voicehook.JobTypeVoiceover})
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	want := voicehook.Job{ID: job.ID, SegmentID: seg, Type: "voiceover_generation", Status: "processing", Timestamps: voicehook.Timestamps{Created: &now}}
	if diff := cmp.Diff(want, job); diff != "" {
		t.Errorf("job (-want +got):\n%s", diff)
	}
	rec, ok := emu.Record("Jobs", job.ID)
	if !ok {
		t.Fatalf("no Jobs record %s", job.ID)
	}
	wantFields := map[string]any{"Job ID": 1.0, "Related Segment": []string{seg}, "Type": "voiceover_generation", "Status": "processing",
		"Timestamps": `{"created":"2025-03-01T12:00:00Z"}`}
	if diff := cmp.Diff(wantFields, rec.Fields); diff != "" {
		t.Errorf("Jobs record (-want +got):\n%s", diff)
	}
	segRec, _ := emu.Record("Segments", seg)
	if diff := cmp.Diff([]string{job.ID}, segRec.Fields["Jobs"]); diff != "" {
		t.Errorf("the segment's inverse link (-want +got):\n%s", diff)
	}
}

func TestCreateJobRefused(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	seg := insert(t, emu, "Segments", map[string]any{"Name": "scene 1"})
	tests := []struct {
		name     string
		nj       voicehook.NewJob
		notFound bool
	}{
		{"not a record id", voicehook.NewJob{SegmentID: "scene-12"}, true},
		{"no such segment", voicehook.NewJob{SegmentID: "recAAAAAAAAAAAAAA"}, true},
		{"external id without its field", voicehook.NewJob{SegmentID: seg, ExternalID: "proj_1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := r.CreateJob(context.Background(), tt.nj)
			if !voicehook.IsPermanent(err) || errors.Is(err, voicehook.ErrNotFound) != tt.notFound {
				t.Errorf("err = %v; want permanent, not found %v", err, tt.notFound)
			}
		})
	}
	if n := len(emu.Records("Jobs")); n != 0 {
		t.Errorf("%d jobs created", n)
	}
}

func TestFindJob(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	seg := insert(t, emu, "Segments", map[string]any{"Name": "scene 1"})
	other := insert(t, emu, "Segments", map[string]any{"Name": "scene 2"})
	done := insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "voiceover_generation", "Status": "completed"})
	processing := insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "voiceover_generation", "Status": "processing"})
	insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "image_generation", "Status": "processing"})
	insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{other}, "Type": "voiceover_generation", "Status": "processing"})
	finishedOnly := insert(t, emu, "Segments", map[string]any{"Name": "scene 3"})
	older := insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{finishedOnly}, "Type": "voiceover_generation", "Status": "failed"})
	newer := insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{finishedOnly}, "Type": "voiceover_generation", "Status": "completed"})
	empty := insert(t, emu, "Segments", map[string]any{"Name": "scene 4"})
	_ = done
	_ = older

	tests := []struct {
		name string
		q    voicehook.JobQuery
		want string // "" → ErrNotFound
	}{
		{"processing preferred", voicehook.JobQuery{SegmentID: seg}, processing},
		{"else the newest finished", voicehook.JobQuery{SegmentID: finishedOnly}, newer},
		{"segment without jobs", voicehook.JobQuery{SegmentID: empty}, ""},
		{"unknown segment", voicehook.JobQuery{SegmentID: "recAAAAAAAAAAAAAA"}, ""},
		{"not a record id", voicehook.JobQuery{SegmentID: "scene-12"}, ""},
		{"external ids without the field", voicehook.JobQuery{ExternalIDs: []string{"proj_1"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job, err := r.FindJob(context.Background(), tt.q)
			if tt.want == "" {
				if !errors.Is(err, voicehook.ErrNotFound) {
					t.Errorf("err = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if job.ID != tt.want || job.Type != voicehook.JobTypeVoiceover {
				t.Errorf("found %+v, want %s", job, tt.want)
			}
		})
	}
}

func TestFindJobByExternalID(t *testing.T) {
	t.Parallel()
	schema := airtabletest.SeedSchema().WithField("Jobs", airtabletest.Field{Name: "External ID", Type: airtabletest.SingleLineText})
	emu := newEmulator(t, airtabletest.Options{Schema: &schema})
	cfg := testConfig(emu, nil)
	cfg.Fields.JobExternalID = "External ID"
	r := newRecords(t, cfg)
	seg := insert(t, emu, "Segments", map[string]any{"Name": "chapter 1"})
	job, err := r.CreateJob(context.Background(), voicehook.NewJob{SegmentID: seg, Type: voicehook.JobTypeVoiceover, ExternalID: "it's-proj/1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.FindJob(context.Background(), voicehook.JobQuery{ExternalIDs: []string{"req_9", "it's-proj/1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != job.ID || got.ExternalID != "it's-proj/1" {
		t.Errorf("found %+v, want %s", got, job.ID)
	}
}

func TestCompleteJob(t *testing.T) {
	t.Parallel()
	schema := airtabletest.SeedSchema().
		WithField("Segments", airtabletest.Field{Name: "Duration (ms)", Type: airtabletest.Number}).
		WithField("Segments", airtabletest.Field{Name: "SHA-256", Type: airtabletest.SingleLineText})
	emu := newEmulator(t, airtabletest.Options{Schema: &schema})
	cfg := testConfig(emu, nil)
	cfg.Fields.SegmentDurationMS, cfg.Fields.SegmentSHA256 = "Duration (ms)", "SHA-256"
	r := newRecords(t, cfg)
	seg, jobID := segmentWithJob(t, emu, "scene 1")
	ctx := context.Background()
	job, err := r.FindJob(ctx, voicehook.JobQuery{SegmentID: seg})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 5, 0, 0, time.UTC)
	audio := voicehook.StoredAudio{URL: "https://cdn.example.com/a.mp3", SHA256: "abc", Bytes: 1234, DurationMS: 2000}
	if err := r.FinishJob(ctx, job, voicehook.Completed(audio, at)); err != nil {
		t.Fatal(err)
	}
	segRec, _ := emu.Record("Segments", seg)
	wantSeg := map[string]any{"Name": "scene 1", "Status": "voiceover_ready", "Voiceover": audio.URL, "Jobs": []string{jobID},
		"Duration (ms)": 2000.0, "SHA-256": "abc"}
	if diff := cmp.Diff(wantSeg, segRec.Fields); diff != "" {
		t.Errorf("segment (-want +got):\n%s", diff)
	}
	jobRec, _ := emu.Record("Jobs", jobID)
	if jobRec.Fields["Status"] != "completed" {
		t.Errorf("job status %v", jobRec.Fields["Status"])
	}
	var ts map[string]string
	if err := json.Unmarshal([]byte(jobRec.Fields["Timestamps"].(string)), &ts); err != nil {
		t.Fatal(err)
	}
	wantTS := map[string]string{"created": "2025-03-01T11:00:00.000000", "completed": "2025-03-01T12:05:00Z"}
	if diff := cmp.Diff(wantTS, ts); diff != "" {
		t.Errorf("timestamps (-want +got):\n%s", diff)
	}

	// A finished job is never moved: a later FailJob reads the status and
	// writes nothing.
	emu.ResetRequests()
	if err := r.FinishJob(ctx, job, voicehook.Failed("late failure", at.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if got := emu.Requests(); got["PATCH Jobs"]+got["PATCH Segments"] != 0 {
		t.Errorf("a finished job was written: %v", got)
	}
	after, _ := emu.Record("Jobs", jobID)
	if diff := cmp.Diff(jobRec.Fields, after.Fields); diff != "" {
		t.Errorf("finished job changed (-before +after):\n%s", diff)
	}
}

func TestFailJob(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	seg, jobID := segmentWithJob(t, emu, "scene 1")
	ctx := context.Background()
	job, err := r.FindJob(ctx, voicehook.JobQuery{SegmentID: seg})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 5, 0, 0, time.UTC)
	if err := r.FinishJob(ctx, job, voicehook.Failed("quota exceeded", at)); err != nil {
		t.Fatal(err)
	}
	got, err := r.Job(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	want := voicehook.Job{ID: jobID, SegmentID: seg, Type: "voiceover_generation", Status: "failed", ErrorDetails: "quota exceeded",
		Timestamps: voicehook.Timestamps{Created: &created, Failed: &at}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("job (-want +got):\n%s", diff)
	}
	s, err := r.Segment(ctx, seg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != "voiceover_failed" || s.Voiceover != "" {
		t.Errorf("segment %+v, want voiceover_failed without a voiceover", s)
	}
}

// TestSegmentWrittenBeforeJob: the job's status is written last, so when
// its write fails the job stays processing and a retry finishes both.
func TestSegmentWrittenBeforeJob(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	seg, jobID := segmentWithJob(t, emu, "scene 1")
	ctx := context.Background()
	job, err := r.FindJob(ctx, voicehook.JobQuery{SegmentID: seg})
	if err != nil {
		t.Fatal(err)
	}
	emu.FailNextOn("PATCH Jobs", 3, 503) // the first try and both retries
	audio := voicehook.StoredAudio{URL: "https://cdn.example.com/a.mp3"}
	err = r.FinishJob(ctx, job, voicehook.Completed(audio, time.Now()))
	if err == nil || voicehook.IsPermanent(err) {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if rec, _ := emu.Record("Jobs", jobID); rec.Fields["Status"] != "processing" {
		t.Fatalf("job %v after a failed write, want processing", rec.Fields["Status"])
	}
	if err := r.FinishJob(ctx, job, voicehook.Completed(audio, time.Now())); err != nil {
		t.Fatal(err)
	}
	if rec, _ := emu.Record("Jobs", jobID); rec.Fields["Status"] != "completed" {
		t.Errorf("job %v after the retry, want completed", rec.Fields["Status"])
	}
}

func TestListJobs(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	ctx := context.Background()
	seg, first := segmentWithJob(t, emu, "scene 1")
	second := insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "voiceover_generation", "Status": "completed"})
	_, third := segmentWithJob(t, emu, "scene 2")
	insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "video_render", "Status": "processing"})
	ids := func(jobs []voicehook.Job) []string {
		var out []string
		for _, j := range jobs {
			out = append(out, j.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    voicehook.JobFilter
		want []string
	}{
		{"all voiceover jobs, newest first", voicehook.JobFilter{}, []string{third, second, first}},
		{"by segment", voicehook.JobFilter{SegmentID: seg}, []string{second, first}},
		{"by status", voicehook.JobFilter{Status: "processing"}, []string{third, first}},
		{"limit", voicehook.JobFilter{Limit: 1}, []string{third}},
		{"unknown segment", voicehook.JobFilter{SegmentID: "recAAAAAAAAAAAAAA"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jobs, err := r.ListJobs(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(jobs), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestBatching: concurrent workers share requests, at most 10 records per
// write.
func TestBatching(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	cfg := testConfig(emu, nil)
	cfg.BatchWindow = 200 * time.Millisecond // all callers arrive within it
	r := newRecords(t, cfg)
	ctx := context.Background()
	var segs []string
	for range 12 {
		segs = append(segs, insert(t, emu, "Segments", map[string]any{"Name": "s"}))
	}
	emu.ResetRequests()
	errs := make(chan error, len(segs))
	for _, seg := range segs {
		go func() {
			_, err := r.CreateJob(ctx, voicehook.NewJob{SegmentID: seg, Type: voicehook.JobTypeVoiceover})
			errs <- err
		}()
	}
	for range segs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"GET Segments": 1, "POST Jobs": 2}
	if diff := cmp.Diff(want, emu.Requests()); diff != "" {
		t.Errorf("requests for 12 concurrent CreateJob (-want +got):\n%s", diff)
	}
	for _, seg := range segs {
		rec, _ := emu.Record("Segments", seg)
		if ids, _ := rec.Fields["Jobs"].([]string); len(ids) != 1 {
			t.Errorf("segment %s has jobs %v, want one", seg, ids)
		}
	}
}
