package web

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
)

func isNotFound(err error) bool { return errors.Is(err, voicehook.ErrNotFound) }

// knownTypes are offered as suggestions in the events filter.
var knownTypes = []string{"speech.completed", "post_call_audio", "post_call_transcription", "project_conversion_status",
	"chapter_conversion_status", "status:completed", "status:failed", "unknown"}

// flash turns the msg query parameter a POST redirected with into a notice.
// Only fixed texts and numbers are shown, never text from the URL.
// jobIDShape is what voicehook's job ids look like.
var jobIDShape = regexp.MustCompile(`^job_[0-9a-f-]{1,64}$`)

func flash(q url.Values) *notice {
	n := func(name string) int {
		v, err := strconv.Atoi(q.Get(name))
		if err != nil || v < 0 {
			return 0
		}
		return v
	}
	switch q.Get("msg") {
	case "replaying":
		return &notice{"ok", "Replay requested: the event is queued again. Reload to follow it."}
	case "retried":
		job := q.Get("job")
		if !jobIDShape.MatchString(job) {
			job = "a new job" // a crafted link says nothing it chose
		}
		return &notice{"ok", "Created " + job + " for this segment and replayed the event. Reload to follow it."}
	case "unchanged":
		return &notice{"warn", "Replay requested, but it changes nothing: the job is already finished. Use Retry segment to create a new job and replay in one step."}
	case "in_progress":
		return &notice{"warn", "This event is still being processed, so there is nothing to replay yet. Replay it once it has finished."}
	case "replayed_all":
		text := plural(n("n"), "dead event", "dead events") + " queued again."
		if s := n("skipped"); s == 1 {
			text += " 1 was skipped: already being processed again, or gone."
		} else if s > 1 {
			text += " " + strconv.Itoa(s) + " were skipped: already being processed again, or gone."
		}
		return &notice{"ok", text}
	case "replay_stopped":
		verb := " were"
		if n("n") == 1 {
			verb = " was"
		}
		return &notice{"error", plural(n("n"), "event", "events") + verb + " queued again, then the store stopped answering. Try again in a moment."}
	}
	return nil
}

// ----------------------------------------------------------------- overview

type statusRow struct {
	Status          voicehook.EventStatus
	Hour, Day       int
	HourURL, DayURL string
}

type overviewData struct {
	O              voicehook.Overview
	Charts         chartsData
	Rows           []statusRow
	HourTotal      int
	DayTotal       int
	ProcessingJobs string
	OldestAge      time.Duration
	Recent         []eventRow
	// Characters is what ElevenLabs billed for generations in the last
	// 24 hours; -1 when this server generates nothing.
	Characters int
	// Pace is the records' request rate, when they have one (Airtable).
	Pace *RecordsPace
}

// RecordsPace is how fast voicehook may call a rate-limited records service
// now, and why when that is lower than configured.
type RecordsPace struct {
	Service        string
	PerSecond, Max float64
	// Note explains a lowered rate or a silence; empty when all is well.
	Note string
}

// Lowered reports whether the rate is under the configured one.
func (p RecordsPace) Lowered() bool { return p.PerSecond < p.Max }

func (a *admin) overview(w http.ResponseWriter, r *http.Request) {
	d := overviewData{}
	now := a.now()
	q := r.URL.Query()
	window, known := pickWindow(q.Get("window"))
	code, warn := http.StatusOK, (*notice)(nil)
	if !known {
		code = http.StatusBadRequest
		warn = &notice{"error", "Check the chart window: " + chartWindows[0].Name + " or " + chartWindows[1].Name + ". The last hour is shown."}
		q.Del("window")
	}
	o, err := a.s.Inbox.Overview(r.Context(), now)
	if err != nil {
		a.storeError(w, r, err, "overview")
		return
	}
	d.O, d.OldestAge = o, o.OldestAge()
	hourAgo, dayAgo := isoTime(now.Add(-time.Hour)), isoTime(now.Add(-24*time.Hour))
	for _, st := range voicehook.EventStatuses {
		d.Rows = append(d.Rows, statusRow{Status: st, Hour: o.LastHour[st], Day: o.LastDay[st],
			HourURL: "/events?" + url.Values{"status": {string(st)}, "since": {hourAgo}}.Encode(),
			DayURL:  "/events?" + url.Values{"status": {string(st)}, "since": {dayAgo}}.Encode()})
		d.HourTotal += o.LastHour[st]
		d.DayTotal += o.LastDay[st]
	}
	// Counted up to a page: records in Airtable cost a request per 100.
	const countUpTo = 100
	n, err := a.s.Records.CountJobs(r.Context(), voicehook.JobProcessing, countUpTo)
	if err != nil {
		a.storeError(w, r, err, "jobs")
		return
	}
	d.ProcessingJobs = strconv.Itoa(n)
	if n == countUpTo {
		d.ProcessingJobs += "+"
	}
	if a.s.RecordsPace != nil {
		p := a.s.RecordsPace()
		d.Pace = &p
	}
	d.Characters = -1
	if a.s.Generations != nil {
		if d.Characters, err = a.s.Generations.CharactersSince(r.Context(), now.Add(-24*time.Hour)); err != nil {
			a.storeError(w, r, err, "generations")
			return
		}
	}
	recent, err := a.s.Inbox.ListEvents(r.Context(), voicehook.EventFilter{Limit: 10})
	if err != nil {
		a.storeError(w, r, err, "events")
		return
	}
	d.Recent = a.eventRows(r.Context(), recent)
	d.Charts = a.overviewCharts(r.Context(), window, now, q)
	a.render(w, r, code, "overview", page{Title: "Overview", Nav: "overview", Notice: warn, Refresh: refreshFor(r), Data: d})
}

// ------------------------------------------------------------------- events

// pageSize is how many events a list page shows.
const pageSize = 50

type eventFilterForm struct {
	Status, Type, Segment, Since, Until string
}

type eventsData struct {
	F         eventFilterForm
	SinceVal  string // as a datetime-local input shows it
	UntilVal  string
	Statuses  []voicehook.EventStatus
	Types     []string
	Events    []eventRow
	OlderURL  string
	NewestURL string
	Err       string
}

// parseTime reads a time filter: RFC 3339, or a datetime-local value taken
// as UTC.
func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a time")
}

func localValue(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if t.Second() == 0 {
		return t.UTC().Format("2006-01-02T15:04")
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

func (a *admin) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := eventsData{Statuses: voicehook.EventStatuses, Types: knownTypes}
	d.F = eventFilterForm{Status: q.Get("status"), Type: q.Get("type"), Segment: q.Get("segment"),
		Since: q.Get("since"), Until: q.Get("until")}
	if d.F.Segment == "" {
		d.F.Segment = q.Get("segment_id")
	}
	f := voicehook.EventFilter{Status: voicehook.EventStatus(d.F.Status), Type: d.F.Type, SegmentID: d.F.Segment, BeforeID: q.Get("before"), Limit: pageSize}
	var bad []string
	for _, tf := range []struct {
		name string
		v    string
		dst  *time.Time
		show *string
	}{{"since", d.F.Since, &f.Since, &d.SinceVal}, {"until", d.F.Until, &f.Until, &d.UntilVal}} {
		if tf.v == "" {
			continue
		}
		t, err := parseTime(tf.v)
		if err != nil {
			bad = append(bad, tf.name)
			*tf.show = tf.v
			continue
		}
		*tf.dst, *tf.show = t, localValue(t)
	}
	if f.Status != "" && !f.Status.Valid() {
		bad = append(bad, "status")
	}
	code := http.StatusOK
	if len(bad) > 0 {
		d.Err = "Check the filter: " + strings.Join(bad, ", ") + " (times as 2025-03-14T15:09 UTC, or RFC 3339)."
		code = http.StatusBadRequest
	} else {
		events, err := a.s.Inbox.ListEvents(r.Context(), f)
		if err != nil {
			a.storeError(w, r, err, "events")
			return
		}
		d.Events = a.eventRows(r.Context(), events)
		keep := url.Values{}
		for k, v := range map[string]string{"status": d.F.Status, "type": d.F.Type, "segment": d.F.Segment, "since": d.F.Since, "until": d.F.Until} {
			if v != "" {
				keep.Set(k, v)
			}
		}
		if len(events) == pageSize {
			older := url.Values{}
			for k, v := range keep {
				older[k] = v
			}
			older.Set("before", events[len(events)-1].ID)
			d.OlderURL = "/events?" + older.Encode()
		}
		if f.BeforeID != "" {
			d.NewestURL = "/events?" + keep.Encode()
		}
	}
	a.render(w, r, code, "events", page{Title: "Events", Nav: "events", Notice: flash(q), Refresh: refreshFor(r), Data: d})
}

// -------------------------------------------------------------------- event

type headerRow struct{ Name, Value string }

type eventData struct {
	Event       voicehook.Event
	Headers     []headerRow
	Payload     string
	PayloadNote string
	// History is the attempts with repeats collapsed (history.go).
	History []historyRow
	Job     *voicehook.Job
	// ReplayNote, when set, says a replay would change nothing (the job
	// is finished): the page offers Retry segment beside Replay.
	ReplayNote string
	JobNote    string
	Segment    *voicehook.Segment
	SegmentID  string
}

func (a *admin) event(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ev, err := a.s.Inbox.Event(ctx, r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err, "event")
		return
	}
	attempts, err := a.s.Inbox.Attempts(ctx, ev.ID)
	if err != nil {
		a.storeError(w, r, err, "attempts")
		return
	}
	d := eventData{Event: ev, History: collapseHistory(attempts), SegmentID: ev.SegmentID}
	if ev.Status.Finished() {
		d.ReplayNote = a.s.replayNote(ctx, ev)
	}
	for name, v := range shownHeaders(ev.Headers) {
		d.Headers = append(d.Headers, headerRow{name, v})
	}
	slices.SortFunc(d.Headers, func(x, y headerRow) int { return strings.Compare(x.Name, y.Name) })
	d.Payload, d.PayloadNote = prettyPayload(ev.RawPayload)
	if ev.RelatedJob != "" {
		job, err := a.s.Records.Job(ctx, ev.RelatedJob)
		switch {
		case err == nil:
			d.Job = &job
			if d.SegmentID == "" {
				d.SegmentID = job.SegmentID
			}
		case isNotFound(err):
			d.JobNote = "not found in the records"
		default:
			a.s.Logger.Warn("event page: reading job", "job_id", ev.RelatedJob, "err", err)
			d.JobNote = "the records did not answer"
		}
	}
	if d.SegmentID != "" {
		if seg, err := a.s.Records.Segment(ctx, d.SegmentID); err == nil {
			d.Segment = &seg
		}
	}
	a.render(w, r, http.StatusOK, "event", page{Title: "Event " + ev.ID, Nav: "events", Notice: flash(r.URL.Query()), Data: d})
}

// replay queues one event again. An event still in flight is not an error
// page: the event page says so.
func (a *admin) replay(w http.ResponseWriter, r *http.Request) {
	if !a.checkForm(w, r) {
		return
	}
	id := r.PathValue("id")
	back := "/events/" + url.PathEscape(id)
	err := a.s.Inbox.Replay(r.Context(), id)
	switch {
	case errors.Is(err, voicehook.ErrInProgress):
		http.Redirect(w, r, back+"?msg=in_progress", http.StatusSeeOther)
	case err != nil:
		a.storeError(w, r, err, "event")
	default:
		a.s.Wake()
		a.s.Logger.Info("event replay requested", "event_id", id, "from", "admin page")
		msg := "replaying"
		if ev, err := a.s.Inbox.Event(r.Context(), id); err == nil && a.s.replayNote(r.Context(), ev) != "" {
			msg = "unchanged"
		}
		http.Redirect(w, r, back+"?msg="+msg, http.StatusSeeOther)
	}
}

// retrySegment creates a new job for the event's segment and replays the
// event, in one step (Server.retrySegment).
func (a *admin) retrySegment(w http.ResponseWriter, r *http.Request) {
	if !a.checkForm(w, r) {
		return
	}
	id := r.PathValue("id")
	job, _, err := a.s.retrySegment(r.Context(), id)
	var refused *retryRefusal
	switch {
	case errors.As(err, &refused):
		a.renderError(w, r, http.StatusConflict, "Cannot retry this segment", refused.Error())
	case err != nil && job.ID == "":
		a.storeError(w, r, err, "event")
	case err != nil:
		a.renderError(w, r, http.StatusServiceUnavailable, "Job created, replay not queued",
			"Job "+job.ID+" was created, but the event could not be queued again: "+err.Error()+". Replay the event once the store answers.")
	default:
		a.s.Logger.Info("segment retried", "event_id", id, "job_id", job.ID, "from", "admin page")
		http.Redirect(w, r, "/events/"+url.PathEscape(id)+"?"+url.Values{"msg": {"retried"}, "job": {job.ID}}.Encode(), http.StatusSeeOther)
	}
}

// --------------------------------------------------------------------- dead

type deadData struct {
	Events    []eventRow
	OlderURL  string
	NewestURL string
}

func (a *admin) dead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	before := q.Get("before")
	events, err := a.s.Inbox.ListEvents(r.Context(), voicehook.EventFilter{Status: voicehook.EventDead, BeforeID: before, Limit: pageSize})
	if err != nil {
		a.storeError(w, r, err, "events")
		return
	}
	d := deadData{Events: a.eventRows(r.Context(), events)}
	if len(events) == pageSize {
		d.OlderURL = "/dead?" + url.Values{"before": {events[len(events)-1].ID}}.Encode()
	}
	if before != "" {
		d.NewestURL = "/dead"
	}
	a.render(w, r, http.StatusOK, "dead", page{Title: "Dead events", Nav: "dead", Notice: flash(q), Refresh: refreshFor(r), Data: d})
}

// replayAll queues again the dead events the page showed (their ids come
// with the form), so what is replayed is what the operator saw.
func (a *admin) replayAll(w http.ResponseWriter, r *http.Request) {
	if !a.checkForm(w, r) {
		return
	}
	ids := r.PostForm["id"]
	if len(ids) > 1000 {
		ids = ids[:1000]
	}
	done, skipped := 0, 0
	for _, id := range ids {
		err := a.s.Inbox.Replay(r.Context(), id)
		switch {
		case err == nil:
			done++
		case errors.Is(err, voicehook.ErrInProgress), isNotFound(err):
			skipped++
		default:
			a.s.Logger.Error("replay all: store error", "event_id", id, "err", err)
			if done > 0 {
				a.s.Wake()
			}
			http.Redirect(w, r, "/dead?msg=replay_stopped&n="+strconv.Itoa(done), http.StatusSeeOther)
			return
		}
	}
	if done > 0 {
		a.s.Wake()
	}
	a.s.Logger.Info("dead events replay requested", "replayed", done, "skipped", skipped, "from", "admin page")
	http.Redirect(w, r, "/dead?msg=replayed_all&n="+strconv.Itoa(done)+"&skipped="+strconv.Itoa(skipped), http.StatusSeeOther)
}

// --------------------------------------------------------- jobs and segments

type jobsData struct {
	Status, Segment string
	Statuses        []voicehook.JobStatus
	Jobs            []voicehook.Job
	Limit           int
	Err             string
}

const jobsLimit = 100

func (a *admin) jobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := jobsData{Status: q.Get("status"), Segment: q.Get("segment"), Statuses: voicehook.JobStatuses, Limit: jobsLimit}
	if d.Segment == "" {
		d.Segment = q.Get("segment_id")
	}
	code := http.StatusOK
	if d.Status != "" && !voicehook.JobStatus(d.Status).Valid() {
		d.Err, code = "Check the filter: status.", http.StatusBadRequest
	} else {
		jobs, err := a.s.Records.ListJobs(r.Context(), voicehook.JobFilter{Status: voicehook.JobStatus(d.Status), SegmentID: d.Segment, Limit: jobsLimit})
		for i := range jobs {
			a.s.withGeneration(r.Context(), &jobs[i])
		}
		if err != nil {
			a.storeError(w, r, err, "jobs")
			return
		}
		d.Jobs = jobs
	}
	a.render(w, r, code, "jobs", page{Title: "Jobs", Nav: "jobs", Data: d})
}

type segmentData struct {
	Segment    voicehook.Segment
	Jobs       []voicehook.Job
	Events     []eventRow
	EventsURL  string
	MoreEvents bool
	// QA is the comparison of the voiceover with its script (--qa stt).
	QA *qaView
}

const segmentEvents = 20

func (a *admin) segment(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	seg, err := a.s.Records.Segment(ctx, r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err, "segment")
		return
	}
	a.s.withVoiceNotice(ctx, &seg)
	// As withQA, keeping the check for the comparison: one read.
	var comparison *qaView
	if c, ok := a.s.segmentQA(ctx, seg); ok {
		seg.WithQA(c)
		comparison = a.segmentQAView(ctx, seg, c)
	}
	jobs, err := a.s.Records.ListJobs(ctx, voicehook.JobFilter{SegmentID: seg.ID})
	for i := range jobs {
		a.s.withGeneration(ctx, &jobs[i])
	}
	if err != nil {
		a.storeError(w, r, err, "jobs")
		return
	}
	events, err := a.s.Inbox.ListEvents(ctx, voicehook.EventFilter{SegmentID: seg.ID, Limit: segmentEvents})
	if err != nil {
		a.storeError(w, r, err, "events")
		return
	}
	d := segmentData{Segment: seg, Jobs: jobs, Events: a.eventRows(ctx, events), MoreEvents: len(events) == segmentEvents,
		EventsURL: "/events?" + url.Values{"segment": {seg.ID}}.Encode(), QA: comparison}
	a.render(w, r, http.StatusOK, "segment", page{Title: "Segment " + seg.ID, Nav: "jobs",
		Notice: a.regenerateNotice(ctx, r.URL.Query(), seg, jobs), Data: d})
}
