package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
)

type createJobRequest struct {
	SegmentID  string `json:"segment_id"`
	Type       string `json:"type"`
	ExternalID string `json:"external_id"`
	generationRequest
}

func (s *Server) handleCreateJob(w http.ResponseWriter, r *http.Request) {
	var req createJobRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)) // a script of 200,000 characters fits
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	if req.SegmentID == "" {
		writeError(w, http.StatusBadRequest, "segment_id is required")
		return
	}
	if len(req.SegmentID) > 200 || len(req.ExternalID) > 200 {
		writeError(w, http.StatusBadRequest, "segment_id and external_id are at most 200 characters")
		return
	}
	if req.Type == "" {
		req.Type = voicehook.JobTypeVoiceover
	}
	if req.Type != voicehook.JobTypeVoiceover {
		writeError(w, http.StatusBadRequest, "type must be "+voicehook.JobTypeVoiceover)
		return
	}
	script, code, err := s.script(r.Context(), req.SegmentID, req.generationRequest)
	if err != nil && code == 0 {
		s.writeStoreError(w, err, "segment")
		return
	}
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	nj := voicehook.NewJob{SegmentID: req.SegmentID, Type: req.Type, ExternalID: req.ExternalID, Script: script}
	expected := ""
	if script == nil {
		expected = req.Text // a callback job whose script is known ("generate": false)
	}
	job, err := s.createJob(r.Context(), nj, expected)
	if err != nil {
		s.writeStoreError(w, err, "job")
		return
	}
	writeJSON(w, http.StatusCreated, job)
}

// createJob creates a job and queues its generation, or records the script
// a callback job should say. The error is a store error.
func (s *Server) createJob(ctx context.Context, nj voicehook.NewJob, expected string) (voicehook.Job, error) {
	job, err := s.Records.CreateJob(ctx, nj)
	if err != nil {
		return job, err
	}
	if nj.Script != nil {
		if err := s.Generations.AddGeneration(ctx, job, *nj.Script); err != nil {
			// The job exists but nothing will generate it: fail it rather
			// than leave it processing forever.
			if ferr := s.Records.FinishJob(ctx, job, voicehook.Failed("could not queue the generation: "+err.Error(), s.Clock.Now().UTC())); ferr != nil {
				s.Logger.Error("failing a job whose generation could not be queued", "job_id", job.ID, "err", ferr)
			}
			return job, fmt.Errorf("queueing the generation: %w", err)
		}
	}
	if expected != "" && s.QA != nil {
		if err := s.QA.ExpectScript(ctx, job, expected); err != nil {
			// The job works without QA; say so in the log.
			s.Logger.Warn("recording a callback job's script for QA; its voiceover will not be checked", "job_id", job.ID, "err", err)
		}
	}
	s.wakeParked(ctx, job)
	job.CallbackURL = s.callbackURL(job.SegmentID)
	s.Logger.Info("job created", "job_id", job.ID, "segment_id", job.SegmentID, "generated", nj.Script != nil)
	return job, nil
}

// wakeParked wakes the events that arrived before job and wait for it. A
// failed wake-up only delays them: the queue's sweep finds them.
func (s *Server) wakeParked(ctx context.Context, job voicehook.Job) {
	if s.Waits == nil {
		return
	}
	n, err := s.Waits.Wake(ctx, voicehook.JobWaitKeys(job))
	if err != nil {
		s.Logger.Warn("waking the events waiting for a new job; the queue's sweep will", "job_id", job.ID, "err", err)
		return
	}
	if n > 0 {
		s.Logger.Info("woke events that arrived before their job", "job_id", job.ID, "events", n)
	}
}

func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request) {
	job, err := s.Records.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeStoreError(w, err, "job")
		return
	}
	job.CallbackURL = s.callbackURL(job.SegmentID)
	s.withGeneration(r.Context(), &job)
	writeJSON(w, http.StatusOK, job)
}

func (s *Server) handleListJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	status := voicehook.JobStatus(q.Get("status"))
	if status != "" && !status.Valid() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status %q: want %s", status, oneOf(voicehook.JobStatuses)))
		return
	}
	jobs, err := s.Records.ListJobs(r.Context(), voicehook.JobFilter{Status: status, SegmentID: q.Get("segment_id"), Limit: limit})
	if err != nil {
		s.writeStoreError(w, err, "jobs")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": nonNil(jobs)})
}

func (s *Server) handleGetSegment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	seg, err := s.Records.Segment(r.Context(), id)
	if errors.Is(err, voicehook.ErrNotFound) {
		// The callback URL does not depend on the segment existing: a
		// pipeline can fetch it before anything is recorded.
		writeJSON(w, http.StatusNotFound, map[string]string{"status": "error", "message": "segment not found", "callback_url": s.callbackURL(id)})
		return
	}
	if err != nil {
		s.writeStoreError(w, err, "segment")
		return
	}
	s.withVoiceNotice(r.Context(), &seg)
	s.withQA(r.Context(), &seg)
	jobs, err := s.Records.ListJobs(r.Context(), voicehook.JobFilter{SegmentID: seg.ID})
	if err != nil {
		s.writeStoreError(w, err, "jobs")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		voicehook.Segment
		CallbackURL string          `json:"callback_url"`
		Jobs        []voicehook.Job `json:"jobs"`
	}{seg, s.callbackURL(seg.ID), nonNil(jobs)})
}

// handleCallbackURL answers a segment's callback URL whether or not the
// segment is recorded (its token depends only on its id).
func (s *Server) handleCallbackURL(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	writeJSON(w, http.StatusOK, map[string]string{"segment_id": id, "callback_url": s.callbackURL(id)})
}

// maxListedPayload is the largest raw payload a list shows inline; larger
// ones (base64 audio) are shown by GET /api/events/{id}.
const maxListedPayload = 64 << 10

func (s *Server) handleListEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := voicehook.EventFilter{Status: voicehook.EventStatus(q.Get("status")), SegmentID: q.Get("segment_id"), Type: q.Get("type"), Limit: limit, BeforeID: q.Get("before")}
	if f.Status != "" && !f.Status.Valid() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status %q: want %s", f.Status, oneOf(voicehook.EventStatuses)))
		return
	}
	now := s.now()
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, ok := timeParam(v, now)
			if !ok {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s %q: %s", p.name, v, timeForms))
				return
			}
			*p.dst = t
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("since (%s) is not before until (%s): nothing can match",
			f.Since.UTC().Format(time.RFC3339), f.Until.UTC().Format(time.RFC3339)))
		return
	}
	events, err := s.Inbox.ListEvents(r.Context(), f)
	if err != nil {
		s.writeStoreError(w, err, "events")
		return
	}
	out := make([]eventView, len(events))
	for i, ev := range events {
		out[i] = viewEvent(ev, maxListedPayload)
	}
	reply := map[string]any{"events": out}
	if limit == 0 {
		limit = 100 // the store's default page
	}
	if len(events) == limit {
		reply["next_before"] = events[len(events)-1].ID
	}
	writeJSON(w, http.StatusOK, reply)
}

func (s *Server) handleGetEvent(w http.ResponseWriter, r *http.Request) {
	ev, err := s.Inbox.Event(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeStoreError(w, err, "event")
		return
	}
	attempts, err := s.Inbox.Attempts(r.Context(), ev.ID)
	if err != nil {
		s.writeStoreError(w, err, "attempts")
		return
	}
	v := viewEvent(ev, -1)
	v.History = collapseHistory(attempts)
	writeJSON(w, http.StatusOK, v)
}

// handleReplay: POST /api/events/{id}/replay puts a finished event back in
// the queue (202). When the job it would act on is already finished, the
// answer's "message" says the replay changes nothing and what would.
func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ev, err := s.Inbox.Event(r.Context(), id)
	if err != nil {
		s.writeStoreError(w, err, "event")
		return
	}
	note := ""
	if ev.Status.Finished() {
		note = s.replayNote(r.Context(), ev)
	}
	if err := s.Inbox.Replay(r.Context(), id); err != nil {
		s.writeStoreError(w, err, "event")
		return
	}
	s.wake()
	s.Logger.Info("event replay requested", "event_id", id, "note", note)
	reply := map[string]string{"status": "replaying", "event_id": id}
	if note != "" {
		reply["message"] = note
	}
	writeJSON(w, http.StatusAccepted, reply)
}

// eventView is an event as the API shows it: the raw payload inline as JSON
// when it is JSON, as a string otherwise.
type eventView struct {
	voicehook.Event
	RawPayload     any          `json:"raw_payload,omitempty"`
	PayloadOmitted bool         `json:"raw_payload_omitted,omitempty"`
	History        []historyRow `json:"history,omitempty"`
}

func viewEvent(ev voicehook.Event, maxPayload int) eventView {
	ev.Headers = shownHeaders(ev.Headers)
	v := eventView{Event: ev}
	switch {
	case maxPayload >= 0 && len(ev.RawPayload) > maxPayload:
		v.PayloadOmitted = true
	case json.Valid(ev.RawPayload):
		v.RawPayload = json.RawMessage(ev.RawPayload)
	default:
		v.RawPayload = string(ev.RawPayload)
	}
	return v
}

func limitParam(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("limit %q: want a number from 1 to 1000", s)
	}
	return n, nil
}

// timeForms names what since and until take, for the 400 that refuses
// anything else.
const timeForms = "want an RFC 3339 time (2025-03-14T15:09:26Z), a date (2025-03-14, UTC) or a duration before now (90m, 24h)"

// timeParam reads a time filter: an RFC 3339 time, a date (midnight UTC),
// or a positive duration counted back from now ("24h": the last day).
func timeParam(v string, now time.Time) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), true
	}
	return time.Time{}, false
}

// oneOf lists valid values for an error message: "a, b or c".
func oneOf[T ~string](vals []T) string {
	var b strings.Builder
	for i, v := range vals {
		switch {
		case i == 0:
		case i == len(vals)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(string(v))
	}
	return b.String()
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
