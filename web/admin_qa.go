package web

// Voiceover QA in the operator's pages: the comparison on a segment's page,
// the /qa list of checks, and the Regenerate form.
//
// Mapping differences onto the script's words: a difference's ScriptIndex
// counts the script's normalised tokens (package qa: "1,000" is two tokens,
// "one thousand"), while the page shows the script as written, split at
// white space. Each word's tokens are counted with qa.Normalize on the word
// alone, which gives the token → word map; a word's tokens can depend on its
// neighbours ("and" in "hundred and five" is no token), so when the mapped
// word is not the difference's Expected (the script's word as written), the
// nearest word that is wins.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/qa"
)

// qaView is a segment's QA check as its page shows it.
type qaView struct {
	JobID  string
	Status voicehook.QAStatus
	State  voicehook.QAState
	Notes  string
	// Result is false while there is no comparison (WER and differences).
	Result      bool
	WER         string
	Errors      int
	ScriptWords int
	// Audio is the voiceover the times refer to: highlights link to it
	// with a media fragment, which plays from the moment without script.
	Audio      string
	Transcript bool
	Script     []qaWord
	Heard      []qaWord
	Diffs      []qaDiffRow
	// Generated: voicehook generated the job, so it can generate it again.
	Generated bool
}

// qaWord is one word of a column; Kind is empty when it is as expected.
type qaWord struct {
	Text  string
	Kind  string
	Event bool // an audio event ("(laughs)"), not a word
	At    string
	Title string
}

type qaDiffRow struct {
	Kind, Expected, Heard, At, Clock string
}

// segmentQAView builds the comparison of c, the check of seg's voiceover.
func (a *admin) segmentQAView(ctx context.Context, seg voicehook.Segment, c voicehook.QACheck) *qaView {
	var shown voicehook.Segment
	shown.WithQA(c)
	v := &qaView{JobID: c.JobID, Status: shown.QAStatus, State: c.State, Notes: c.Notes, Audio: seg.Voiceover,
		Generated: a.generated(ctx, c.JobID)}
	if v.Audio == "" && c.Audio != nil {
		v.Audio = c.Audio.URL
	}
	var diffs []voicehook.QADifference
	if c.Result != nil {
		diffs = c.Result.Differences
		v.Result, v.WER, v.Errors, v.ScriptWords = true, werPercent(c.Result.WER), len(diffs), c.Result.ScriptWords
		for _, d := range diffs {
			v.Diffs = append(v.Diffs, qaDiffRow{Kind: d.Kind, Expected: d.Expected, Heard: d.Heard, At: fmtAt(d.At), Clock: fmtClock(d.At)})
		}
	}
	if c.Transcript != nil {
		v.Transcript = true
		v.Script = scriptWords(c.Script, diffs)
		v.Heard = transcriptWords(c.Transcript.Words, diffs)
	}
	return v
}

// scriptWords splits the script at white space and marks each word that a
// deletion or substitution falls on (the first one, if several do).
func scriptWords(script string, diffs []voicehook.QADifference) []qaWord {
	fields := strings.Fields(script)
	out := make([]qaWord, len(fields))
	for i, f := range fields {
		out[i].Text = f
	}
	var tokenWord []int // token index → word index
	for i, f := range fields {
		for range qa.Normalize(f) {
			tokenWord = append(tokenWord, i)
		}
	}
	for _, d := range diffs {
		if d.Kind != voicehook.DiffDeletion && d.Kind != voicehook.DiffSubstitution {
			continue
		}
		wi := -1
		if d.ScriptIndex >= 0 && d.ScriptIndex < len(tokenWord) {
			wi = tokenWord[d.ScriptIndex]
		}
		if wi < 0 || fields[wi] != d.Expected {
			around := wi
			if around < 0 {
				around = min(max(d.ScriptIndex, 0), len(fields)-1)
			}
			if j := nearestWord(fields, d.Expected, around); j >= 0 {
				wi = j
			}
		}
		if wi < 0 || out[wi].Kind != "" {
			continue
		}
		out[wi].Kind, out[wi].At = d.Kind, fmtAt(d.At)
		if d.Kind == voicehook.DiffDeletion {
			out[wi].Title = "not heard (at " + fmtClock(d.At) + ")"
		} else {
			out[wi].Title = "heard “" + d.Heard + "” at " + fmtClock(d.At)
		}
	}
	return out
}

// nearestWord returns the index of the word equal to want nearest to
// around, or -1.
func nearestWord(words []string, want string, around int) int {
	if want == "" || len(words) == 0 {
		return -1
	}
	for d := 0; d < len(words); d++ {
		if i := around - d; i >= 0 && i < len(words) && words[i] == want {
			return i
		}
		if i := around + d; i >= 0 && i < len(words) && words[i] == want {
			return i
		}
	}
	return -1
}

// transcriptWords lists the words heard (spacing left out) and marks each
// one a substitution or insertion starts at: the qa package times those at
// the heard word's start.
func transcriptWords(words []voicehook.TranscriptWord, diffs []voicehook.QADifference) []qaWord {
	at := map[float64]voicehook.QADifference{}
	for _, d := range diffs {
		prev, seen := at[d.At]
		switch {
		case d.Kind != voicehook.DiffSubstitution && d.Kind != voicehook.DiffInsertion:
		case !seen, prev.Kind == voicehook.DiffInsertion && d.Kind == voicehook.DiffSubstitution:
			// A heard word of several tokens may be both; the
			// substitution says more.
			at[d.At] = d
		}
	}
	var out []qaWord
	for _, w := range words {
		switch w.Type {
		case "spacing":
			continue
		case "audio_event":
			out = append(out, qaWord{Text: w.Text, Event: true})
			continue
		}
		qw := qaWord{Text: w.Text}
		if d, ok := at[w.Start]; ok {
			qw.Kind, qw.At = d.Kind, fmtAt(d.At)
			if d.Kind == voicehook.DiffSubstitution {
				qw.Title = "the script says “" + d.Expected + "” (" + fmtClock(d.At) + ")"
			} else {
				qw.Title = "not in the script (" + fmtClock(d.At) + ")"
			}
		}
		out = append(out, qw)
	}
	return out
}

// fmtAt is a time as data-at and the media fragment take it: seconds.
func fmtAt(sec float64) string {
	return strconv.FormatFloat(max(sec, 0), 'f', -1, 64)
}

// fmtClock shows a time in the audio as m:ss.cc.
func fmtClock(sec float64) string {
	cs := int64(math.Round(max(sec, 0) * 100))
	return fmt.Sprintf("%d:%02d.%02d", cs/6000, cs/100%60, cs%100)
}

func werPercent(wer float64) string { return fmt.Sprintf("%.1f%%", wer*100) }

// generated reports whether voicehook generated the job (and so can again).
func (a *admin) generated(ctx context.Context, jobID string) bool {
	if a.s.Generations == nil {
		return false
	}
	_, err := a.s.Generations.Generation(ctx, jobID)
	if err != nil && !isNotFound(err) {
		a.s.Logger.Warn("QA page: reading a generation", "job_id", jobID, "err", err)
	}
	return err == nil
}

// regenerateNotice is the notice a regenerate leads to. It names the new job
// only when the records hold it for this segment, so a crafted URL cannot
// make the page say anything.
func (a *admin) regenerateNotice(ctx context.Context, q url.Values, seg voicehook.Segment, jobs []voicehook.Job) *notice {
	if q.Get("msg") != "regenerating" || q.Get("job") == "" {
		return nil
	}
	id := q.Get("job")
	i := slices.IndexFunc(jobs, func(j voicehook.Job) bool { return j.ID == id })
	var job voicehook.Job
	if i >= 0 {
		job = jobs[i]
	} else {
		var err error
		if job, err = a.s.Records.Job(ctx, id); err != nil {
			return nil
		}
	}
	if job.SegmentID != seg.ID {
		return nil
	}
	return &notice{"ok", "Regenerating: job " + job.ID + " created."}
}

// -------------------------------------------------------------------- /qa

type qaTab struct {
	Status  voicehook.QAStatus
	Label   string
	URL     string
	Current bool
}

type qaRow struct {
	JobID, SegmentID string
	Status           voicehook.QAStatus
	WER              string
	Diffs            int
	Summary          string
	Notes            string
	Updated          time.Time
	Generated        bool
}

type qaListData struct {
	Status voicehook.QAStatus
	Tabs   []qaTab
	Rows   []qaRow
	Limit  int
	Err    string
}

const qaLimit = 100

// qaSummaryDiffs is how many differences a row of /qa spells out.
const qaSummaryDiffs = 3

func (a *admin) qaOff(w http.ResponseWriter, r *http.Request) bool {
	if a.s.QA != nil {
		return false
	}
	a.renderError(w, r, http.StatusNotFound, "Voiceover QA is off", "Voiceover QA is off: start the server with --qa stt.")
	return true
}

// qaList: GET /qa[?status=flagged|unchecked|passed] lists QA checks,
// flagged ones worst first.
func (a *admin) qaList(w http.ResponseWriter, r *http.Request) {
	if a.qaOff(w, r) {
		return
	}
	status := voicehook.QAStatus(r.URL.Query().Get("status"))
	if status == "" {
		status = voicehook.QAFlagged
	}
	d := qaListData{Status: status, Limit: qaLimit}
	for _, t := range []struct {
		s     voicehook.QAStatus
		label string
	}{{voicehook.QAFlagged, "Flagged"}, {voicehook.QAUnchecked, "Unchecked"}, {voicehook.QAPassed, "Passed"}} {
		d.Tabs = append(d.Tabs, qaTab{Status: t.s, Label: t.label, URL: "/qa?status=" + string(t.s), Current: t.s == status})
	}
	switch status {
	case voicehook.QAFlagged, voicehook.QAUnchecked, voicehook.QAPassed:
	default:
		d.Err = "Check the filter: status is flagged, unchecked or passed."
		a.render(w, r, http.StatusBadRequest, "qa", page{Title: "Voiceover QA", Nav: "qa", Data: d})
		return
	}
	ctx := r.Context()
	checks, err := a.s.QA.ListQA(ctx, voicehook.QAFilter{Status: status, Limit: qaLimit})
	if err != nil {
		a.storeError(w, r, err, "QA checks")
		return
	}
	if status == voicehook.QAFlagged {
		// Worst first, whatever order the store keeps ties in.
		slices.SortStableFunc(checks, func(x, y voicehook.QACheck) int { return cmp.Compare(wer(y), wer(x)) })
	}
	for _, c := range checks {
		var shown voicehook.Segment
		shown.WithQA(c)
		row := qaRow{JobID: c.JobID, SegmentID: c.SegmentID, Status: shown.QAStatus, Notes: c.Notes,
			Updated: c.Updated, Generated: a.generated(ctx, c.JobID)}
		if c.Result != nil {
			row.WER, row.Diffs, row.Summary = werPercent(c.Result.WER), len(c.Result.Differences), summarise(c.Result.Differences)
		}
		d.Rows = append(d.Rows, row)
	}
	a.render(w, r, http.StatusOK, "qa", page{Title: "Voiceover QA", Nav: "qa", Data: d})
}

func wer(c voicehook.QACheck) float64 {
	if c.Result == nil {
		return 0
	}
	return c.Result.WER
}

// summarise spells out the first differences as "expected → heard".
func summarise(diffs []voicehook.QADifference) string {
	orDash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	var parts []string
	for _, d := range diffs[:min(len(diffs), qaSummaryDiffs)] {
		parts = append(parts, orDash(d.Expected)+" → "+orDash(d.Heard))
	}
	s := strings.Join(parts, ", ")
	if len(diffs) > qaSummaryDiffs {
		s += " …"
	}
	return s
}

// maxSeed is the largest seed ElevenLabs text to speech takes.
const maxSeed = 4294967295

// qaRegenerate: POST /qa/regenerate (job_id, seed) creates a new job for a
// generated job's segment with the same script, then shows that segment.
func (a *admin) qaRegenerate(w http.ResponseWriter, r *http.Request) {
	if !a.checkForm(w, r) || a.qaOff(w, r) {
		return
	}
	jobID := strings.TrimSpace(r.PostForm.Get("job_id"))
	if jobID == "" {
		a.renderError(w, r, http.StatusBadRequest, "No job", "Say which job to regenerate.")
		return
	}
	var seed *int
	if v := strings.TrimSpace(r.PostForm.Get("seed")); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > maxSeed {
			a.renderError(w, r, http.StatusBadRequest, "Bad seed",
				fmt.Sprintf("The seed must be a whole number from 0 to %d, or empty to keep the job's own.", maxSeed))
			return
		}
		s := int(n)
		seed = &s
	}
	job, err := a.s.regenerate(r.Context(), jobID, seed)
	switch {
	case errors.Is(err, errNotGenerated):
		a.renderError(w, r, http.StatusConflict, "Not generated", capitalize(err.Error())+".")
		return
	case err != nil:
		a.storeError(w, r, err, "job")
		return
	}
	a.s.Logger.Info("regeneration requested", "job_id", jobID, "new_job_id", job.ID, "seed_given", seed != nil, "from", "admin page")
	http.Redirect(w, r, "/segments/"+url.PathEscape(job.SegmentID)+"?"+url.Values{"msg": {"regenerating"}, "job": {job.ID}}.Encode(), http.StatusSeeOther)
}
