package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
)

// TestEventPageCollapsesAndRetries: the event page shows repeated attempts
// as one row with a count, says when a replay would change nothing, and its
// Retry segment button creates a new job and replays the event.
func TestEventPageCollapsesAndRetries(t *testing.T) {
	t.Parallel()
	a := newStoreAPI(t)
	old := a.createJob("seg-p", "")
	evt := a.event("seg-p", completedPayload, a.clock.Advance(time.Second), nil)
	for range 3 {
		a.attempt(evt, voicehook.AttemptRetry, "fetching audio: HTTP 503", nil)
	}
	a.finishJob(old, voicehook.Failed("gave up", a.clock.Advance(time.Second)))
	a.attempt(evt, voicehook.AttemptDead, "gave up after 4 attempts", &voicehook.EventFinish{Status: voicehook.EventDead, RelatedJob: old.ID, ErrorDetails: "gave up after 4 attempts"})

	code, page := a.do("GET", "/events/"+evt, "")
	if code != http.StatusOK {
		t.Fatalf("event page: %d", code)
	}
	rows := strings.Count(page[strings.Index(page, `id="attempts"`):], "<tr")
	if rows != 3 { // the header, the three retries as one, the dead attempt
		t.Errorf("attempt table has %d rows (header included); want 3", rows)
	}
	for _, want := range []string{"1–3", "×3", `id="retry-segment"`, `id="replay-note"`, "already failed", `href="/jobs/` + old.ID + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("event page lacks %q", want)
		}
	}

	// Retry segment: a new job, the event replayed, a notice naming the job.
	form := url.Values{"csrf_token": {csrfFrom(t, page)}}
	r := httptest.NewRequest("POST", "/events/"+evt+"/retry-segment", strings.NewReader(form.Encode()))
	r.RemoteAddr, r.Host = "127.0.0.1:40000", "localhost:8080"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("retry segment: %d %s", w.Code, w.Body.String())
	}
	loc, _ := url.Parse(w.Header().Get("Location"))
	newJob := loc.Query().Get("job")
	if loc.Path != "/events/"+evt || loc.Query().Get("msg") != "retried" || newJob == "" || newJob == old.ID {
		t.Fatalf("redirected to %s; want the event page naming the new job", loc)
	}
	if j := a.job(newJob); j.Status != voicehook.JobProcessing || j.SegmentID != "seg-p" {
		t.Errorf("new job %+v; want processing for seg-p", j)
	}
	if st := a.eventStatus(evt); st != voicehook.EventReceived {
		t.Errorf("event %s; want received (replayed)", st)
	}
	_, page = a.do("GET", loc.String(), "")
	if !strings.Contains(page, "Created "+newJob+" for this segment") {
		t.Errorf("no notice naming %s after the retry", newJob)
	}
	// A crafted link cannot make the notice say what it likes.
	_, page = a.do("GET", "/events/"+evt+"?msg=retried&job=%3Cb%3Eyou+won", "")
	if strings.Contains(page, "you won") || !strings.Contains(page, "Created a new job") {
		t.Errorf("a crafted job name reached the notice")
	}
}
