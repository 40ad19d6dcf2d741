package airtable

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/voicehooktest"
)

// TestCreateJobSupersedesOnlyVoiceoverJobs: a new voiceover job fails the
// segment's voiceover job still processing, with the cells the seed's
// pipeline reads (its Timestamps cell keeps what it held), and leaves the
// pipeline's other jobs of the segment alone.
func TestCreateJobSupersedesOnlyVoiceoverJobs(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, voicehooktest.NewClock()))
	seg, old := segmentWithJob(t, emu, "scene 1")
	image := insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "image_generation", "Status": "processing"})
	imageBefore, _ := emu.Record("Jobs", image)

	job, err := r.CreateJob(context.Background(), voicehook.NewJob{SegmentID: seg, Type: voicehook.JobTypeVoiceover})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := emu.Record("Jobs", old)
	want := map[string]any{
		"Status":        "failed",
		"Error Details": "superseded by " + job.ID,
		"Timestamps":    `{"created":"2025-03-01T11:00:00.000000","failed":"2025-03-14T15:09:26.535897Z"}`,
	}
	got := map[string]any{"Status": rec.Fields["Status"], "Error Details": rec.Fields["Error Details"], "Timestamps": rec.Fields["Timestamps"]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the superseded job's cells (-want +got):\n%s", diff)
	}
	if imageAfter, _ := emu.Record("Jobs", image); !cmp.Equal(imageBefore.Fields, imageAfter.Fields) {
		t.Errorf("the image job changed: %v, was %v", imageAfter.Fields, imageBefore.Fields)
	}
	if got, _ := r.Job(context.Background(), job.ID); got.Status != voicehook.JobProcessing {
		t.Errorf("the new job is %s, want processing", got.Status)
	}
}
