package main

import (
	"strings"
	"testing"

	"github.com/voicehook/voicehook/airtable/airtabletest"
)

// TestAirtablePaceOnOverview: Airtable answers 429 twice in a row (the base
// shared with the user's own scripts): voicehook halves its request rate,
// still processes the event, and the overview page says so.
func TestAirtablePaceOnOverview(t *testing.T) {
	t.Parallel()
	emu, useAirtable := airtableBase(t, airtabletest.Options{})
	h := setup(t, "sqlite", useAirtable)
	if page := string(getLoopback(t, h.base+"/", 200)); !strings.Contains(page, `<div class="card" id="records-pace"><span class="num">4/s</span><span class="label">Airtable requests</span>`) {
		t.Fatalf("overview at full rate lacks the Airtable card:\n%s", page)
	}
	seg := airtableSegment(t, emu, "Scene 17")
	h.createJob(seg, "")
	emu.FailNext(2, 429)
	_, a := h.deliver(seg, seedCompleted(h.src.url("r.mp3")))
	if ev := h.waitEvent(a.EventID); ev.Status != "succeeded" {
		t.Fatalf("event = %+v", ev)
	}
	page := string(getLoopback(t, h.base+"/", 200))
	for _, want := range []string{`<div class="card card-warn" id="records-pace"`, `<span class="num">2/s</span>`,
		"Airtable requests, lowered from 4/s", "lowered after Airtable answered 429 (rate limit) 2 times"} {
		if !strings.Contains(page, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
}
