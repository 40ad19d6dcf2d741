package web

import (
	"net/http"
	"net/url"

	"github.com/voicehook/voicehook"
)

// jobEvents is how many events a job's page lists.
const jobEvents = 50

type jobData struct {
	Job     voicehook.Job
	Segment *voicehook.Segment
	// SegmentNote says why the segment is not shown.
	SegmentNote string
	Generation  *voicehook.Generation
	Events      []eventRow
	MoreEvents  bool
	// EventsNote says how the events were found when the store cannot
	// list a job's events directly.
	EventsNote string
	EventsURL  string
	QA         *jobQA
}

// jobQA is the job's QA check, summed up.
type jobQA struct {
	Status voicehook.QAStatus
	State  voicehook.QAState
	WER    string
	Diffs  int
	Notes  string
}

// job: GET /jobs/{id} shows one job: its state and times, its generation,
// the events that touched it, and its QA check.
func (a *admin) job(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	job, err := a.s.Records.Job(ctx, r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err, "job")
		return
	}
	job.CallbackURL = a.s.callbackURL(job.SegmentID)
	a.s.withGeneration(ctx, &job)
	d := jobData{Job: job, EventsURL: "/events?" + url.Values{"segment": {job.SegmentID}}.Encode()}
	switch seg, err := a.s.Records.Segment(ctx, job.SegmentID); {
	case err == nil:
		d.Segment = &seg
	case isNotFound(err):
		d.SegmentNote = "not found in the records"
	default:
		a.s.Logger.Warn("job page: reading the segment", "segment_id", job.SegmentID, "err", err)
		d.SegmentNote = "the records did not answer"
	}
	if a.s.Generations != nil {
		if g, err := a.s.Generations.Generation(ctx, job.ID); err == nil {
			d.Generation = &g
		} else if !isNotFound(err) {
			a.s.Logger.Warn("job page: reading the generation", "job_id", job.ID, "err", err)
		}
	}
	var events []voicehook.Event
	if tl, ok := a.s.Inbox.(voicehook.Timeline); ok {
		events, err = tl.JobEvents(ctx, job.ID, jobEvents+1)
	} else {
		// No way to ask for a job's events: the segment's newest, kept
		// when they name this job.
		d.EventsNote = "Among the segment's newest 1000 events."
		var all []voicehook.Event
		all, err = a.s.Inbox.ListEvents(ctx, voicehook.EventFilter{SegmentID: job.SegmentID, Limit: 1000})
		for _, ev := range all {
			if ev.RelatedJob == job.ID {
				events = append(events, ev)
			}
		}
	}
	if err != nil {
		a.storeError(w, r, err, "events")
		return
	}
	if len(events) > jobEvents {
		events, d.MoreEvents = events[:jobEvents], true
	}
	d.Events = a.eventRows(ctx, events)
	if a.s.QA != nil {
		c, err := a.s.QA.QA(ctx, job.ID)
		switch {
		case err == nil:
			var shown voicehook.Segment
			shown.WithQA(c)
			q := &jobQA{Status: shown.QAStatus, State: c.State, Notes: c.Notes}
			if c.Result != nil {
				q.WER, q.Diffs = werPercent(c.Result.WER), len(c.Result.Differences)
			}
			d.QA = q
		case !isNotFound(err):
			a.s.Logger.Warn("job page: reading the QA check", "job_id", job.ID, "err", err)
		}
	}
	a.render(w, r, http.StatusOK, "job", page{Title: "Job " + job.ID, Nav: "jobs", Data: d})
}
