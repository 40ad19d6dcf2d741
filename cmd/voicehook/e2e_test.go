package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// The seed's test strategy, made real: success and failure payloads in each
// form, through the real server, with every record checked afterwards.

func TestSeedFormCompleted(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store)
		job := h.createJob("seg-1", "")
		if job.Status != "processing" || job.Type != "voiceover_generation" || job.Timestamps.Created == nil {
			t.Fatalf("new job = %+v", job)
		}
		if !strings.Contains(job.CallbackURL, "/webhooks/elevenlabs?segment_id=seg-1&token=") {
			t.Fatalf("callback_url = %q", job.CallbackURL)
		}
		code, a := h.deliver("seg-1", seedCompleted(h.src.url("a.mp3")))
		if code != 200 || a.Status != "accepted" || a.EventID == "" || a.Duplicate {
			t.Fatalf("ack = %d %+v", code, a)
		}
		ev := h.waitEvent(a.EventID)
		if diff := cmp.Diff(struct {
			Status, RelatedJob, Service, Endpoint string
			Processed, Success                    bool
		}{"succeeded", job.ID, "ElevenLabs", "/webhooks/elevenlabs", true, true},
			struct {
				Status, RelatedJob, Service, Endpoint string
				Processed, Success                    bool
			}{ev.Status, ev.RelatedJob, ev.Service, ev.Endpoint, ev.Processed, ev.Success != nil && *ev.Success}); diff != "" {
			t.Fatalf("event (-want +got):\n%s", diff)
		}
		seg := h.segment("seg-1")
		if seg.Status != "voiceover_ready" || seg.Bytes != int64(len(h.src.body)) || seg.DurationMS < 1900 || seg.DurationMS > 2100 || len(seg.SHA256) != 64 {
			t.Fatalf("segment = %+v", seg)
		}
		j := h.job(job.ID)
		if j.Status != "completed" || j.Timestamps.Completed == nil || j.Timestamps.Failed != nil {
			t.Fatalf("job = %+v", j)
		}
		// The voiceover URL serves the stored bytes.
		resp, err := http.Get(seg.Voiceover)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got bytes.Buffer
		_, _ = got.ReadFrom(resp.Body)
		if resp.StatusCode != 200 || !bytes.Equal(got.Bytes(), h.src.body) || resp.Header.Get("Content-Type") != "audio/mpeg" {
			t.Fatalf("GET voiceover: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), got.Len())
		}
	})
}

func TestSeedFormFailed(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		// A short grace: an event arriving after its segment's job finished
		// waits that long for a newer job before it is ignored.
		h := setup(t, store, func(c *config) { c.JobMatchGrace = time.Second })
		job := h.createJob("seg-f", "")
		_, a := h.deliver("seg-f", []byte(`{"status":"failed","error":{"message":"voice quota exceeded"}}`))
		ev := h.waitEvent(a.EventID)
		if ev.Status != "failed" || ev.ErrorDetails != "voice quota exceeded" || ev.RelatedJob != job.ID || ev.Success == nil || *ev.Success {
			t.Fatalf("event = %+v", ev)
		}
		j := h.job(job.ID)
		if j.Status != "failed" || j.ErrorDetails != "voice quota exceeded" || j.Timestamps.Failed == nil {
			t.Fatalf("job = %+v", j)
		}
		if s := h.segment("seg-f"); s.Status != "voiceover_failed" {
			t.Fatalf("segment status = %s", s.Status)
		}
		// A late success for the same segment never moves the job back.
		_, late := h.deliver("seg-f", seedCompleted(h.src.url("late.mp3")))
		lev := h.waitEvent(late.EventID)
		if lev.Status != "ignored" || !strings.Contains(lev.ErrorDetails, "already failed") {
			t.Fatalf("late event = %+v", lev)
		}
		if j := h.job(job.ID); j.Status != "failed" {
			t.Fatalf("job moved back to %s", j.Status)
		}
		if h.src.hits.Load() != 0 {
			t.Fatalf("a late event downloaded audio")
		}
	})
}

func TestProgressChangesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store)
		job := h.createJob("seg-p", "")
		_, a := h.deliver("seg-p", []byte(`{"status":"processing"}`))
		ev := h.waitEvent(a.EventID)
		if ev.Status != "ignored" || ev.Success != nil || !ev.Processed {
			t.Fatalf("event = %+v", ev)
		}
		if j := h.job(job.ID); j.Status != "processing" {
			t.Fatalf("job = %s", j.Status)
		}
	})
}

func TestUnknownEventTypeIsIgnoredNotRejected(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store)
		code, a := h.deliver("", []byte(`{"type":"post_call_transcription","event_timestamp":1739537297,"data":{"conversation_id":"c1"}}`))
		if code != 200 || a.EventID == "" {
			t.Fatalf("ack = %d %+v", code, a)
		}
		ev := h.waitEvent(a.EventID)
		if ev.Status != "ignored" || ev.Type != "post_call_transcription" {
			t.Fatalf("event = %+v", ev)
		}
	})
}

func TestPostCallAudioBase64(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store)
		job := h.createJob("seg-conv", "conv_123")
		audio := audiotest.MP3(time.Second)
		body := fmt.Appendf(nil, `{"type":"post_call_audio","event_timestamp":"1739537297","data":{"agent_id":"a1","conversation_id":"conv_123","full_audio":%q}}`,
			base64.StdEncoding.EncodeToString(audio))
		_, a := h.deliver("", body)
		ev := h.waitEvent(a.EventID)
		if ev.Status != "succeeded" || ev.RelatedJob != job.ID {
			t.Fatalf("event = %+v", ev)
		}
		if s := h.segment("seg-conv"); s.Status != "voiceover_ready" || s.Bytes != int64(len(audio)) {
			t.Fatalf("segment = %+v", s)
		}
	})
}

func TestStudioCallbackWithToken(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		emu := elevenlabstest.Start("xi-test-key")
		t.Cleanup(emu.Close)
		snap := voicehook.StudioSnapshot{ProjectID: "proj_1", ProjectSnapshotID: "snap_1"}
		audio := audiotest.MP3(1500 * time.Millisecond)
		emu.Register(snap, audio)
		emu.FailNext(1, http.StatusServiceUnavailable) // the API hiccups once
		h := setup(t, store, func(c *config) { c.ElevenLabsAPIURL, c.ElevenLabsAPIKey = emu.URL, "xi-test-key" })
		job := h.createJob("seg-studio", "proj_1")
		body := []byte(`{"type":"project_conversion_status","event_timestamp":1739537297,"data":{"request_id":"r1","project_id":"proj_1","project_snapshot_id":"snap_1","conversion_status":"success"}}`)
		// Studio's callback_url carries no signature: the token in the
		// job's callback URL authenticates it.
		path := strings.TrimPrefix(job.CallbackURL, h.base)
		var a ack
		if code := h.do("POST", path, nil, body, &a); code != 200 {
			t.Fatalf("callback: %d %+v", code, a)
		}
		ev := h.waitEvent(a.EventID)
		if ev.Status != "succeeded" {
			t.Fatalf("event = %+v", ev)
		}
		if s := h.segment("seg-studio"); s.Status != "voiceover_ready" || s.Bytes != int64(len(audio)) {
			t.Fatalf("segment = %+v", s)
		}
		if emu.Requests() != 2 {
			t.Fatalf("studio requests = %d, want 2 (one 503, one success)", emu.Requests())
		}
		// A token for another segment does not authenticate this one.
		bad := strings.Replace(path, "segment_id=seg-studio", "segment_id=seg-other", 1)
		if code := h.do("POST", bad, nil, body, &a); code != 401 {
			t.Fatalf("token moved to another segment: %d", code)
		}
	})
}

func TestRejectedDeliveriesStoreNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store, func(c *config) { c.MaxBodyBytes = 4096; c.ElevenLabsSecret = "old_secret, " + testSecret })
		body := seedCompleted(h.src.url("x.mp3"))
		now := time.Now()
		cases := []struct {
			name, sig string
			want      int
		}{
			{"missing", "", 401},
			{"malformed", "t=abc,v0=zz", 401},
			{"wrong secret", elevenlabs.Sign("not_the_secret", now, body), 401},
			{"stale", elevenlabs.Sign(testSecret, now.Add(-31*time.Minute), body), 401},
			{"far future", elevenlabs.Sign(testSecret, now.Add(6*time.Minute), body), 401},
			{"tampered", elevenlabs.Sign(testSecret, now, append([]byte(" "), body...)), 401},
		}
		// Without a segment the signature alone must prove the delivery
		// (with one, the segment's token would).
		for _, c := range cases {
			code, a := h.deliverSigned("", body, c.sig)
			if code != c.want || a.Status != "error" || a.Message == "" {
				t.Errorf("%s: %d %+v, want %d with a message", c.name, code, a, c.want)
			}
		}
		var bad ack
		if code := h.do("POST", "/webhooks/elevenlabs?segment_id=seg-r&token=0123", nil, body, &bad); code != 401 {
			t.Errorf("bad token: %d", code)
		}
		// A genuine signed delivery cannot be moved onto a segment
		// without that segment's token.
		headers := map[string]string{elevenlabs.HeaderName: elevenlabs.Sign(testSecret, now, body)}
		if code := h.do("POST", "/webhooks/elevenlabs?segment_id=seg-r", headers, body, &bad); code != 401 || !strings.Contains(bad.Message, "callback token") {
			t.Errorf("signed delivery naming a segment without its token: %d %+v", code, bad)
		}
		big := bytes.Repeat([]byte("x"), 5000)
		if code, a := h.deliver("seg-r", big); code != 413 || !strings.Contains(a.Message, "4096") {
			t.Errorf("oversized body: %d %+v", code, a)
		}
		var list struct{ Events []eventView }
		h.do("GET", "/api/events", nil, nil, &list)
		if len(list.Events) != 0 {
			t.Fatalf("rejected deliveries were stored: %+v", list.Events)
		}
		// The rotated (first) secret is still accepted.
		if code, _ := h.deliverSigned("", body, elevenlabs.Sign("old_secret", now, body)); code != 200 {
			t.Fatalf("rotated secret: %d", code)
		}
	})
}

func TestDuplicateDeliveryProcessedOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store)
		h.createJob("seg-d", "")
		body := seedCompleted(h.src.url("d.mp3"))
		_, first := h.deliver("seg-d", body)
		_, second := h.deliver("seg-d", body)
		if !second.Duplicate || second.EventID != first.EventID || first.Duplicate {
			t.Fatalf("first %+v second %+v", first, second)
		}
		h.waitEvent(first.EventID)
		_, third := h.deliver("seg-d", body) // after processing, too
		if !third.Duplicate || third.EventID != first.EventID {
			t.Fatalf("third %+v", third)
		}
		time.Sleep(200 * time.Millisecond)
		if n := h.src.hits.Load(); n != 1 {
			t.Fatalf("audio fetched %d times, want 1", n)
		}
		var list struct{ Events []eventView }
		h.do("GET", "/api/events?segment_id=seg-d", nil, nil, &list)
		if len(list.Events) != 1 {
			t.Fatalf("%d events stored, want 1", len(list.Events))
		}
	})
}

func TestCallbackBeforeJobWaitsForIt(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store, func(c *config) { c.JobMatchGrace = time.Minute })
		_, a := h.deliver("seg-early", seedCompleted(h.src.url("e.mp3")))
		time.Sleep(1500 * time.Millisecond)
		if ev := h.event(a.EventID); ev.Status != "received" {
			t.Fatalf("event without a job = %+v, want still received (waiting)", ev)
		}
		var r ack
		if code := h.do("POST", "/api/events/"+a.EventID+"/replay", nil, nil, &r); code != 409 || r.Message == "" {
			t.Fatalf("replay of an event still waiting: %d %+v, want 409", code, r)
		}
		job := h.createJob("seg-early", "")
		ev := h.waitEvent(a.EventID)
		if ev.Status != "succeeded" || ev.RelatedJob != job.ID {
			t.Fatalf("event = %+v", ev)
		}
	})
}

func TestNoJobAfterGraceFails(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store, func(c *config) { c.JobMatchGrace = 300 * time.Millisecond })
		_, a := h.deliver("seg-none", seedCompleted(h.src.url("n.mp3")))
		ev := h.waitEvent(a.EventID)
		if ev.Status != "failed" || !strings.Contains(ev.ErrorDetails, "no matching voiceover job") {
			t.Fatalf("event = %+v", ev)
		}
	})
}

func TestTransientSourceFailuresRecover(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store)
		job := h.createJob("seg-503", "")
		h.src.failNext(503, 503)
		_, a := h.deliver("seg-503", seedCompleted(h.src.url("t.mp3")))
		ev := h.waitEvent(a.EventID)
		if ev.Status != "succeeded" || ev.Attempts != 3 {
			t.Fatalf("event = %+v, want succeeded on attempt 3", ev)
		}
		outcomes := []string{}
		for _, at := range ev.History {
			outcomes = append(outcomes, fmt.Sprintf("%s×%d", at.Outcome, at.Count))
		}
		// Two retries with the same error are one row of two.
		if diff := cmp.Diff([]string{"retry×2", "succeeded×1"}, outcomes); diff != "" {
			t.Fatalf("history (-want +got):\n%s", diff)
		}
		if !strings.Contains(ev.History[0].Error, "503") {
			t.Fatalf("first attempt error = %q", ev.History[0].Error)
		}
		if j := h.job(job.ID); j.Status != "completed" {
			t.Fatalf("job = %+v", j)
		}
	})
}

func TestPermanentFailures(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		cases := []struct {
			name   string
			setup  func(h *harness) []byte
			reason string
		}{
			{"404", func(h *harness) []byte { h.src.failNext(404); return seedCompleted(h.src.url("gone.mp3")) }, "404"},
			{"not audio", func(h *harness) []byte {
				h.src.serve([]byte("<html>hello</html>"))
				return seedCompleted(h.src.url("page.mp3"))
			}, "not audio"},
			{"too large", func(h *harness) []byte {
				h.src.serve(audiotest.MP3(30 * time.Second))
				return seedCompleted(h.src.url("big.mp3"))
			}, "larger than"},
			{"no url", func(h *harness) []byte { return []byte(`{"status":"completed","output":{}}`) }, "no audio URL"},
			{"ftp", func(h *harness) []byte { return seedCompleted("ftp://127.0.0.1/x.mp3") }, "scheme"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				h := setup(t, store, func(c *config) { c.MaxAudioBytes = 100_000 })
				job := h.createJob("seg-x", "")
				_, a := h.deliver("seg-x", c.setup(h))
				ev := h.waitEvent(a.EventID)
				if ev.Status != "failed" || ev.Attempts != 1 || !strings.Contains(ev.ErrorDetails, c.reason) {
					t.Fatalf("event = %+v, want failed at once with %q", ev, c.reason)
				}
				j := h.job(job.ID)
				if j.Status != "failed" || !strings.Contains(j.ErrorDetails, c.reason) {
					t.Fatalf("job = %+v", j)
				}
				if s := h.segment("seg-x"); s.Status != "voiceover_failed" {
					t.Fatalf("segment = %s", s.Status)
				}
			})
		}
	})
}

func TestPrivateAudioURLRefusedByDefault(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		// Only loopback is ever contacted here: the source and a redirect
		// to it are both on 127.0.0.1.
		h := setup(t, store, func(c *config) { c.FetchAllowPriv = false })
		job := h.createJob("seg-ssrf", "")
		_, a := h.deliver("seg-ssrf", seedCompleted(h.src.url("x.mp3")))
		ev := h.waitEvent(a.EventID)
		if ev.Status != "failed" || !strings.Contains(ev.ErrorDetails, "127.0.0.1") {
			t.Fatalf("event = %+v", ev)
		}
		if h.src.hits.Load() != 0 {
			t.Fatalf("the refused address was contacted")
		}
		if j := h.job(job.ID); j.Status != "failed" {
			t.Fatalf("job = %+v", j)
		}
	})
}

func TestDeadAfterMaxAttemptsThenReplay(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store, func(c *config) { c.MaxAttempts = 3 })
		job := h.createJob("seg-dead", "")
		h.src.failNext(500, 502, 503)
		_, a := h.deliver("seg-dead", seedCompleted(h.src.url("dead.mp3")))
		ev := h.waitEvent(a.EventID)
		if ev.Status != "dead" || ev.Attempts != 3 || !strings.Contains(ev.ErrorDetails, "gave up after 3 attempts") {
			t.Fatalf("event = %+v", ev)
		}
		if j := h.job(job.ID); j.Status != "processing" {
			t.Fatalf("job after dead event = %s, want still processing", j.Status)
		}
		var dead struct{ Events []eventView }
		h.do("GET", "/api/events?status=dead", nil, nil, &dead)
		if len(dead.Events) != 1 || dead.Events[0].ID != a.EventID {
			t.Fatalf("dead list = %+v", dead.Events)
		}
		var r map[string]string
		if code := h.do("POST", "/api/events/"+a.EventID+"/replay", nil, nil, &r); code != http.StatusAccepted {
			t.Fatalf("replay: %d %v", code, r)
		}
		ev = h.waitEvent(a.EventID)
		if ev.Status != "succeeded" || ev.Attempts != 4 {
			t.Fatalf("replayed event = %+v", ev)
		}
		if j := h.job(job.ID); j.Status != "completed" {
			t.Fatalf("job = %+v", j)
		}
		if code := h.do("POST", "/api/events/evt_nope/replay", nil, nil, &r); code != http.StatusNotFound {
			t.Fatalf("replay unknown: %d", code)
		}
	})
}

func TestMalformedSignedBodyIsStoredAndFailed(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store)
		code, a := h.deliver("seg-m", []byte(`{"status": "completed", "output": `))
		if code != 200 {
			t.Fatalf("ack = %d %+v", code, a)
		}
		ev := h.waitEvent(a.EventID)
		if ev.Status != "failed" || !strings.Contains(ev.ErrorDetails, "malformed") {
			t.Fatalf("event = %+v", ev)
		}
	})
}

func TestAPIErrorsAndAccess(t *testing.T) {
	h := setup(t, "sqlite", func(c *config) { c.AdminToken = "s3cret-admin" })
	var e ack
	if code := h.do("GET", "/api/events", nil, nil, &e); code != 401 || e.Message == "" {
		t.Fatalf("no token: %d %+v", code, e)
	}
	auth := map[string]string{"Authorization": "Bearer s3cret-admin"}
	if code := h.do("GET", "/api/events", auth, nil, nil); code != 200 {
		t.Fatalf("with token: %d", code)
	}
	cases := []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/jobs", `{"type":"voiceover_generation"}`, 400},
		{"POST", "/api/jobs", `{"segment_id":"s","type":"thumbnail"}`, 400},
		{"POST", "/api/jobs", `not json`, 400},
		{"GET", "/api/jobs/job_missing", "", 404},
		{"GET", "/api/segments/nope", "", 404},
		{"GET", "/api/events/evt_missing", "", 404},
		{"GET", "/api/events?limit=0", "", 400},
		{"GET", "/api/events?since=yesterday", "", 400},
	}
	for _, c := range cases {
		var reply ack
		if code := h.do(c.method, c.path, auth, []byte(c.body), &reply); code != c.want || reply.Status != "error" || reply.Message == "" {
			t.Errorf("%s %s %s: %d %+v, want %d with a message", c.method, c.path, c.body, code, reply, c.want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := h.do("GET", path, nil, nil, nil); code != 200 {
			t.Errorf("%s: %d", path, code)
		}
	}
	// With --admin-token, /metrics wants it too (any case of "Bearer").
	if resp, err := http.Get(h.base + "/metrics"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("/metrics without the token: %v %v, want 401", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", h.base+"/metrics", nil)
	req.Header.Set("Authorization", "bearer s3cret-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m bytes.Buffer
	_, _ = m.ReadFrom(resp.Body)
	if !strings.Contains(m.String(), "voicehook_deliveries_total") && !strings.Contains(m.String(), "go_goroutines") {
		t.Fatalf("metrics missing: %.200s", m.String())
	}
	if _, err := os.Stat(filepath.Join(h.dir, "voicehook.db")); err != nil {
		t.Fatalf("no SQLite file in the data dir: %v", err)
	}
}
