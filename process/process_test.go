package process_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/audiotest"
	"github.com/voicehook/voicehook/process"
	"github.com/voicehook/voicehook/voicehooktest"
)

const grace = 10 * time.Minute

// bundle is one test's processor and the fakes behind it.
type bundle struct {
	p       *process.Processor
	store   *memStore
	storage *memStorage
	voices  *memVoices
	clock   *voicehooktest.Clock
}

// setup builds a processor over fakes. oneStep resolves jobs as the SQL
// store does (one transaction); otherwise through process.StepResolver, as
// with records kept in Airtable. Every decision must come out the same.
func setup(t *testing.T, oneStep bool) bundle {
	t.Helper()
	b := bundle{store: newMemStore(), storage: &memStorage{}, voices: &memVoices{segments: 2}, clock: voicehooktest.NewClock()}
	var resolver voicehook.Resolver = process.StepResolver{Claims: b.store, Records: b.store}
	if oneStep {
		resolver = b.store
	}
	b.p = &process.Processor{
		Claims: b.store, Resolver: resolver, Records: b.store, Storage: b.storage,
		Voices: b.voices, Grace: grace, MaxAudioBytes: 10 << 20, TempDir: t.TempDir(), Clock: b.clock,
		Logger: slog.New(slog.DiscardHandler),
	}
	return b
}

func (b bundle) addEvent(id, payload string, received time.Time, status voicehook.EventStatus) {
	b.addEventFor(id, "seg_1", payload, received, status)
}

// addEventFor adds an event delivered for segment ("" for a delivery that
// names none, as a workspace webhook's).
func (b bundle) addEventFor(id, segment, payload string, received time.Time, status voicehook.EventStatus) {
	b.store.events[id] = voicehook.Event{ID: id, SegmentID: segment, RawPayload: []byte(payload), ReceivedAt: received, Status: status}
}

// nameJob sets job_1's external_id.
func (b bundle) nameJob(externalID string) {
	j := b.store.jobs["job_1"]
	j.ExternalID = externalID
	b.store.jobs["job_1"] = j
}

func (b bundle) addJob(status voicehook.JobStatus, finished time.Time) {
	j := voicehook.Job{ID: "job_1", SegmentID: "seg_1", Type: voicehook.JobTypeVoiceover, Status: status}
	switch status {
	case voicehook.JobCompleted:
		j.Timestamps.Completed = &finished
	case voicehook.JobFailed:
		j.Timestamps.Failed = &finished
	}
	b.store.jobs[j.ID] = j
	b.store.segments["seg_1"] = voicehook.Segment{ID: "seg_1", Status: status.SegmentStatus()}
}

// Payloads in the forms ElevenLabs and the seed send.
var (
	inlineAudio = `{"type":"post_call_audio","event_timestamp":1700000000,"data":{"conversation_id":"conv_1","full_audio":"` +
		base64.StdEncoding.EncodeToString(audiotest.MP3(time.Second)) + `"}}`
	notAudio = `{"type":"post_call_audio","event_timestamp":1700000000,"data":{"conversation_id":"conv_1","full_audio":"` +
		base64.StdEncoding.EncodeToString([]byte("this is not audio at all, just words")) + `"}}`
	callbackFailed = `{"status":"failed","error":{"message":"voice quota exceeded"}}`
	progress       = `{"status":"processing"}`
	otherType      = `{"type":"post_call_transcription","event_timestamp":1700000000,"data":{"conversation_id":"conv_1"}}`
	malformed      = `{"status":`
	// Audio of another agent of the workspace.
	unrelatedAudio = `{"type":"post_call_audio","event_timestamp":1700000000,"data":{"agent_id":"ag_other","conversation_id":"conv_9","full_audio":"` +
		base64.StdEncoding.EncodeToString(audiotest.MP3(time.Second)) + `"}}`
	agentAudio = `{"type":"post_call_audio","event_timestamp":1700000000,"data":{"agent_id":"ag_1","conversation_id":"conv_2","full_audio":"` +
		base64.StdEncoding.EncodeToString(audiotest.MP3(time.Second)) + `"}}`
	chapterDone   = `{"type":"chapter_conversion_status","event_timestamp":1700000000,"data":{"request_id":"r1","project_id":"p1","chapter_id":"c1","chapter_snapshot_id":"cs1","conversion_status":"success"}}`
	chapterFailed = `{"type":"chapter_conversion_status","event_timestamp":1700000000,"data":{"request_id":"r1","project_id":"p1","chapter_id":"c1","conversion_status":"error","error_details":"voice missing"}}`
	bareSTT       = `{"language_code":"en","language_probability":0.98,"text":"Hi.","words":[{"text":"Hi.","start":0,"end":0.4,"type":"word"}]}`
	newType       = `{"type":"agent_handoff","event_timestamp":1700000000,"data":{"conversation_id":"conv_1"}}`
	callFailure   = `{"type":"call_initiation_failure","event_timestamp":1700000000,"data":{"agent_id":"ag_1","conversation_id":"conv_1","failure_reason":"busy"}}`
	voiceNotice   = `{"type":"voice_removal_notice","event_timestamp":1700000000,"data":{"voice_id":"voice_a"}}`
	voiceRemoved  = `{"type":"voice_removed","event_timestamp":1700000000,"data":{"voice_id":"voice_a"}}`
)

// result is what one attempt left behind.
type result struct {
	Wait, Retry bool
	Event       voicehook.EventStatus
	Details     string
	RelatedJob  string
	Attempts    []voicehook.AttemptOutcome
	Job         voicehook.JobStatus
	Segment     voicehook.SegmentStatus
	Stored      int
}

func TestProcessDecisions(t *testing.T) {
	t.Parallel()
	const ev = "evt_1"
	cases := []struct {
		name    string
		arrange func(b bundle)
		run     voicehook.Run
		want    result
	}{{
		name: "completed callback stores the audio and completes job and segment",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-time.Second), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventSucceeded, RelatedJob: "job_1", Attempts: []voicehook.AttemptOutcome{voicehook.AttemptSucceeded},
			Job: voicehook.JobCompleted, Segment: voicehook.SegmentVoiceoverReady, Stored: 1},
	}, {
		name: "no job yet within the grace: waits without failing",
		arrange: func(b bundle) {
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-time.Minute), voicehook.EventReceived)
		},
		want: result{Wait: true, Event: voicehook.EventReceived, Attempts: []voicehook.AttemptOutcome{voicehook.AttemptWaiting}},
	}, {
		name: "no job when the grace is over: the event fails",
		arrange: func(b bundle) {
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-grace-time.Second), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventFailed,
			Details:  `no matching voiceover job for segment "seg_1" or ids conv_1 after waiting 10m0s (--job-match-grace)`,
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptFailed}},
	}, {
		name: "late event for a job another event finished: ignored, nothing moves",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobCompleted, b.clock.Now())
			b.store.claims["job_1"] = "evt_other"
			b.addEvent(ev, callbackFailed, b.clock.Now().Add(-time.Minute), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, RelatedJob: "job_1",
			Details:  "job job_1 is already completed; a late or repeated event changes nothing",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobCompleted, Segment: voicehook.SegmentVoiceoverReady},
	}, {
		name: "only an older finished job within the grace: waits for the new one",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobCompleted, b.clock.Now().Add(-5*time.Minute))
			b.store.claims["job_1"] = "evt_other"
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-time.Minute), voicehook.EventReceived)
		},
		want: result{Wait: true, Event: voicehook.EventReceived, Attempts: []voicehook.AttemptOutcome{voicehook.AttemptWaiting},
			Job: voicehook.JobCompleted, Segment: voicehook.SegmentVoiceoverReady},
	}, {
		name: "this event finished the job before a crash: the event catches up",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobCompleted, b.clock.Now())
			b.store.claims["job_1"] = ev
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-time.Minute), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventSucceeded, RelatedJob: "job_1", Attempts: []voicehook.AttemptOutcome{voicehook.AttemptSucceeded},
			Job: voicehook.JobCompleted, Segment: voicehook.SegmentVoiceoverReady},
	}, {
		name: "lost claim: another event resolves the job",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.store.claims["job_1"] = "evt_other"
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-time.Second), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, RelatedJob: "job_1", Details: "job job_1 is resolved by event evt_other",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending, Stored: 1},
	}, {
		name: "failure callback fails job and segment with the sender's message",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEvent(ev, callbackFailed, b.clock.Now().Add(-time.Second), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventFailed, RelatedJob: "job_1", Details: "voice quota exceeded",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptFailed}, Job: voicehook.JobFailed, Segment: voicehook.SegmentVoiceoverFailed},
	}, {
		name: "audio that is not audio is a permanent error: fails at once",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEvent(ev, notAudio, b.clock.Now().Add(-time.Second), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventFailed, RelatedJob: "job_1", Details: "<permanent>",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptFailed}, Job: voicehook.JobFailed, Segment: voicehook.SegmentVoiceoverFailed},
	}, {
		name: "storage down is transient: retried, nothing moves",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.storage.err = errStorageDown
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-time.Second), voicehook.EventReceived)
		},
		run:  voicehook.Run{Attempt: 1, MaxAttempts: 3},
		want: result{Retry: true, Event: voicehook.EventReceived, Attempts: []voicehook.AttemptOutcome{voicehook.AttemptRetry}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "transient failure on the last attempt: the event is dead, the job keeps processing",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.storage.err = errStorageDown
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-time.Second), voicehook.EventReceived)
		},
		run: voicehook.Run{Attempt: 3, MaxAttempts: 3},
		want: result{Event: voicehook.EventDead, RelatedJob: "job_1", Details: "gave up after 3 attempts: storing audio: storage unavailable",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptDead}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "the claim cannot be written: retried",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.store.failResolve = voicehook.ErrUnavailable
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-time.Second), voicehook.EventReceived)
		},
		want: result{Retry: true, Event: voicehook.EventReceived, Attempts: []voicehook.AttemptOutcome{voicehook.AttemptRetry},
			Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending, Stored: 1},
	}, {
		name: "replay raced a finished event: nothing to do, no attempt",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobCompleted, b.clock.Now())
			b.addEvent(ev, inlineAudio, b.clock.Now().Add(-time.Minute), voicehook.EventSucceeded)
		},
		want: result{Event: voicehook.EventSucceeded, Job: voicehook.JobCompleted, Segment: voicehook.SegmentVoiceoverReady},
	}, {
		name: "progress changes nothing",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEvent(ev, progress, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, Details: "progress: processing (nothing changes)",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "another event type is recorded and ignored",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEvent(ev, otherType, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, Details: "<ignored>", Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored},
			Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "a malformed payload fails the event, not the job",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEvent(ev, malformed, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventFailed, Details: "<malformed>", Attempts: []voicehook.AttemptOutcome{voicehook.AttemptFailed},
			Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "a chapter's success is progress for the project's job",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.nameJob("p1")
			b.addEvent(ev, chapterDone, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, RelatedJob: "job_1",
			Details:  `progress: chapter "c1" conversion succeeded; job job_1 waits for its project's event (it was not created for this chapter)`,
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "a chapter's failure is progress for the project's job matched by its ids",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.nameJob("p1")
			b.addEventFor(ev, "", chapterFailed, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, RelatedJob: "job_1",
			Details:  `progress: chapter "c1" conversion failed: voice missing; job job_1 waits for its project's event (it was not created for this chapter)`,
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "a chapter's failure fails the job created for that chapter",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.nameJob("c1")
			b.addEvent(ev, chapterFailed, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventFailed, RelatedJob: "job_1", Details: "voice missing",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptFailed}, Job: voicehook.JobFailed, Segment: voicehook.SegmentVoiceoverFailed},
	}, {
		name: "audio of an agent no job names is ignored at once, not after the grace",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.nameJob("ag_1")
			b.addEventFor(ev, "", unrelatedAudio, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored,
			Details:  "post_call_audio of ids [conv_9 ag_other]: the delivery names no segment and no job names these ids (audio webhooks fire for every agent of the workspace)",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "audio of an agent a job names completes that job",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.nameJob("ag_1")
			b.addEventFor(ev, "", agentAudio, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventSucceeded, RelatedJob: "job_1", Attempts: []voicehook.AttemptOutcome{voicehook.AttemptSucceeded},
			Job: voicehook.JobCompleted, Segment: voicehook.SegmentVoiceoverReady, Stored: 1},
	}, {
		name: "audio of an agent only a finished job names waits the grace for a new job",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobCompleted, b.clock.Now().Add(-5*time.Minute))
			b.nameJob("ag_1")
			b.store.claims["job_1"] = "evt_other"
			b.addEventFor(ev, "", agentAudio, b.clock.Now().Add(-time.Minute), voicehook.EventReceived)
		},
		want: result{Wait: true, Event: voicehook.EventReceived, Attempts: []voicehook.AttemptOutcome{voicehook.AttemptWaiting},
			Job: voicehook.JobCompleted, Segment: voicehook.SegmentVoiceoverReady},
	}, {
		name: "a seed callback naming no segment still waits the grace",
		arrange: func(b bundle) {
			b.addEventFor(ev, "", callbackFailed, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Wait: true, Event: voicehook.EventReceived, Attempts: []voicehook.AttemptOutcome{voicehook.AttemptWaiting}},
	}, {
		name: "a speech-to-text transcript is recorded and ignored while QA is off",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEvent(ev, bareSTT, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, Details: "speech-to-text transcript: voiceover QA is off (--qa stt turns it on)",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "a new event type is ignored, never failed",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEvent(ev, newType, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, Details: "event type agent_handoff is not acted on",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "an acted-on type of another shape is ignored, never failed",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEvent(ev, `{"type":"post_call_audio","data":{"conversation_id":"conv_1","full_audio":12}}`, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, Details: "post_call_audio of a shape voicehook does not know (data.full_audio: not a string): recorded only",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "call_initiation_failure is recorded and ignored",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEventFor(ev, "", callFailure, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored, Details: "call_initiation_failure: an agent's call did not start, so there is no audio; recorded only",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "voice_removal_notice marks the voice's segments and changes no job",
		arrange: func(b bundle) {
			b.addJob(voicehook.JobProcessing, time.Time{})
			b.addEventFor(ev, "", voiceNotice, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored,
			Details:  "voice voice_a is scheduled for removal: the segments voiced with it are marked; regenerate them before it goes (2 segment(s) voiced with it)",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}, Job: voicehook.JobProcessing, Segment: voicehook.SegmentPending},
	}, {
		name: "voice_removed marks the voice's segments and changes no job",
		arrange: func(b bundle) {
			b.addEventFor(ev, "", voiceRemoved, b.clock.Now(), voicehook.EventReceived)
		},
		want: result{Event: voicehook.EventIgnored,
			Details:  "voice voice_a has been removed: the segments voiced with it are marked; regenerate them with another voice (2 segment(s) voiced with it)",
			Attempts: []voicehook.AttemptOutcome{voicehook.AttemptIgnored}},
	}, {
		name:    "a queued event missing from the store is dropped",
		arrange: func(b bundle) {},
		want:    result{},
	}}
	for _, c := range cases {
		for _, oneStep := range []bool{true, false} {
			name := c.name + "/steps"
			if oneStep {
				name = c.name + "/one step"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, oneStep)
				c.arrange(b)
				run := c.run
				run.EventID = ev
				if run.MaxAttempts == 0 {
					run.Attempt, run.MaxAttempts = 1, 10
				}
				res := b.p.Process(context.Background(), run)
				got := b.result(ev, res)
				// Details whose exact text another package owns are
				// checked for presence only.
				if c.want.Details != "" && c.want.Details[0] == '<' && got.Details != "" {
					got.Details = c.want.Details
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("after one attempt (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func (b bundle) result(id string, res voicehook.RunResult) result {
	r := result{Wait: res.Wait > 0, Retry: res.Retry != nil}
	if ev, ok := b.store.events[id]; ok {
		r.Event, r.Details, r.RelatedJob = ev.Status, ev.ErrorDetails, ev.RelatedJob
	}
	for _, a := range b.store.attempts[id] {
		r.Attempts = append(r.Attempts, a.Outcome)
	}
	r.Job = b.store.jobs["job_1"].Status
	r.Segment = b.store.segments["seg_1"].Status
	r.Stored = len(b.storage.puts)
	return r
}

// TestWaitBacksOff checks the wait before looking for the job again: a
// quarter of the time waited so far, at least 1s, at most 30s, never past
// the grace.
func TestWaitBacksOff(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		waited, want time.Duration
	}{
		{0, time.Second}, {2 * time.Second, time.Second}, {8 * time.Second, 2 * time.Second},
		{time.Minute, 15 * time.Second}, {5 * time.Minute, 30 * time.Second}, {grace - 10*time.Second, 10 * time.Second},
	} {
		b := setup(t, true)
		b.addEvent("evt_1", inlineAudio, b.clock.Now().Add(-c.waited), voicehook.EventReceived)
		res := b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 10})
		if res.Wait != c.want {
			t.Errorf("after waiting %s: wait %s, want %s", c.waited, res.Wait, c.want)
		}
	}
}

// TestRetryAfterStorageRecovers runs one event twice: storage fails, then
// recovers; the job completes once, with one object stored.
func TestRetryAfterStorageRecovers(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.addJob(voicehook.JobProcessing, time.Time{})
	b.addEvent("evt_1", inlineAudio, b.clock.Now(), voicehook.EventReceived)
	b.storage.err = errStorageDown
	if res := b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 5}); res.Retry == nil {
		t.Fatalf("first attempt: %+v, want a retry", res)
	}
	b.storage.err = nil
	b.clock.Advance(2 * time.Second)
	if res := b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 2, MaxAttempts: 5}); res.Retry != nil || res.Wait != 0 {
		t.Fatalf("second attempt: %+v, want done", res)
	}
	want := result{Event: voicehook.EventSucceeded, RelatedJob: "job_1",
		Attempts: []voicehook.AttemptOutcome{voicehook.AttemptRetry, voicehook.AttemptSucceeded},
		Job:      voicehook.JobCompleted, Segment: voicehook.SegmentVoiceoverReady, Stored: 1}
	if diff := cmp.Diff(want, b.result("evt_1", voicehook.RunResult{})); diff != "" {
		t.Errorf("after the retry (-want +got):\n%s", diff)
	}
	if got := b.store.segments["seg_1"].Voiceover; got != "https://media.test/"+b.storage.puts[0].Key {
		t.Errorf("segment voiceover = %q", got)
	}
}

// TestMalformedMessage: a body that is not JSON fails its event with one
// "malformed payload:" prefix, not two.
func TestMalformedMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.addEvent("evt_1", malformed, b.clock.Now(), voicehook.EventReceived)
	b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 10})
	got := b.store.events["evt_1"]
	if got.Status != voicehook.EventFailed || !strings.HasPrefix(got.ErrorDetails, "malformed payload: ") ||
		strings.Contains(got.ErrorDetails, "malformed payload: malformed payload") {
		t.Errorf("event = %s %q, want failed with one \"malformed payload: \" prefix", got.Status, got.ErrorDetails)
	}
}

// TestVoiceNoticeRecorded: the notice reaches VoiceNotices with the voice,
// its kind and the event that brought it.
func TestVoiceNoticeRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	received := b.clock.Now().Add(-time.Second)
	b.addEventFor("evt_1", "", voiceNotice, received, voicehook.EventReceived)
	b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 10})
	want := []voicehook.VoiceNotice{{VoiceID: "voice_a", Kind: voicehook.VoiceRemovalNotice, EventID: "evt_1", At: received}}
	if diff := cmp.Diff(want, b.voices.notices); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
}
