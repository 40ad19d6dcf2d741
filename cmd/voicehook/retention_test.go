package main

import (
	"net/http"
	"testing"
	"time"
)

// With --event-retention, a finished event is deleted once it has not
// changed for the retention; its job and segment stay. (That an event still
// waiting is never deleted is in the store suite, TestPurgeEvents.)
func TestEventRetentionPurgesFinishedEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		h := setup(t, store, func(c *config) {
			c.JobMatchGrace = 500 * time.Millisecond
			c.EventRetention = 500 * time.Millisecond
			c.retentionEvery = 50 * time.Millisecond
		})
		job := h.createJob("seg-r", "")
		_, a := h.deliver("seg-r", seedCompleted(h.src.url("r.mp3")))
		if ev := h.waitEvent(a.EventID); ev.Status != "succeeded" {
			t.Fatalf("event = %+v", ev)
		}
		finished := time.Now()
		deadline := finished.Add(10 * time.Second)
		for h.do("GET", "/api/events/"+a.EventID, nil, nil, nil) != http.StatusNotFound {
			if time.Now().After(deadline) {
				t.Fatalf("finished event %s still there 10s after its retention", a.EventID)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if age := time.Since(finished); age < 400*time.Millisecond {
			t.Errorf("event deleted %s after it finished, before its 500ms retention", age)
		}
		if j := h.job(job.ID); j.Status != "completed" {
			t.Errorf("job after purge = %+v, want completed", j)
		}
		if s := h.segment("seg-r"); s.Status != "voiceover_ready" {
			t.Errorf("segment after purge = %+v, want voiceover_ready", s)
		}
	})
}
