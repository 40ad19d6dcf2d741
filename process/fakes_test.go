package process_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/voicehook/voicehook"
)

// memStore keeps events, attempts, claims, jobs and segments in memory. It
// plays every part processing talks to: Claims, Records and (as the SQL
// store does) a one-step Resolver. Only the methods processing calls are
// implemented; the embedded Records panics on any other.
type memStore struct {
	voicehook.Records

	mu       sync.Mutex
	events   map[string]voicehook.Event
	attempts map[string][]voicehook.Attempt
	claims   map[string]string
	jobs     map[string]voicehook.Job
	segments map[string]voicehook.Segment
	// failResolve, when set, fails every Resolve and ClaimJob.
	failResolve error
}

func newMemStore() *memStore {
	return &memStore{events: map[string]voicehook.Event{}, attempts: map[string][]voicehook.Attempt{},
		claims: map[string]string{}, jobs: map[string]voicehook.Job{}, segments: map[string]voicehook.Segment{}}
}

func (m *memStore) Event(ctx context.Context, id string) (voicehook.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev, ok := m.events[id]
	if !ok {
		return ev, fmt.Errorf("event %s: %w", id, voicehook.ErrNotFound)
	}
	return ev, nil
}

func (m *memStore) RecordAttempt(ctx context.Context, a voicehook.Attempt, fin *voicehook.EventFinish) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recordAttempt(a, fin)
}

func (m *memStore) recordAttempt(a voicehook.Attempt, fin *voicehook.EventFinish) error {
	ev, ok := m.events[a.EventID]
	if !ok {
		return voicehook.ErrNotFound
	}
	ev.Attempts++
	a.Attempt = ev.Attempts
	m.attempts[a.EventID] = append(m.attempts[a.EventID], a)
	if fin != nil {
		if !ev.Status.CanMoveTo(fin.Status) {
			return fmt.Errorf("event %s cannot move from %s to %s", ev.ID, ev.Status, fin.Status)
		}
		ev.Status = fin.Status
		if fin.ErrorDetails != "" {
			ev.ErrorDetails = fin.ErrorDetails
		}
		if fin.RelatedJob != "" {
			ev.RelatedJob = fin.RelatedJob
		}
	}
	m.events[a.EventID] = ev
	return nil
}

func (m *memStore) ClaimJob(ctx context.Context, jobID, eventID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failResolve != nil {
		return "", m.failResolve
	}
	return m.claim(jobID, eventID), nil
}

func (m *memStore) claim(jobID, eventID string) string {
	if owner, ok := m.claims[jobID]; ok {
		return owner
	}
	m.claims[jobID] = eventID
	return eventID
}

func (m *memStore) ClaimOwner(ctx context.Context, jobID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	owner, ok := m.claims[jobID]
	if !ok {
		return "", voicehook.ErrNotFound
	}
	return owner, nil
}

// Resolve is the SQL store's one-step resolution, all under one lock.
func (m *memStore) Resolve(ctx context.Context, r voicehook.Resolution) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failResolve != nil {
		return "", m.failResolve
	}
	owner := m.claim(r.Job.ID, r.EventID)
	if owner == r.EventID {
		m.finishJob(r.Job, r.End)
	}
	a, fin := r.Outcome(owner)
	return owner, m.recordAttempt(a, &fin)
}

func (m *memStore) FindJob(ctx context.Context, q voicehook.JobQuery) (voicehook.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// By segment first, then by the sender's ids, as the stores do.
	for _, match := range []func(voicehook.Job) bool{
		func(j voicehook.Job) bool { return q.SegmentID != "" && j.SegmentID == q.SegmentID },
		func(j voicehook.Job) bool { return j.ExternalID != "" && slices.Contains(q.ExternalIDs, j.ExternalID) },
	} {
		var best voicehook.Job
		for _, j := range m.jobs {
			if !match(j) {
				continue
			}
			if best.ID == "" || (j.Status == voicehook.JobProcessing && best.Status != voicehook.JobProcessing) {
				best = j
			}
		}
		if best.ID != "" {
			return best, nil
		}
	}
	return voicehook.Job{}, voicehook.ErrNotFound
}

// memVoices records voice notices; segments is what NoteVoice answers.
type memVoices struct {
	mu       sync.Mutex
	notices  []voicehook.VoiceNotice
	segments int
}

func (v *memVoices) NoteVoice(ctx context.Context, n voicehook.VoiceNotice) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.notices = append(v.notices, n)
	return v.segments, nil
}

func (v *memVoices) SegmentVoiceNotice(ctx context.Context, segmentID string) (voicehook.VoiceNotice, error) {
	return voicehook.VoiceNotice{}, voicehook.ErrNotFound
}

func (m *memStore) FinishJob(ctx context.Context, job voicehook.Job, end voicehook.JobEnd) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.finishJob(job, end)
	return nil
}

func (m *memStore) finishJob(job voicehook.Job, end voicehook.JobEnd) {
	cur := m.jobs[job.ID]
	if !cur.Status.CanMoveTo(end.Status) {
		return
	}
	cur.Status = end.Status
	at := end.At
	seg := m.segments[cur.SegmentID]
	seg.ID, seg.Status = cur.SegmentID, end.Status.SegmentStatus()
	if end.Status == voicehook.JobCompleted {
		cur.Timestamps.Completed = &at
		seg.Voiceover, seg.SHA256, seg.Bytes, seg.DurationMS = end.Audio.URL, end.Audio.SHA256, end.Audio.Bytes, end.Audio.DurationMS
	} else {
		cur.Timestamps.Failed = &at
		cur.ErrorDetails = end.Reason
	}
	m.jobs[job.ID] = cur
	m.segments[cur.SegmentID] = seg
}

// memStorage keeps what it is given; err, when set, fails every Put.
type memStorage struct {
	mu   sync.Mutex
	puts []voicehook.AudioObject
	err  error
}

func (s *memStorage) Put(ctx context.Context, obj voicehook.AudioObject) (voicehook.StoredAudio, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return voicehook.StoredAudio{}, s.err
	}
	s.puts = append(s.puts, obj)
	return voicehook.StoredAudio{URL: "https://media.test/" + obj.Key, Key: obj.Key, SHA256: obj.SHA256, Bytes: obj.Bytes,
		DurationMS: obj.DurationMS, ContentType: obj.ContentType}, nil
}

func (s *memStorage) Check(ctx context.Context) error { return nil }

var errStorageDown = errors.New("storage unavailable")
