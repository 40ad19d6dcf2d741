package main

import (
	"strings"
	"testing"
)

// TestStorageNCABucketWithoutACLs: NCA's bucket has ACLs disabled, so
// every upload answers 500. The event fails at its first attempt, saying
// which bucket setting to change, instead of being retried until dead.
func TestStorageNCABucketWithoutACLs(t *testing.T) {
	eachBackend(t, []string{"nca"}, func(t *testing.T, store string, be *storageBackend) {
		be.nca.SetACLsDisabled(true)
		h := setup(t, store, be.mutate)
		h.createJob("seg-acl", "")
		code, a := h.deliver("seg-acl", seedCompleted(h.src.url("a.mp3")))
		if code != 200 {
			t.Fatalf("ack = %d %+v", code, a)
		}
		ev := h.waitEvent(a.EventID)
		if ev.Status != "failed" || ev.Attempts != 1 || !strings.Contains(ev.ErrorDetails, `Object Ownership is "Bucket owner enforced"`) {
			t.Fatalf("event = %s after %d attempts (%q), want failed at once naming the bucket setting", ev.Status, ev.Attempts, ev.ErrorDetails)
		}
		if seg := h.segment("seg-acl"); seg.Status == "voiceover_ready" {
			t.Fatalf("segment = %+v", seg)
		}
	})
}
