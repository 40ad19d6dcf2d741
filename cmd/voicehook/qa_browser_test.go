package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
)

// TestQAPagesInBrowser: the segment page of a flagged voiceover shows the
// script and the transcript side by side with the differences highlighted;
// clicking one plays the voiceover from that moment; /qa lists the segment
// and Regenerate makes a new job with the same script.
func TestQAPagesInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	em := elevenlabstest.StartTTS(ttsKey)
	t.Cleanup(em.Close)
	h := setup(t, "sqlite", withTTS(em, 2), func(c *config) { c.QA, c.QAMode = "stt", "sync" })
	em.SetMishearing(elevenlabstest.Mishearing{Drop: []string{"quick"}, Substitute: map[string]string{"lazy": "hazy"}})
	job := h.createGenerated(map[string]any{"segment_id": "seg-qa", "text": qaScriptFlag, "voice_id": "v1"})
	h.waitJob(job.ID, 30*time.Second)
	seg := h.waitQA("seg-qa", job.ID, 30*time.Second)
	if seg.QAStatus != "flagged" {
		t.Fatalf("segment %+v; want flagged", seg)
	}

	must(t, "open the segment", chromedp.Do(ctx, chromedp.Navigate(h.base+"/segments/seg-qa"), chromedp.WaitVisible(chromedp.ID("qa"))))
	if st := browse(t, ctx, "QA status", chromedp.Text(chromedp.ID("qa-status"))); st != "flagged" {
		t.Fatalf("QA status %q; want flagged", st)
	}
	marks := browse(t, ctx, "highlights", chromedp.Evaluate[map[string][]string](`({
		script: [...document.querySelectorAll('#qa-script .qa-hl')].map(e => e.className + ' ' + e.textContent + ' @' + e.dataset.at),
		heard: [...document.querySelectorAll('#qa-transcript .qa-hl')].map(e => e.className + ' ' + e.textContent + ' @' + e.dataset.at),
		rows: [...document.querySelectorAll('#qa-diffs tbody tr')].map(e => e.dataset.at)})`))
	want := func(d int) string { return formatAt(seg.QADifferences[d].At) }
	if len(marks["script"]) != 2 || !strings.Contains(marks["script"][0], "qa-deletion quick @"+want(0)) || !strings.Contains(marks["script"][1], "qa-substitution lazy @"+want(1)) {
		t.Errorf("script highlights %q; want quick deleted at %s and lazy substituted at %s", marks["script"], want(0), want(1))
	}
	if len(marks["heard"]) != 1 || !strings.Contains(marks["heard"][0], "qa-substitution hazy @"+want(1)) {
		t.Errorf("transcript highlights %q; want hazy at %s", marks["heard"], want(1))
	}
	if len(marks["rows"]) != 2 {
		t.Errorf("difference rows %q; want 2", marks["rows"])
	}

	// Clicking the substitution plays from its time.
	browse(t, ctx, "audio metadata", chromedp.Poll[bool](`document.getElementById('voiceover').readyState >= 1`, chromedp.WithPollingTimeout(15*time.Second)))
	must(t, "click the substitution", chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#qa-transcript .qa-hl`))))
	at := browse(t, ctx, "currentTime", chromedp.Poll[float64](
		`(() => { const t = document.getElementById('voiceover').currentTime; return t > 0 && t; })()`, chromedp.WithPollingTimeout(10*time.Second)))
	if d := at - seg.QADifferences[1].At; d < -0.05 || d > 1 {
		t.Errorf("after the click the voiceover is at %.2fs; want about %.2fs", at, seg.QADifferences[1].At)
	}
	browse(t, ctx, "pause", chromedp.Evaluate[bool](`(() => { document.getElementById('voiceover').pause(); return true; })()`))
	if os.Getenv("VOICEHOOK_SCREENSHOT") == "1" {
		browse(t, ctx, "scroll", chromedp.Evaluate[bool](`(() => { window.scrollTo(0, 0); return true; })()`))
		png := browse(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		out := filepath.Join("..", "..", "docs", "qa-comparison.png")
		must(t, "write screenshot", os.WriteFile(out, png, 0o644))
		t.Logf("wrote %s (%d bytes)", out, len(png))
	}

	// /qa lists it; Regenerate creates a new job with the same script.
	must(t, "open /qa", chromedp.Do(ctx, chromedp.Navigate(h.base+"/qa"), chromedp.WaitVisible(chromedp.ID("qa-checks"))))
	jobs := browse(t, ctx, "rows", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#qa-checks tbody tr')].map(r => r.dataset.job)`))
	if len(jobs) != 1 || jobs[0] != job.ID {
		t.Fatalf("/qa rows %q; want %s", jobs, job.ID)
	}
	em.SetMishearing(elevenlabstest.Mishearing{})
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#qa-checks form.regenerate button`)))
	must(t, "press Regenerate", err)
	if loc := browse(t, ctx, "location", chromedp.Location()); !strings.HasPrefix(loc, h.base+"/segments/seg-qa") {
		t.Fatalf("after Regenerate: at %s; want the segment page", loc)
	}
	var after qaSegmentView
	h.do("GET", "/api/segments/seg-qa", nil, nil, &after)
	if len(after.Jobs) != 2 {
		t.Fatalf("jobs after Regenerate: %+v; want 2", after.Jobs)
	}
	newJob := after.Jobs[0].ID
	if newJob == job.ID {
		newJob = after.Jobs[1].ID
	}
	h.waitJob(newJob, 30*time.Second)
	if got := h.waitQA("seg-qa", newJob, 30*time.Second); got.QAStatus != "passed" {
		t.Fatalf("regenerated voiceover: %+v; want passed", got)
	}
}

// formatAt writes seconds as the pages' data-at does: exactly.
func formatAt(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }
