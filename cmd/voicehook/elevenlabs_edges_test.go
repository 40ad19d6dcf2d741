package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// The edges of what ElevenLabs sends (issue 14): distinct events about the
// same ids, chapter events, shapes voicehook does not act on, audio of other
// agents, voice removal notices.

// deliverOK delivers body (signed; with segment's callback token when
// segment is set) and fails unless it is stored as a new event.
func (h *harness) deliverOK(segment string, body []byte) ack {
	h.t.Helper()
	code, a := h.deliver(segment, body)
	if code != http.StatusOK || a.Duplicate || a.EventID == "" {
		h.t.Fatalf("delivery: %d %+v, want a new event", code, a)
	}
	return a
}

func studioFailure(ts int64, details string) []byte {
	return fmt.Appendf(nil, `{"type":"project_conversion_status","event_timestamp":%d,"data":{"request_id":"r1","project_id":"proj_1","project_snapshot_id":null,"conversion_status":"error","error_details":%q}}`, ts, details)
}

// TestStudioFailuresAreDistinctEvents: a project that fails again an hour
// later (a new job) is a new event that fails the new job; the same body
// again is a redelivery.
func TestStudioFailuresAreDistinctEvents(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store)
		job1 := h.createJob("seg-fail", "proj_1")
		a1 := h.deliverOK("seg-fail", studioFailure(1739537297, "quota exceeded"))
		if ev := h.waitEvent(a1.EventID); ev.Status != "failed" || ev.RelatedJob != job1.ID {
			t.Fatalf("first failure: %+v, want failed for %s", ev, job1.ID)
		}

		job2 := h.createJob("seg-fail", "proj_1")
		second := studioFailure(1739537297+3600, "voice removed")
		a2 := h.deliverOK("seg-fail", second)
		if a2.EventID == a1.EventID {
			t.Fatalf("the second failure was answered with the first's event %s", a1.EventID)
		}
		if ev := h.waitEvent(a2.EventID); ev.Status != "failed" || ev.RelatedJob != job2.ID {
			t.Fatalf("second failure: %+v, want failed for %s", ev, job2.ID)
		}
		for _, c := range []struct {
			job, details string
		}{{job1.ID, "quota exceeded"}, {job2.ID, "voice removed"}} {
			if j := h.job(c.job); j.Status != "failed" || j.ErrorDetails != c.details {
				t.Errorf("job %s: %s %q, want failed %q", c.job, j.Status, j.ErrorDetails, c.details)
			}
		}

		code, again := h.deliver("seg-fail", second)
		if code != http.StatusOK || !again.Duplicate || again.EventID != a2.EventID {
			t.Errorf("redelivery of the second failure: %d %+v, want duplicate of %s", code, again, a2.EventID)
		}
	})
}

// TestChapterEventIsProgressForProjectJob: a chapter's success does not
// complete the job of the whole project; the project's event ends it.
func TestChapterEventIsProgressForProjectJob(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store)
		job := h.createJob("seg-book", "proj_b")
		chapter := []byte(`{"type":"chapter_conversion_status","event_timestamp":1739537297,"data":{"request_id":"r1","project_id":"proj_b","chapter_id":"ch_1","chapter_snapshot_id":"cs_1","conversion_status":"success"}}`)
		a := h.deliverOK("seg-book", chapter)
		ev := h.waitEvent(a.EventID)
		if ev.Status != "ignored" || ev.RelatedJob != job.ID || !strings.HasPrefix(ev.ErrorDetails, `progress: chapter "ch_1" conversion succeeded`) {
			t.Fatalf("chapter event: %+v, want ignored as progress of %s", ev, job.ID)
		}
		if j := h.job(job.ID); j.Status != "processing" {
			t.Fatalf("after a chapter's event the project's job is %s, want processing", j.Status)
		}
		project := []byte(`{"type":"project_conversion_status","event_timestamp":1739537300,"data":{"request_id":"r1","project_id":"proj_b","conversion_status":"error","error_details":"chapter 2 failed"}}`)
		a = h.deliverOK("seg-book", project)
		if ev := h.waitEvent(a.EventID); ev.Status != "failed" || ev.RelatedJob != job.ID {
			t.Fatalf("project event: %+v, want failed for %s", ev, job.ID)
		}
		if j := h.job(job.ID); j.Status != "failed" || j.ErrorDetails != "chapter 2 failed" {
			t.Errorf("after the project's event: %s %q", j.Status, j.ErrorDetails)
		}
	})
}

// TestUnknownShapesAreIgnored: genuine signed JSON voicehook does not act on
// is recorded with its type and ignored; only a body that is not JSON
// fails, with one "malformed payload:" prefix.
func TestUnknownShapesAreIgnored(t *testing.T) {
	t.Parallel()
	h := setup(t, "sqlite")
	for _, c := range []struct {
		body, typ, status, details string
	}{
		{`{"language_code":"en","language_probability":0.98,"text":"Hi.","words":[{"text":"Hi.","start":0,"end":0.4,"type":"word"}]}`,
			"speech_to_text_transcription", "ignored", "speech-to-text transcript: voiceover QA is off (--qa stt turns it on)"},
		{`{"type":"speech_to_text_transcription","event_timestamp":1739537297,"data":{"request_id":"r1","transcription":{"language_code":"en","text":"Hi.","words":[]}}}`,
			"speech_to_text_transcription", "ignored", "speech-to-text transcript: voiceover QA is off (--qa stt turns it on)"},
		{`{"type":"agent_handoff","event_timestamp":1739537297,"data":{"conversation_id":"c1"}}`,
			"agent_handoff", "ignored", "event type agent_handoff is not acted on"},
		{`{"type":"call_initiation_failure","event_timestamp":1739537297,"data":{"agent_id":"ag","conversation_id":"c2","failure_reason":"busy"}}`,
			"call_initiation_failure", "ignored", "call_initiation_failure: an agent's call did not start, so there is no audio; recorded only"},
		{`{"type":"voice_removal_notice","event_timestamp":1739537297,"data":{"voice_id":"voice_gone"}}`,
			"voice_removal_notice", "ignored", "voice voice_gone is scheduled for removal: the segments voiced with it are marked; regenerate them before it goes (0 segment(s) voiced with it)"},
		{`{"type":"project_conversion_status","event_timestamp":1739537297,"data":{"project_id":"p9"}}`,
			"project_conversion_status", "ignored", "project_conversion_status of a shape voicehook does not know (data.conversion_status is missing): recorded only"},
		{`[1,2,3]`, "unknown", "ignored", "unknown of a shape voicehook does not know (json: cannot unmarshal array into Go value of type elevenlabs.wire): recorded only"},
	} {
		a := h.deliverOK("", []byte(c.body))
		ev := h.waitEvent(a.EventID)
		if ev.Type != c.typ || ev.Status != c.status || ev.ErrorDetails != c.details {
			t.Errorf("%.60s: event %s %s %q, want %s %s %q", c.body, ev.Type, ev.Status, ev.ErrorDetails, c.typ, c.status, c.details)
		}
	}
	a := h.deliverOK("", []byte(`type=post_call_audio`))
	ev := h.waitEvent(a.EventID)
	if ev.Status != "failed" || !strings.HasPrefix(ev.ErrorDetails, "malformed payload: ") || strings.Count(ev.ErrorDetails, "malformed payload") != 1 {
		t.Errorf("not JSON: event %s %q, want failed with one \"malformed payload: \" prefix", ev.Status, ev.ErrorDetails)
	}
}

func callAudio(agent, conversation string) []byte {
	return fmt.Appendf(nil, `{"type":"post_call_audio","event_timestamp":1739537297,"data":{"agent_id":%q,"conversation_id":%q,"full_audio":%q}}`,
		agent, conversation, base64.StdEncoding.EncodeToString(audiotest.MP3(time.Second)))
}

// TestUnrelatedCallAudioIgnoredAtOnce: audio of an agent no job names is
// ignored without waiting --job-match-grace (10m here); audio of an agent a
// job names completes that job.
func TestUnrelatedCallAudioIgnoredAtOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store, func(c *config) { c.JobMatchGrace = 10 * time.Minute })
		a := h.deliverOK("", callAudio("ag_other", "conv_other"))
		ev := h.waitEvent(a.EventID)
		if ev.Status != "ignored" || !strings.Contains(ev.ErrorDetails, "no job names these ids") {
			t.Fatalf("unrelated audio: %s %q, want ignored at once", ev.Status, ev.ErrorDetails)
		}

		job := h.createJob("seg-agent", "ag_known")
		a = h.deliverOK("", callAudio("ag_known", "conv_1"))
		if ev := h.waitEvent(a.EventID); ev.Status != "succeeded" || ev.RelatedJob != job.ID {
			t.Fatalf("audio of a named agent: %+v, want succeeded for %s", ev, job.ID)
		}
		if s := h.segment("seg-agent"); s.Status != "voiceover_ready" {
			t.Errorf("segment %s, want voiceover_ready", s.Status)
		}
	})
}

// TestVoiceNoticeMarksGeneratedSegments: a voice_removal_notice marks the
// segments generated with the voice, in the API and on the admin page; a
// withdrawal clears the mark.
func TestVoiceNoticeMarksGeneratedSegments(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	h := setup(t, "sqlite", withTTS(em, 2))
	for seg, voice := range map[string]string{"scene-a": "voice_a", "scene-b": "voice_b"} {
		job := h.createGenerated(map[string]any{"segment_id": seg, "text": "Hello there.", "voice_id": voice})
		if job = h.waitJob(job.ID, 20*time.Second); job.Status != "completed" {
			t.Fatalf("generating %s: %+v", seg, job)
		}
	}
	notice := func() map[string]string {
		t.Helper()
		got := map[string]string{}
		for _, seg := range []string{"scene-a", "scene-b"} {
			var s struct {
				VoiceNotice string `json:"voice_notice"`
			}
			h.do("GET", "/api/segments/"+seg, nil, nil, &s)
			if s.VoiceNotice != "" {
				got[seg] = s.VoiceNotice
			}
		}
		return got
	}
	a := h.deliverOK("", []byte(`{"type":"voice_removal_notice","event_timestamp":1739537297,"data":{"voice_id":"voice_a"}}`))
	if ev := h.waitEvent(a.EventID); ev.Status != "ignored" || !strings.HasSuffix(ev.ErrorDetails, "(1 segment(s) voiced with it)") {
		t.Fatalf("notice event: %s %q", ev.Status, ev.ErrorDetails)
	}
	got := notice()
	if len(got) != 1 || !strings.HasPrefix(got["scene-a"], "voice voice_a is scheduled for removal") {
		t.Fatalf("voice notices %v, want scene-a's only", got)
	}
	if code, page := h.get("/segments/scene-a"); code != http.StatusOK || !strings.Contains(page, `id="voice-notice"`) || !strings.Contains(page, "voice voice_a is scheduled for removal") {
		t.Errorf("admin segment page (%d) does not show the notice", code)
	}
	a = h.deliverOK("", []byte(`{"type":"voice_removal_notice_withdrawn","event_timestamp":1739537400,"data":{"voice_id":"voice_a"}}`))
	h.waitEvent(a.EventID)
	if got := notice(); len(got) != 0 {
		t.Errorf("after the withdrawal: %v, want no notice", got)
	}
}
