package airtable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/voicehooktest"
)

func testEvent(id, jobID string, success bool) voicehook.Event {
	return voicehook.Event{
		ID: id, Service: voicehook.ServiceElevenLabs, Endpoint: "/webhooks/elevenlabs",
		RawPayload: json.RawMessage(`{"status":"completed","output":{"url":"https://x/a.mp3"}}`),
		ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 123, time.UTC), Status: voicehook.EventSucceeded,
		Processed: true, Success: &success, RelatedJob: jobID, UpdatedAt: time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC),
	}
}

func eventRecords(emu *airtabletest.Server, id string) []airtabletest.Record {
	var out []airtabletest.Record
	for _, r := range emu.Records("Webhook Events") {
		if r.Fields["Event ID"] == id {
			out = append(out, r)
		}
	}
	return out
}

func TestMirrorEvent(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	_, job := segmentWithJob(t, emu, "scene 1")
	ctx := context.Background()
	ev := testEvent("evt_1", job, true)
	if err := r.MirrorEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	recs := eventRecords(emu, "evt_1")
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	want := map[string]any{
		"Event ID": "evt_1", "Service": "ElevenLabs", "Endpoint": "/webhooks/elevenlabs", "Raw Payload": string(ev.RawPayload),
		"Processed": true, "Success": true, "Timestamp": "2025-03-01T12:00:00.000Z", "Related Job": []string{job},
	}
	if diff := cmp.Diff(want, recs[0].Fields); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	if jobRec, _ := emu.Record("Jobs", job); !cmp.Equal(jobRec.Fields["Webhook Events"], []string{recs[0].ID}) {
		t.Errorf("the job's inverse link lists %v", jobRec.Fields["Webhook Events"])
	}

	// The same state again sends nothing; a new state updates the record.
	emu.ResetRequests()
	if err := r.MirrorEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n := emu.TotalRequests(); n != 0 {
		t.Errorf("re-mirroring an unchanged event sent %d requests", n)
	}
	failed := testEvent("evt_1", job, false)
	failed.ErrorDetails, failed.UpdatedAt = "audio was not audio", failed.UpdatedAt.Add(time.Second)
	if err := r.MirrorEvent(ctx, failed); err != nil {
		t.Fatal(err)
	}
	recs = eventRecords(emu, "evt_1")
	if len(recs) != 1 || recs[0].Fields["Success"] != nil || recs[0].Fields["Error Details"] != "audio was not audio" {
		t.Errorf("after an update: %+v", recs)
	}
	if diff := cmp.Diff(map[string]int{"PATCH Webhook Events": 1}, emu.Requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestMirrorAfterRestart: a new process (empty memory) finds the record by
// {Event ID} and updates it.
func TestMirrorAfterRestart(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	ctx := context.Background()
	ev := testEvent("evt_'quoted'\\", "", true)
	if err := newRecords(t, testConfig(emu, nil)).MirrorEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ev.ErrorDetails = "replayed"
	if err := newRecords(t, testConfig(emu, nil)).MirrorEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	recs := eventRecords(emu, ev.ID)
	if len(recs) != 1 || recs[0].Fields["Error Details"] != "replayed" {
		t.Errorf("records %+v, want one, updated", recs)
	}
}

// TestMirrorLostReply: the write happened but its reply was lost. The
// write is an upsert on the event id, so it is safe to repeat: the client's
// own retry, or when those are spent the catch-up, finds the record
// instead of making a second.
func TestMirrorLostReply(t *testing.T) {
	t.Parallel()
	for _, lost := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d lost", lost), func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t, airtabletest.Options{})
			r := newRecords(t, testConfig(emu, nil))
			emu.FailAfterWrite(lost, 500)
			ev := testEvent("evt_lost", "", true)
			err := r.MirrorEvent(context.Background(), ev)
			if lost == 1 && err != nil {
				t.Fatalf("err = %v, want the retry to succeed", err)
			}
			if lost == 3 && (err == nil || voicehook.IsPermanent(err)) {
				t.Fatalf("err = %v after the write and both retries lost their replies, want a transient error", err)
			}
			waitFor(t, "the catch-up", func() bool { return r.PendingMirrors() == 0 })
			if n := len(eventRecords(emu, ev.ID)); n != 1 {
				t.Errorf("%d records, want 1", n)
			}
			if n := emu.Requests()["GET Webhook Events"]; n != 0 {
				t.Errorf("%d lookups of the mirror, want none", n)
			}
		})
	}
}

// TestMirrorCatchesUp: during an outage mirror writes fail and are kept;
// afterwards the catch-up loop writes each event once, in shared requests.
func TestMirrorCatchesUp(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	emu.FailNext(1000, 503)
	var wg sync.WaitGroup
	ids := []string{"evt_a", "evt_b", "evt_c", "evt_d", "evt_e"}
	for _, id := range ids {
		wg.Go(func() {
			if err := r.MirrorEvent(context.Background(), testEvent(id, "", true)); err == nil {
				t.Errorf("%s: mirrored during the outage", id)
			}
		})
	}
	wg.Wait()
	if n := r.PendingMirrors(); n != len(ids) {
		t.Fatalf("%d pending, want %d", n, len(ids))
	}
	emu.ClearFailures() // Airtable is back
	waitFor(t, "the catch-up", func() bool { return r.PendingMirrors() == 0 })
	for _, id := range ids {
		if n := len(eventRecords(emu, id)); n != 1 {
			t.Errorf("%s: %d records, want 1", id, n)
		}
	}
}

// TestMirrorSilence: a 429 silences the base; the backlog waits for the
// end of the silence (fake clock) and is then written.
func TestMirrorSilence(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	clock := voicehooktest.NewClock()
	r := newRecords(t, testConfig(emu, clock))
	emu.FailNext(1, 429)
	if err := r.MirrorEvent(context.Background(), testEvent("evt_1", "", true)); err == nil {
		t.Fatal("want the 429")
	}
	sent := emu.TotalRequests()
	time.Sleep(100 * time.Millisecond) // several catch-up ticks
	if got := emu.TotalRequests(); got != sent || r.PendingMirrors() != 1 {
		t.Fatalf("during the silence: %d requests, %d pending; want none sent, 1 pending", got-sent, r.PendingMirrors())
	}
	clock.Advance(34 * time.Second)
	waitFor(t, "the catch-up", func() bool { return r.PendingMirrors() == 0 })
	if n := len(eventRecords(emu, "evt_1")); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
}

// TestMirrorDeletedRecord: a record the user deleted is made again.
func TestMirrorDeletedRecord(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	ctx := context.Background()
	ev := testEvent("evt_1", "", true)
	if err := r.MirrorEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	emu.Delete("Webhook Events", eventRecords(emu, "evt_1")[0].ID)
	ev.ErrorDetails = "changed"
	if err := r.MirrorEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n := len(eventRecords(emu, "evt_1")); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
}

// TestMirrorBadEventAlone: Airtable refuses a whole request for one bad
// record; the others in the batch are still written, and only the bad
// one's caller sees the (permanent) error.
func TestMirrorBadEventAlone(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	cfg := testConfig(emu, nil)
	cfg.BatchWindow = 200 * time.Millisecond
	r := newRecords(t, cfg)
	bad := testEvent("evt_bad", "recAAAAAAAAAAAAAA", true) // a job that does not exist
	good := testEvent("evt_good", "", true)
	errs := make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ev := range []voicehook.Event{bad, good} {
		wg.Go(func() {
			err := r.MirrorEvent(context.Background(), ev)
			mu.Lock()
			errs[ev.ID] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	if errs["evt_good"] != nil {
		t.Errorf("good event: %v", errs["evt_good"])
	}
	var ae *APIError
	if !voicehook.IsPermanent(errs["evt_bad"]) || !errors.As(errs["evt_bad"], &ae) || ae.Type != "ROW_DOES_NOT_EXIST" {
		t.Errorf("bad event: %v, want a permanent ROW_DOES_NOT_EXIST", errs["evt_bad"])
	}
	if r.PendingMirrors() != 0 {
		t.Error("a permanent failure must not wait for a retry")
	}
}

func TestMirrorLargePayload(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	r := newRecords(t, testConfig(emu, nil))
	ev := testEvent("evt_big", "", true)
	ev.RawPayload = json.RawMessage(`{"type":"post_call_audio","data":{"full_audio":"` + strings.Repeat("ü", 200000) + `"}}`)
	if err := r.MirrorEvent(context.Background(), ev); err != nil {
		t.Fatal(err) // the emulator refuses cells over 100,000 characters
	}
	cell := eventRecords(emu, "evt_big")[0].Fields["Raw Payload"].(string)
	if !strings.HasPrefix(cell, `{"type":"post_call_audio"`) || !strings.Contains(cell, "[cut by voicehook") {
		t.Errorf("cell starts %q, ends %q", cell[:30], cell[len(cell)-80:])
	}
}
