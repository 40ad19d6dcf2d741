package airtable

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/voicehooktest"
)

// TestRecordsContract runs the Records suite the SQL store also passes,
// against the emulator: on the seed's base, and on a base with the
// optional fields (external id, the audio's duration, hash and size).
func TestRecordsContract(t *testing.T) {
	t.Parallel()
	for _, optional := range []bool{false, true} {
		name := "seed base"
		if optional {
			name = "optional fields"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			voicehooktest.RunRecords(t, func(t *testing.T) voicehooktest.RecordsHarness {
				schema := airtabletest.SeedSchema()
				if optional {
					schema = optionalSchema()
				}
				emu := newEmulator(t, airtabletest.Options{Schema: &schema})
				clock := voicehooktest.NewClock()
				cfg := testConfig(emu, clock)
				if optional {
					cfg = withOptionalFields(cfg)
				}
				var n atomic.Int64
				return voicehooktest.RecordsHarness{
					Records: newRecords(t, cfg),
					Clock:   clock,
					// Segments are the user's records: the pipeline makes
					// them before it asks for a voiceover.
					NewSegment: func(t *testing.T) string {
						return insert(t, emu, "Segments", map[string]any{"Name": fmt.Sprintf("scene %d", n.Add(1)), "Status": "pending"})
					},
					Stores: voicehooktest.RecordsStores{ExternalIDs: optional, AudioDetails: optional},
				}
			})
		})
	}
}

// optionalSchema is the seed's base with a field for each optional field
// voicehook can write.
func optionalSchema() airtabletest.Schema {
	return airtabletest.SeedSchema().
		WithField("Jobs", airtabletest.Field{Name: "External ID", Type: airtabletest.SingleLineText}).
		WithField("Segments", airtabletest.Field{Name: "Duration (ms)", Type: airtabletest.Number}).
		WithField("Segments", airtabletest.Field{Name: "SHA-256", Type: airtabletest.SingleLineText}).
		WithField("Segments", airtabletest.Field{Name: "Bytes", Type: airtabletest.Number})
}

// withOptionalFields names optionalSchema's fields in cfg.
func withOptionalFields(cfg Config) Config {
	cfg.Fields.JobExternalID = "External ID"
	cfg.Fields.SegmentDurationMS, cfg.Fields.SegmentSHA256, cfg.Fields.SegmentBytes = "Duration (ms)", "SHA-256", "Bytes"
	return cfg
}

// TestCreateJobCells: the cells CreateJob writes, as the seed's pipeline
// reads them (the suite checks the job as voicehook reads it back).
func TestCreateJobCells(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, voicehooktest.NewClock()))
	seg := insert(t, emu, "Segments", map[string]any{"Name": "scene 1"})
	job, err := r.CreateJob(context.Background(), voicehook.NewJob{SegmentID: seg, Type: voicehook.JobTypeVoiceover})
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := emu.Record("Jobs", job.ID)
	if !ok {
		t.Fatalf("no Jobs record %s", job.ID)
	}
	wantFields := map[string]any{"Job ID": 1.0, "Related Segment": []string{seg}, "Type": "voiceover_generation", "Status": "processing",
		"Timestamps": `{"created":"2025-03-14T15:09:26.535897Z"}`}
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

// TestFindJobAmongOtherJobs: the user's Jobs table holds the pipeline's
// other jobs too, which FindJob never returns, and without an External ID
// field there is nothing to find the sender's ids in.
func TestFindJobAmongOtherJobs(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	seg := insert(t, emu, "Segments", map[string]any{"Name": "scene 1"})
	done := insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "voiceover_generation", "Status": "completed"})
	insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "image_generation", "Status": "processing"})
	onlyOthers := insert(t, emu, "Segments", map[string]any{"Name": "scene 2"})
	insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{onlyOthers}, "Type": "video_render", "Status": "processing"})

	tests := []struct {
		name string
		q    voicehook.JobQuery
		want string // "" → ErrNotFound
	}{
		{"a newer processing job of another type", voicehook.JobQuery{SegmentID: seg}, done},
		{"only jobs of other types", voicehook.JobQuery{SegmentID: onlyOthers}, ""},
		{"external ids without the field", voicehook.JobQuery{ExternalIDs: []string{"proj_1"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job, err := r.FindJob(context.Background(), tt.q)
			if tt.want == "" {
				if !errors.Is(err, voicehook.ErrNotFound) {
					t.Errorf("FindJob = %+v, %v; want ErrNotFound", job, err)
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

// TestListAndCountVoiceoverJobsOnly: jobs of the pipeline's other types are
// neither listed nor counted.
func TestListAndCountVoiceoverJobsOnly(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	ctx := context.Background()
	seg, voiceover := segmentWithJob(t, emu, "scene 1")
	insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "video_render", "Status": "processing"})
	insert(t, emu, "Jobs", map[string]any{"Type": "image_generation", "Status": "processing"})
	for _, f := range []voicehook.JobFilter{{}, {SegmentID: seg}, {Status: voicehook.JobProcessing}} {
		jobs, err := r.ListJobs(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		if diff := cmp.Diff([]string{voiceover}, ids); diff != "" {
			t.Errorf("ListJobs(%+v) (-want +got):\n%s", f, diff)
		}
	}
	if n, err := r.CountJobs(ctx, voicehook.JobProcessing, 10); err != nil || n != 1 {
		t.Errorf("CountJobs(processing) = %d, %v; want 1", n, err)
	}
}

// TestFinishJobCells: finishing writes the configured cells of the segment
// and keeps what the pipeline put there (its name, its own timestamps); a
// finished job is read, never written again.
func TestFinishJobCells(t *testing.T) {
	t.Parallel()
	schema := optionalSchema()
	emu := newEmulator(t, airtabletest.Options{Schema: &schema})
	r := newRecords(t, withOptionalFields(testConfig(emu, nil)))
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
		"Duration (ms)": 2000.0, "SHA-256": "abc", "Bytes": 1234.0}
	if diff := cmp.Diff(wantSeg, segRec.Fields); diff != "" {
		t.Errorf("segment (-want +got):\n%s", diff)
	}
	jobRec, _ := emu.Record("Jobs", jobID)
	wantJob := map[string]any{"Job ID": 1.0, "Related Segment": []string{seg}, "Type": "voiceover_generation", "Status": "completed",
		// The seed's created stays as the pipeline wrote it.
		"Timestamps": `{"completed":"2025-03-01T12:05:00Z","created":"2025-03-01T11:00:00.000000"}`}
	if diff := cmp.Diff(wantJob, jobRec.Fields); diff != "" {
		t.Errorf("job (-want +got):\n%s", diff)
	}

	emu.ResetRequests()
	if err := r.FinishJob(ctx, job, voicehook.Failed("late failure", at.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if got := emu.Requests(); got["PATCH Jobs"]+got["PATCH Segments"] != 0 {
		t.Errorf("a finished job was written: %v", got)
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
