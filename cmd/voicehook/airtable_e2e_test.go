package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/airtable/airtabletest"
)

// The seed's test strategy, "verify all data is correctly updated in
// Airtable", end to end: the real server with --records airtable against
// the Airtable emulator (127.0.0.1, the seed's tables, Airtable's limit of
// 5 requests per second and its 30 s penalty). The pipeline makes a
// segment in Airtable, asks voicehook for a job (which makes the Jobs
// record), and ElevenLabs calls back.

// airtableBase starts the user's base and returns the mutation that points
// the server at it. It is started before the server, so it outlives it
// (cleanups run last first) and the server's shutdown can flush to it.
func airtableBase(t *testing.T, opts airtabletest.Options) (*airtabletest.Server, func(*config)) {
	t.Helper()
	emu := airtabletest.New(opts)
	t.Cleanup(emu.Close)
	return emu, func(c *config) {
		c.Records = "airtable"
		c.Airtable.Token, c.Airtable.Base, c.Airtable.APIURL = emu.Token, emu.Base, emu.URL
		// Airtable's 30 s of silence after a 429, shortened for the test.
		c.Airtable.Silence = 300 * time.Millisecond
		c.Airtable.RetryBackoff = 20 * time.Millisecond
		c.Airtable.MirrorRetry = 50 * time.Millisecond
	}
}

// airtableSegment makes a segment in the Segments table, as the user's
// pipeline does before it asks for a voiceover.
func airtableSegment(t *testing.T, emu *airtabletest.Server, name string) string {
	t.Helper()
	id, err := emu.Insert("Segments", map[string]any{"Name": name, "Status": "pending"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func record(t *testing.T, emu *airtabletest.Server, table, id string) map[string]any {
	t.Helper()
	rec, ok := emu.Record(table, id)
	if !ok {
		t.Fatalf("no %s record %s", table, id)
	}
	return rec.Fields
}

// mirrorRecords are the Webhook Events records of an event.
func mirrorRecords(emu *airtabletest.Server, eventID string) []airtabletest.Record {
	var out []airtabletest.Record
	for _, r := range emu.Records("Webhook Events") {
		if r.Fields["Event ID"] == eventID {
			out = append(out, r)
		}
	}
	return out
}

// waitMirror waits for the event's processed mirror record and returns
// its fields, failing if there is ever more than one.
func waitMirror(t *testing.T, emu *airtabletest.Server, eventID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs := mirrorRecords(emu, eventID)
		if len(recs) > 1 {
			t.Fatalf("%d Webhook Events records for event %s, want 1", len(recs), eventID)
		}
		if len(recs) == 1 && recs[0].Fields["Processed"] == true {
			return recs[0].Fields
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s not mirrored after 20s: %+v", eventID, recs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// timestamps decodes a Jobs record's Timestamps cell.
func timestamps(t *testing.T, fields map[string]any) map[string]time.Time {
	t.Helper()
	var raw map[string]string
	if err := json.Unmarshal([]byte(fmt.Sprint(fields["Timestamps"])), &raw); err != nil {
		t.Fatalf("Timestamps %q: %v", fields["Timestamps"], err)
	}
	out := map[string]time.Time{}
	for k, v := range raw {
		tm, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			t.Fatalf("Timestamps.%s %q: %v", k, v, err)
		}
		out[k] = tm
	}
	return out
}

func TestAirtableCompleted(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		emu, useAirtable := airtableBase(t, airtabletest.Options{})
		h := setup(t, store, useAirtable)
		seg := airtableSegment(t, emu, "Scene 12")

		job := h.createJob(seg, "")
		if job.Status != "processing" || job.SegmentID != seg || !strings.HasPrefix(job.ID, "rec") {
			t.Fatalf("new job = %+v", job)
		}
		jobRec := record(t, emu, "Jobs", job.ID)
		if diff := cmp.Diff([]any{"processing", "voiceover_generation", []string{seg}},
			[]any{jobRec["Status"], jobRec["Type"], jobRec["Related Segment"]}); diff != "" {
			t.Fatalf("Jobs record (-want +got):\n%s", diff)
		}
		if _, ok := timestamps(t, jobRec)["created"]; !ok {
			t.Fatalf("Timestamps without created: %v", jobRec["Timestamps"])
		}

		body := seedCompleted(h.src.url("a.mp3"))
		code, a := h.deliver(seg, body)
		if code != 200 || a.Status != "accepted" {
			t.Fatalf("ack = %d %+v", code, a)
		}
		if ev := h.waitEvent(a.EventID); ev.Status != "succeeded" || ev.RelatedJob != job.ID {
			t.Fatalf("event = %+v", ev)
		}

		// Segments: the voiceover and its status; nothing else touched.
		segRec := record(t, emu, "Segments", seg)
		voiceover, _ := segRec["Voiceover"].(string)
		want := map[string]any{"Name": "Scene 12", "Status": "voiceover_ready", "Voiceover": voiceover, "Jobs": []string{job.ID}}
		if diff := cmp.Diff(want, segRec); diff != "" || !strings.HasPrefix(voiceover, h.base+"/media/segments/"+seg+"/") {
			t.Fatalf("Segments record (-want +got):\n%s\nvoiceover %q", diff, voiceover)
		}
		if got := getLoopback(t, voiceover, http.StatusOK); len(got) != len(h.src.body) {
			t.Fatalf("the voiceover serves %d bytes, want %d", len(got), len(h.src.body))
		}

		// Jobs: completed, the creation time kept.
		jobRec = record(t, emu, "Jobs", job.ID)
		ts := timestamps(t, jobRec)
		if jobRec["Status"] != "completed" || ts["completed"].IsZero() || ts["created"].IsZero() || ts["completed"].Before(ts["created"]) ||
			jobRec["Error Details"] != nil {
			t.Fatalf("Jobs record = %v", jobRec)
		}

		// Webhook Events: the seed's fields.
		mirror := waitMirror(t, emu, a.EventID)
		received, err := time.Parse(time.RFC3339, fmt.Sprint(mirror["Timestamp"]))
		if err != nil || time.Since(received) > time.Minute {
			t.Fatalf("Timestamp %v: %v", mirror["Timestamp"], err)
		}
		wantMirror := map[string]any{"Event ID": a.EventID, "Service": "ElevenLabs", "Endpoint": "/webhooks/elevenlabs",
			"Raw Payload": string(body), "Processed": true, "Success": true, "Related Job": []string{job.ID}, "Timestamp": mirror["Timestamp"]}
		if diff := cmp.Diff(wantMirror, mirror); diff != "" {
			t.Fatalf("Webhook Events record (-want +got):\n%s", diff)
		}

		// The API reads the same records.
		if j := h.job(job.ID); j.Status != "completed" || j.Timestamps.Completed == nil {
			t.Fatalf("GET job = %+v", j)
		}
		if s := h.segment(seg); s.Status != "voiceover_ready" || s.Voiceover != voiceover || len(s.Jobs) != 1 {
			t.Fatalf("GET segment = %+v", s)
		}
	})
}

func TestAirtableFailed(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		emu, useAirtable := airtableBase(t, airtabletest.Options{})
		h := setup(t, store, useAirtable)
		seg := airtableSegment(t, emu, "Scene 13")
		job := h.createJob(seg, "")
		_, a := h.deliver(seg, []byte(`{"status":"failed","error":{"message":"voice quota exceeded"}}`))
		if ev := h.waitEvent(a.EventID); ev.Status != "failed" {
			t.Fatalf("event = %+v", ev)
		}
		segRec := record(t, emu, "Segments", seg)
		if segRec["Status"] != "voiceover_failed" || segRec["Voiceover"] != nil {
			t.Fatalf("Segments record = %v", segRec)
		}
		jobRec := record(t, emu, "Jobs", job.ID)
		if jobRec["Status"] != "failed" || jobRec["Error Details"] != "voice quota exceeded" || timestamps(t, jobRec)["failed"].IsZero() {
			t.Fatalf("Jobs record = %v", jobRec)
		}
		mirror := waitMirror(t, emu, a.EventID)
		// An unchecked checkbox is absent on read: Success false.
		if diff := cmp.Diff([]any{true, nil, "voice quota exceeded", []string{job.ID}},
			[]any{mirror["Processed"], mirror["Success"], mirror["Error Details"], mirror["Related Job"]}); diff != "" {
			t.Fatalf("Webhook Events record (-want +got):\n%s", diff)
		}
	})
}

func TestAirtableDuplicateDelivery(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		emu, useAirtable := airtableBase(t, airtabletest.Options{})
		h := setup(t, store, useAirtable)
		seg := airtableSegment(t, emu, "Scene 14")
		job := h.createJob(seg, "")
		body := seedCompleted(h.src.url("d.mp3"))
		_, first := h.deliver(seg, body)
		_, second := h.deliver(seg, body)
		if !second.Duplicate || second.EventID != first.EventID {
			t.Fatalf("first %+v second %+v", first, second)
		}
		h.waitEvent(first.EventID)
		waitMirror(t, emu, first.EventID)
		if _, third := h.deliver(seg, body); !third.Duplicate {
			t.Fatalf("third %+v", third)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(emu.Records("Webhook Events")); n != 1 {
			t.Fatalf("%d Webhook Events records, want 1", n)
		}
		if n := len(emu.Records("Jobs")); n != 1 {
			t.Fatalf("%d Jobs records, want 1", n)
		}
		if ts := timestamps(t, record(t, emu, "Jobs", job.ID)); len(ts) != 2 {
			t.Fatalf("Timestamps %v, want created and completed once", ts)
		}
		if n := h.src.hits.Load(); n != 1 {
			t.Fatalf("audio fetched %d times, want 1", n)
		}
	})
}

// TestAirtableOutage: Airtable down (503, a proxy's 502 page), rate
// limiting (429), and replies lost after the write happened. Webhooks are
// still acknowledged at once (the local inbox holds them), processing
// retries, the mirror catches up, and nothing is written twice.
func TestAirtableOutage(t *testing.T) {
	cases := []struct {
		name   string
		inject func(emu *airtabletest.Server)
	}{
		{"down", func(emu *airtabletest.Server) { emu.FailNext(6, 503); emu.FailNext(2, 502) }},
		{"rate limited", func(emu *airtabletest.Server) { emu.FailNext(1, 429) }},
		{"lost replies", func(emu *airtabletest.Server) {
			emu.FailAfterWriteOn("PATCH Segments", 1, 500)
			emu.FailAfterWriteOn("PATCH Jobs", 3, 502) // the write and both retries: the attempt fails
			emu.FailAfterWriteOn("POST Webhook Events", 1, 500)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, store string) {
				emu, useAirtable := airtableBase(t, airtabletest.Options{})
				h := setup(t, store, useAirtable)
				seg := airtableSegment(t, emu, "Scene 15")
				job := h.createJob(seg, "")
				tc.inject(emu)
				start := time.Now()
				code, a := h.deliver(seg, seedCompleted(h.src.url("o.mp3")))
				if code != 200 || a.Status != "accepted" || time.Since(start) > 2*time.Second {
					t.Fatalf("ack = %d %+v after %v; want 200 at once", code, a, time.Since(start))
				}
				ev := h.waitEvent(a.EventID)
				if ev.Status != "succeeded" {
					t.Fatalf("event = %+v", ev)
				}
				mirror := waitMirror(t, emu, a.EventID)
				if mirror["Success"] != true || !cmp.Equal(mirror["Related Job"], []string{job.ID}) {
					t.Fatalf("Webhook Events record = %v", mirror)
				}
				if r := record(t, emu, "Jobs", job.ID); r["Status"] != "completed" || len(timestamps(t, r)) != 2 {
					t.Fatalf("Jobs record = %v", r)
				}
				if r := record(t, emu, "Segments", seg); r["Status"] != "voiceover_ready" {
					t.Fatalf("Segments record = %v", r)
				}
				if n, m := len(emu.Records("Jobs")), len(emu.Records("Webhook Events")); n != 1 || m != 1 {
					t.Fatalf("%d Jobs and %d Webhook Events records, want 1 and 1", n, m)
				}
			})
		})
	}
}

func TestAirtableCreateJobNeedsSegment(t *testing.T) {
	emu, useAirtable := airtableBase(t, airtabletest.Options{})
	h := setup(t, "sqlite", useAirtable)
	body := []byte(`{"segment_id":"recAAAAAAAAAAAAAA","type":"voiceover_generation"}`)
	var reply ack
	if code := h.do("POST", "/api/jobs", nil, body, &reply); code != http.StatusUnprocessableEntity || !strings.Contains(reply.Message, "create the segment there first") {
		t.Fatalf("job for a segment not in Airtable: %d %+v, want 422 saying what to fix", code, reply)
	}
	if n := len(emu.Records("Jobs")); n != 0 {
		t.Fatalf("%d Jobs records created", n)
	}
}

func TestDoctorAirtable(t *testing.T) {
	t.Parallel()
	args := func(emu *airtabletest.Server, dir string, extra ...string) []string {
		return append([]string{"--data-dir", dir, "--records", "airtable", "--airtable-token", emu.Token,
			"--airtable-base", emu.Base, "--airtable-api-url", emu.URL, "--elevenlabs-secret", testSecret}, extra...)
	}
	t.Run("seed base", func(t *testing.T) {
		t.Parallel()
		emu := airtabletest.New(airtabletest.Options{})
		t.Cleanup(emu.Close)
		lines, _, err := doctorRun(t, args(emu, t.TempDir())...)
		// Then the secret's line and the public URL's warning.
		if err != nil || len(lines) != 5 || !strings.HasPrefix(lines[2], "ok   records airtable: base "+emu.Base+": tables \"Jobs\", \"Segments\" and \"Webhook Events\"") {
			t.Fatalf("doctor = %v\n%s", err, strings.Join(lines, "\n"))
		}
	})
	t.Run("missing field", func(t *testing.T) {
		t.Parallel()
		schema := airtabletest.SeedSchema().WithoutField("Jobs", "Error Details")
		emu := airtabletest.New(airtabletest.Options{Schema: &schema})
		t.Cleanup(emu.Close)
		lines, _, err := doctorRun(t, args(emu, t.TempDir())...)
		want := `FAIL records airtable: table "Jobs" has no field "Error Details": add it or set --airtable-field-error-details`
		if err == nil || err.Error() != "doctor: 1 of 5 checks failed" || len(lines) != 5 || lines[2] != want {
			t.Fatalf("doctor = %v\n%s\nwant line %s", err, strings.Join(lines, "\n"), want)
		}
	})
	t.Run("renamed field, without schema access", func(t *testing.T) {
		t.Parallel()
		emu := airtabletest.New(airtabletest.Options{NoSchemaScope: true})
		t.Cleanup(emu.Close)
		lines, _, err := doctorRun(t, args(emu, t.TempDir(), "--airtable-field-voiceover", "Audio")...)
		if err == nil || len(lines) != 5 || !strings.Contains(lines[2], `table "Segments" has no field "Audio": add it or set --airtable-field-voiceover`) {
			t.Fatalf("doctor = %v\n%s", err, strings.Join(lines, "\n"))
		}
	})
	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		lines, _, err := doctorRun(t, "--data-dir", t.TempDir(), "--records", "airtable")
		out := strings.Join(lines, "\n")
		if err == nil || !strings.Contains(out, "--records airtable needs --airtable-token") || !strings.Contains(out, "--records airtable needs --airtable-base") {
			t.Fatalf("doctor = %v\n%s", err, out)
		}
	})
}
