package airtable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/voicehook/voicehook"
)

// FindJob finds the voiceover job an event belongs to. By segment: the
// Segments record's inverse link field lists its jobs, which are read with
// OR(RECORD_ID()='…',…) (a link inside a formula is the linked records'
// primary values, so filtering Jobs by {Related Segment} cannot work). By
// the sender's ids: {External ID}='…', when that field is configured. A
// job still processing wins over a finished one, then the newest.
func (r *Records) FindJob(ctx context.Context, q voicehook.JobQuery) (voicehook.Job, error) {
	if q.SegmentID != "" && isRecordID(q.SegmentID) {
		seg, err := r.segmentRecord(ctx, q.SegmentID)
		switch {
		case errors.Is(err, voicehook.ErrNotFound):
		case err != nil:
			return voicehook.Job{}, err
		default:
			recs, err := r.jobRecords(ctx, lastN(links(seg, r.cfg.Fields.SegmentJobs), maxReadConds))
			if err != nil {
				return voicehook.Job{}, err
			}
			if len(recs) > 0 {
				return r.matched(best(recs, r.cfg.Fields.JobStatus)), nil
			}
		}
	}
	if f := r.cfg.Fields.JobExternalID; f != "" && len(q.ExternalIDs) > 0 {
		var conds []string
		want := map[string]bool{}
		for _, id := range q.ExternalIDs {
			if id != "" && !want[id] {
				conds = append(conds, fieldIs(f, id))
				want[id] = true
			}
		}
		recs, err := r.b.read(ctx, r.cfg.Tables.Jobs, r.voiceoverOnly(), r.jobFields(), conds,
			func(rec Record) bool { return want[str(rec, f)] })
		if err != nil {
			return voicehook.Job{}, fmt.Errorf("finding job by external id: %w", err)
		}
		if len(recs) > 0 {
			return r.matched(best(recs, r.cfg.Fields.JobStatus)), nil
		}
	}
	return voicehook.Job{}, fmt.Errorf("voiceover job for segment %q / ids %v in table %q: %w", q.SegmentID, q.ExternalIDs, r.cfg.Tables.Jobs, voicehook.ErrNotFound)
}

// matched is the job FindJob found; its read is kept for finishing it.
func (r *Records) matched(rec Record) voicehook.Job {
	r.recent.put(rec, r.cfg.Clock.Now())
	return r.jobFrom(rec)
}

// best prefers a processing job, then the newest.
func best(recs []Record, statusField string) Record {
	sortNewestFirst(recs)
	for _, rec := range recs {
		if voicehook.JobStatus(str(rec, statusField)) == voicehook.JobProcessing {
			return rec
		}
	}
	return recs[0]
}

// FinishJob moves a processing job to end.Status and its segment to match:
// voiceover_ready with the audio's URL (and the optional fields named), or
// voiceover_failed, with the job's error details.
func (r *Records) FinishJob(ctx context.Context, job voicehook.Job, end voicehook.JobEnd) error {
	if err := end.Problem(); err != nil {
		return fmt.Errorf("finishing job %s: %w", job.ID, err)
	}
	f := r.cfg.Fields
	seg := map[string]any{f.SegmentStatus: string(end.Status.SegmentStatus())}
	var reason *string
	if end.Status == voicehook.JobCompleted {
		audio := end.Audio
		seg[f.SegmentVoiceover] = audio.URL
		if f.SegmentDurationMS != "" {
			seg[f.SegmentDurationMS] = audio.DurationMS
		}
		if f.SegmentSHA256 != "" {
			seg[f.SegmentSHA256] = audio.SHA256
		}
		if f.SegmentBytes != "" {
			seg[f.SegmentBytes] = audio.Bytes
		}
	} else {
		reason = &end.Reason
	}
	return r.finish(ctx, job, end.At, end.Status, seg, reason)
}

// finish reads the job's status first (or reuses FindJob's fresh read,
// see recentJobs) and changes nothing unless it is still processing: a
// finished job is never moved, whoever finished it (another event, or the
// user in Airtable). Then the segment is written,
// and the job last: the job's status is what says "done", so a crash or an
// error between the two leaves the job processing and a retry writes both
// again (the same values: safe to repeat).
func (r *Records) finish(ctx context.Context, job voicehook.Job, at time.Time, status voicehook.JobStatus, segFields map[string]any, reason *string) error {
	f := r.cfg.Fields
	cur, ok := r.recent.take(job.ID, r.cfg.Clock.Now())
	if !ok {
		recs, err := r.jobRecords(ctx, []string{job.ID})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return voicehook.Permanent(fmt.Sprintf("job %s is no longer a voiceover job in the Airtable table %q", job.ID, r.cfg.Tables.Jobs), voicehook.ErrNotFound)
		}
		cur = recs[0]
	}
	if !voicehook.JobStatus(str(cur, f.JobStatus)).CanMoveTo(status) {
		return nil
	}
	segID := job.SegmentID
	if segs := links(cur, f.JobRelatedSegment); len(segs) > 0 {
		segID = segs[0]
	}
	if isRecordID(segID) {
		if _, err := r.b.update(ctx, r.cfg.Tables.Segments, segID, segFields); err != nil {
			return fmt.Errorf("updating segment %s: %w", segID, err)
		}
	}
	key := "completed"
	if status == voicehook.JobFailed {
		key = "failed"
	}
	jobFields := map[string]any{
		f.JobStatus:     string(status),
		f.JobTimestamps: mergeTimestamps(str(cur, f.JobTimestamps), key, at),
	}
	if reason != nil {
		jobFields[f.JobErrorDetails] = textCell(*reason)
	}
	if _, err := r.b.update(ctx, r.cfg.Tables.Jobs, job.ID, jobFields); err != nil {
		return fmt.Errorf("updating job %s: %w", job.ID, err)
	}
	return nil
}
