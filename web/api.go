package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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
	job.CallbackURL = s.callbackURL(job.SegmentID)
	s.Logger.Info("job created", "job_id", job.ID, "segment_id", job.SegmentID, "generated", nj.Script != nil)
	return job, nil
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
	jobs, err := s.Records.ListJobs(r.Context(), voicehook.JobFilter{Status: voicehook.JobStatus(q.Get("status")), SegmentID: q.Get("segment_id"), Limit: limit})
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
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, name+" must be an RFC 3339 time")
				return
			}
			*dst = t
		}
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
	v.History = nonNil(attempts)
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.Inbox.Replay(r.Context(), id); err != nil {
		s.writeStoreError(w, err, "event")
		return
	}
	s.Wake()
	s.Logger.Info("event replay requested", "event_id", id)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "replaying", "event_id": id})
}

// eventView is an event as the API shows it: the raw payload inline as JSON
// when it is JSON, as a string otherwise.
type eventView struct {
	voicehook.Event
	RawPayload     any                 `json:"raw_payload,omitempty"`
	PayloadOmitted bool                `json:"raw_payload_omitted,omitempty"`
	History        []voicehook.Attempt `json:"history,omitempty"`
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
		return 0, errors.New("limit must be a number from 1 to 1000")
	}
	return n, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
