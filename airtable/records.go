package airtable

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/voicehook/voicehook"
)

// Records keeps jobs and segments in the user's Airtable base and mirrors
// webhook events into its Webhook Events table. Segment ids are record ids
// of the Segments table, job ids record ids of the Jobs table.
//
// One Records serves every worker of the process: its Client's gate keeps
// the base under its rate limit and its batcher shares requests between
// workers. Close it at shutdown to send what waits.
type Records struct {
	cfg    Config
	c      *Client
	b      *batcher
	mirror *mirror
	recent recentJobs

	closeOnce sync.Once
	closeErr  error
}

var (
	_ voicehook.Records     = (*Records)(nil)
	_ voicehook.EventMirror = (*Records)(nil)
)

// New checks cfg and starts the batcher and the mirror's catch-up loop.
func New(cfg Config) (*Records, error) {
	if p := cfg.Problems(); len(p) > 0 {
		return nil, fmt.Errorf("airtable: invalid configuration: %s", strings.Join(p, "; "))
	}
	cfg = cfg.withDefaults()
	c := NewClient(cfg)
	r := &Records{cfg: cfg, c: c, b: newBatcher(c, cfg.BatchWindow, cfg.BatchMaxWait, cfg.RequestTimeout+cfg.RequestTimeout/2)}
	r.mirror = newMirror(r)
	return r, nil
}

// Pace is how fast voicehook calls the base now (for the admin overview).
func (r *Records) Pace() Pace { return r.c.Pace() }

// Client is the records' client (shared gate), for checks and tools.
func (r *Records) Client() *Client { return r.c }

// Close writes event mirrors still waiting to be caught up and what the
// batcher holds, within ctx, then stops. Closing again does nothing.
func (r *Records) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		r.mirror.close(ctx)
		r.closeErr = r.b.close(ctx)
	})
	return r.closeErr
}

func (r *Records) jobFields() []string {
	f := r.cfg.Fields
	return nonEmpty(f.JobRelatedSegment, f.JobType, f.JobStatus, f.JobTimestamps, f.JobErrorDetails, f.JobExternalID)
}

func (r *Records) segmentFields() []string {
	f := r.cfg.Fields
	return nonEmpty(f.SegmentStatus, f.SegmentVoiceover, f.SegmentJobs, f.SegmentDurationMS, f.SegmentSHA256, f.SegmentBytes,
		f.SegmentScript, f.SegmentVoiceID)
}

func nonEmpty(names ...string) []string {
	return slices.DeleteFunc(names, func(s string) bool { return s == "" })
}

func byID(id string) func(Record) bool { return func(r Record) bool { return r.ID == id } }

// voiceoverOnly is the filter that keeps voiceover jobs: the user's Jobs
// table holds the pipeline's other jobs too.
func (r *Records) voiceoverOnly() string {
	return fieldIs(r.cfg.Fields.JobType, voicehook.JobTypeVoiceover)
}

// segmentRecord reads a segment, sharing the request with other workers.
func (r *Records) segmentRecord(ctx context.Context, id string) (Record, error) {
	if !isRecordID(id) {
		return Record{}, fmt.Errorf("segment %q is not an Airtable record id: %w", id, voicehook.ErrNotFound)
	}
	recs, err := r.b.read(ctx, r.cfg.Tables.Segments, "", r.segmentFields(), []string{recordIs(id)}, byID(id))
	if err != nil {
		return Record{}, fmt.Errorf("reading segment %s: %w", id, err)
	}
	if len(recs) == 0 {
		return Record{}, fmt.Errorf("segment %s in table %q: %w", id, r.cfg.Tables.Segments, voicehook.ErrNotFound)
	}
	return recs[0], nil
}

// jobRecords reads the voiceover jobs among ids, sharing the request.
func (r *Records) jobRecords(ctx context.Context, ids []string) ([]Record, error) {
	conds := make([]string, 0, len(ids))
	want := map[string]bool{}
	for _, id := range ids {
		if isRecordID(id) && !want[id] {
			conds = append(conds, recordIs(id))
			want[id] = true
		}
	}
	if len(conds) == 0 {
		return nil, nil
	}
	recs, err := r.b.read(ctx, r.cfg.Tables.Jobs, r.voiceoverOnly(), r.jobFields(), conds, func(rec Record) bool { return want[rec.ID] })
	if err != nil {
		return nil, fmt.Errorf("reading jobs: %w", err)
	}
	return recs, nil
}

func (r *Records) jobFrom(rec Record) voicehook.Job {
	f := r.cfg.Fields
	j := voicehook.Job{
		ID:           rec.ID,
		Type:         str(rec, f.JobType),
		Status:       voicehook.JobStatus(str(rec, f.JobStatus)),
		ExternalID:   str(rec, f.JobExternalID),
		ErrorDetails: str(rec, f.JobErrorDetails),
		Timestamps:   parseTimestamps(str(rec, f.JobTimestamps)),
	}
	if segs := links(rec, f.JobRelatedSegment); len(segs) > 0 {
		j.SegmentID = segs[0]
	}
	if j.Timestamps.Created == nil && !rec.CreatedTime.IsZero() {
		created := rec.CreatedTime.UTC()
		j.Timestamps.Created = &created
	}
	return j
}

func (r *Records) segmentFrom(rec Record) voicehook.Segment {
	f := r.cfg.Fields
	s := voicehook.Segment{
		ID:         rec.ID,
		Status:     voicehook.SegmentStatus(str(rec, f.SegmentStatus)),
		Voiceover:  str(rec, f.SegmentVoiceover),
		SHA256:     str(rec, f.SegmentSHA256),
		Bytes:      num(rec, f.SegmentBytes),
		DurationMS: num(rec, f.SegmentDurationMS),
		Script:     str(rec, f.SegmentScript),
		VoiceID:    str(rec, f.SegmentVoiceID),
	}
	if s.Status == "" {
		s.Status = voicehook.SegmentPending
	}
	return s
}

// CreateJob creates a Jobs record in status processing linked to its
// segment, then supersedes the segment's other voiceover jobs still
// processing (see supersede). The segment must already exist in the
// Segments table: in this mode the user's pipeline owns segments.
func (r *Records) CreateJob(ctx context.Context, nj voicehook.NewJob) (voicehook.Job, error) {
	f := r.cfg.Fields
	seg, err := r.segmentRecord(ctx, nj.SegmentID)
	if err != nil {
		if errors.Is(err, voicehook.ErrNotFound) {
			return voicehook.Job{}, voicehook.Permanent(fmt.Sprintf("segment %q is not a record of the Airtable table %q: create the segment there first and pass its record id (recXXXXXXXXXXXXXX)",
				nj.SegmentID, r.cfg.Tables.Segments), err)
		}
		return voicehook.Job{}, err
	}
	if nj.ExternalID != "" && f.JobExternalID == "" {
		return voicehook.Job{}, voicehook.Permanent("external_id needs a Jobs field to keep it in: set --airtable-field-external-id", nil)
	}
	jobType := cmp.Or(nj.Type, voicehook.JobTypeVoiceover)
	now := r.cfg.Clock.Now().UTC()
	fields := map[string]any{
		f.JobStatus:         voicehook.JobProcessing,
		f.JobType:           jobType,
		f.JobRelatedSegment: []string{nj.SegmentID},
		f.JobTimestamps:     mergeTimestamps("", "created", now),
	}
	if nj.ExternalID != "" {
		fields[f.JobExternalID] = nj.ExternalID
	}
	rec, err := r.b.create(ctx, r.cfg.Tables.Jobs, fields)
	if err != nil {
		return voicehook.Job{}, fmt.Errorf("creating job for segment %s: %w", nj.SegmentID, err)
	}
	job := r.jobFrom(rec)
	if jobType == voicehook.JobTypeVoiceover {
		if err := r.supersede(ctx, links(seg, f.SegmentJobs), job.ID, now); err != nil {
			// The new job exists and works; failing the call would make
			// the caller create another. The old job stays processing
			// until its own event (or the user) ends it.
			r.cfg.Logger.Warn("airtable: the new job did not supersede the segment's processing job", "job_id", job.ID,
				"segment_id", nj.SegmentID, "err", err)
		}
	}
	return job, nil
}

// supersede fails the jobs among earlier (the segment's jobs before newID
// was created, as its inverse link field listed them) that are voiceover
// jobs still processing, with error details SupersededBy(newID). Airtable
// has no transaction: this runs right after the create, with a read of the
// earlier jobs and one update each (through the batcher, like FinishJob's;
// a segment normally has at most one processing job). Two jobs created at
// once for one segment may both stay processing.
func (r *Records) supersede(ctx context.Context, earlier []string, newID string, at time.Time) error {
	if len(earlier) == 0 {
		return nil
	}
	recs, err := r.jobRecords(ctx, lastN(earlier, maxReadConds))
	if err != nil {
		return err
	}
	f := r.cfg.Fields
	for _, rec := range recs {
		if rec.ID == newID || voicehook.JobStatus(str(rec, f.JobStatus)) != voicehook.JobProcessing {
			continue
		}
		// A read FindJob kept for finishing this job says processing:
		// drop it, so that the superseded job's event re-reads the job
		// and leaves it failed.
		r.recent.take(rec.ID, at)
		fields := map[string]any{
			f.JobStatus:       string(voicehook.JobFailed),
			f.JobErrorDetails: textCell(voicehook.SupersededBy(newID)),
			f.JobTimestamps:   mergeTimestamps(str(rec, f.JobTimestamps), "failed", at),
		}
		if _, err := r.b.update(ctx, r.cfg.Tables.Jobs, rec.ID, fields); err != nil {
			return fmt.Errorf("failing superseded job %s: %w", rec.ID, err)
		}
	}
	return nil
}

// Job reads one job (of any type).
func (r *Records) Job(ctx context.Context, id string) (voicehook.Job, error) {
	if !isRecordID(id) {
		return voicehook.Job{}, fmt.Errorf("job %q is not an Airtable record id: %w", id, voicehook.ErrNotFound)
	}
	recs, err := r.b.read(ctx, r.cfg.Tables.Jobs, "", r.jobFields(), []string{recordIs(id)}, byID(id))
	if err != nil {
		return voicehook.Job{}, fmt.Errorf("reading job %s: %w", id, err)
	}
	if len(recs) == 0 {
		return voicehook.Job{}, fmt.Errorf("job %s in table %q: %w", id, r.cfg.Tables.Jobs, voicehook.ErrNotFound)
	}
	return r.jobFrom(recs[0]), nil
}

// Segment reads one segment.
func (r *Records) Segment(ctx context.Context, id string) (voicehook.Segment, error) {
	rec, err := r.segmentRecord(ctx, id)
	if err != nil {
		return voicehook.Segment{}, err
	}
	return r.segmentFrom(rec), nil
}

// maxListed bounds how many jobs ListJobs reads. Airtable cannot sort by
// creation time without a field for it, so the newest first order is made
// here, among at most this many matching jobs.
const maxListed = 1000

// ListJobs lists voiceover jobs, newest first.
func (r *Records) ListJobs(ctx context.Context, jf voicehook.JobFilter) ([]voicehook.Job, error) {
	conds := []string{r.voiceoverOnly()}
	if jf.Status != "" {
		conds = append(conds, fieldIs(r.cfg.Fields.JobStatus, string(jf.Status)))
	}
	if jf.SegmentID != "" {
		seg, err := r.segmentRecord(ctx, jf.SegmentID)
		if errors.Is(err, voicehook.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		ids := lastN(links(seg, r.cfg.Fields.SegmentJobs), maxReadConds)
		if len(ids) == 0 {
			return nil, nil
		}
		var idConds []string
		for _, id := range ids {
			idConds = append(idConds, recordIs(id))
		}
		conds = append(conds, or(idConds...))
	}
	recs, err := r.c.List(ctx, r.cfg.Tables.Jobs, ListQuery{Formula: and(conds...), Fields: r.jobFields(), MaxRecords: maxListed})
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	sortNewestFirst(recs)
	limit := jf.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	jobs := make([]voicehook.Job, 0, min(limit, len(recs)))
	for _, rec := range recs[:min(limit, len(recs))] {
		jobs = append(jobs, r.jobFrom(rec))
	}
	return jobs, nil
}

// CountJobs counts the voiceover jobs in status, reading at most upTo of
// them (Airtable has no count: each 100 cost a request of the base's 5/s).
func (r *Records) CountJobs(ctx context.Context, status voicehook.JobStatus, upTo int) (int, error) {
	if upTo <= 0 {
		return 0, nil // MaxRecords 0 would mean "all of them"
	}
	formula := and(r.voiceoverOnly(), fieldIs(r.cfg.Fields.JobStatus, string(status)))
	recs, err := r.c.List(ctx, r.cfg.Tables.Jobs, ListQuery{Formula: formula, Fields: []string{r.cfg.Fields.JobStatus}, MaxRecords: upTo})
	if err != nil {
		return 0, fmt.Errorf("counting jobs: %w", err)
	}
	return len(recs), nil
}

// lastN keeps the last n ids: an inverse link field lists links in the
// order they were made, so these are a segment's newest jobs.
func lastN(ids []string, n int) []string {
	if len(ids) > n {
		return ids[len(ids)-n:]
	}
	return ids
}

func sortNewestFirst(recs []Record) {
	slices.SortStableFunc(recs, func(a, b Record) int {
		if c := b.CreatedTime.Compare(a.CreatedTime); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}
