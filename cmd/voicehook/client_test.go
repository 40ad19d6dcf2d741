package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestListingCommandsPrintTables runs the binary against a real server:
// jobs list, events list, jobs show and segments show print for people by
// default (aligned tables, summaries) and the API's JSON with --json, with
// & printed as & (never \u0026).
func TestListingCommandsPrintTables(t *testing.T) {
	t.Parallel()
	h := setup(t, "")
	okJob := h.createJob("seg-ok", "")
	_, a := h.deliver("seg-ok", seedCompleted(h.src.url("ok.mp3")))
	if ev := h.waitEvent(a.EventID); ev.Status != "succeeded" {
		t.Fatalf("event %+v", ev)
	}
	badJob := h.createJob("seg-bad", "ext-7")
	_, b := h.deliver("seg-bad", []byte(`{"status":"failed","error":{"message":"voice & music mismatch"}}`))
	h.waitEvent(b.EventID)
	_, c := h.deliver("", []byte(`{"type":"post_call_transcription","event_timestamp":1700000000,"data":{"conversation_id":"conv_1"}}`))
	h.waitEvent(c.EventID)
	srv := []string{"--server", h.base}
	cli := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := binRun(t, nil, append(args, srv...)...)
		if code != 0 || stderr != "" {
			t.Fatalf("voicehook %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}

	t.Run("jobs list", func(t *testing.T) {
		out := cli("jobs", "list")
		rows := tableRows(t, out, "ID", "SEGMENT", "STATUS", "AGE", "DETAILS")
		want := map[string][]string{
			okJob.ID:  {okJob.ID, "seg-ok", "completed", "", "took "},
			badJob.ID: {badJob.ID, "seg-bad", "failed", "", "voice & music mismatch; external id ext-7"},
		}
		checkRows(t, out, rows, want)
	})

	t.Run("jobs list --json", func(t *testing.T) {
		out := cli("jobs", "list", "--json", "--status", "failed")
		// The server escapes & as \u0026 in every string; the CLI does not.
		if strings.Contains(out, `\u0026`) || !strings.Contains(out, `"error_details": "voice & music mismatch"`) || !strings.HasPrefix(out, "{\n  \"jobs\": [") {
			t.Fatalf("JSON:\n%s", out)
		}
		var reply struct{ Jobs []jobView }
		if err := json.Unmarshal([]byte(out), &reply); err != nil || len(reply.Jobs) != 1 || reply.Jobs[0].ErrorDetails != "voice & music mismatch" {
			t.Fatalf("decoded %+v, %v", reply, err)
		}
	})

	t.Run("jobs show", func(t *testing.T) {
		out := cli("jobs", "show", badJob.ID)
		for _, want := range []string{
			`(?m)^job +` + badJob.ID + `$`,
			`(?m)^segment +seg-bad$`,
			`(?m)^status +failed$`,
			`(?m)^created +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((just now|\d+ s ago)\)$`,
			`(?m)^error +voice & music mismatch$`,
			`(?m)^external id +ext-7$`,
			`(?m)^callback url +http://\S+segment_id=seg-bad&token=\S+$`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("jobs show lacks %s:\n%s", want, out)
			}
		}
		js := cli("jobs", "show", "--json", badJob.ID)
		var j jobView
		if err := json.Unmarshal([]byte(js), &j); err != nil || j.ID != badJob.ID || strings.Contains(js, `\u0026`) {
			t.Fatalf("jobs show --json:\n%s", js)
		}
	})

	t.Run("segments show", func(t *testing.T) {
		out := cli("segments", "show", "seg-ok")
		for _, want := range []string{
			`(?m)^segment +seg-ok$`,
			`(?m)^status +voiceover_ready$`,
			`(?m)^voiceover +http://\S+/media/\S+$`,
			`(?m)^audio +\d+\.\d KiB, 2\.\d\d s, sha256 [0-9a-f]{64}$`,
			`(?m)^callback url +http://\S+&token=\S+$`,
			`(?m)^JOB +STATUS +AGE +DETAILS$`,
			`(?m)^` + okJob.ID + ` +completed +\d+s +took \S+$`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("segments show lacks %s:\n%s", want, out)
			}
		}
		var seg segmentView
		if err := json.Unmarshal([]byte(cli("segments", "show", "seg-ok", "--json")), &seg); err != nil || seg.Status != "voiceover_ready" {
			t.Fatalf("segments show --json: %+v %v", seg, err)
		}
	})

	t.Run("events list", func(t *testing.T) {
		out := cli("events", "list")
		rows := tableRows(t, out, "ID", "TYPE", "SEGMENT", "STATUS", "AGE", "DETAILS")
		want := map[string][]string{
			a.EventID: {a.EventID, "", "seg-ok", "succeeded", "", "job " + okJob.ID},
			b.EventID: {b.EventID, "", "seg-bad", "failed", "", "job " + badJob.ID + "; voice & music mismatch"},
			c.EventID: {c.EventID, "post_call_transcription", "-", "ignored", "", ""},
		}
		checkRows(t, out, rows, want)

		only := cli("events", "list", "--type", "post_call_transcription")
		checkRows(t, only, tableRows(t, only, "ID", "TYPE", "SEGMENT", "STATUS", "AGE", "DETAILS"), map[string][]string{c.EventID: want[c.EventID]})
		recent := cli("events", "list", "--since", "1h", "--until", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
		if n := len(tableRows(t, recent, "ID", "TYPE", "SEGMENT", "STATUS", "AGE", "DETAILS")); n != 3 {
			t.Fatalf("--since 1h: %d rows:\n%s", n, recent)
		}
		if out := cli("events", "list", "--until", "1h"); out != "no events found\n" {
			t.Fatalf("--until 1h (an hour ago):\n%s", out)
		}
		js := cli("events", "list", "--json", "--segment-id", "seg-ok")
		var list struct{ Events []eventView }
		if err := json.Unmarshal([]byte(js), &list); err != nil || len(list.Events) != 1 || list.Events[0].ID != a.EventID {
			t.Fatalf("events list --json: %+v %v\n%s", list, err, js)
		}
	})

	t.Run("events replay", func(t *testing.T) {
		out := cli("events", "replay", b.EventID)
		// The server may say why a replay changes nothing; either way the
		// CLI says something a person can act on.
		if !strings.Contains(out, "is being processed again") && !strings.Contains(out, "replaying changes nothing") {
			t.Fatalf("events replay:\n%s", out)
		}
	})

	t.Run("not found", func(t *testing.T) {
		_, stderr, code := binRun(t, nil, "jobs", "show", "job_nope", "--server", h.base)
		if code != 1 || !strings.HasPrefix(stderr, "voicehook: server answered 404: ") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
}

// tableRows checks the header of a table and returns its rows' cells, cut
// at the header's column starts (so it also checks the columns align).
func tableRows(t *testing.T, out string, header ...string) [][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if !regexp.MustCompile(`^` + strings.Join(header, ` +`) + `$`).MatchString(lines[0]) {
		t.Fatalf("header %q, want columns %v:\n%s", lines[0], header, out)
	}
	starts := make([]int, len(header))
	for i, h := range header {
		starts[i] = strings.Index(lines[0], h)
	}
	var rows [][]string
	for _, line := range lines[1:] {
		if strings.HasPrefix(line, "more: ") {
			continue
		}
		cells := make([]string, len(header))
		for i, s := range starts {
			end := len(line)
			if i+1 < len(starts) {
				end = min(starts[i+1], len(line))
			}
			if s > len(line) || (s > 0 && line[s-1] != ' ') {
				t.Fatalf("row %q does not align with the header %q", line, lines[0])
			}
			cells[i] = strings.TrimSpace(line[s:end])
		}
		rows = append(rows, cells)
	}
	return rows
}

// checkRows compares rows by their first cell; an empty wanted cell is not
// compared, and a wanted cell ending in a space is a prefix.
func checkRows(t *testing.T, out string, rows [][]string, want map[string][]string) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), out)
	}
	for _, row := range rows {
		w, ok := want[row[0]]
		if !ok {
			t.Fatalf("unexpected row %v:\n%s", row, out)
		}
		for i := range w {
			switch {
			case w[i] == "":
			case strings.HasSuffix(w[i], " "):
				if !strings.HasPrefix(row[i], w[i]) {
					t.Errorf("row %s cell %d = %q, want it to start %q", row[0], i, row[i], w[i])
				}
			case row[i] != w[i]:
				t.Errorf("row %s cell %d = %q, want %q", row[0], i, row[i], w[i])
			}
		}
	}
}

// TestReplayAndRetrySegmentPrintTheServersMessage: replay and
// retry-segment print the server's message, or say what happened when it
// has none; --json prints the reply. The server here is a stand-in on
// loopback answering as the API does.
func TestReplayAndRetrySegmentPrintTheServersMessage(t *testing.T) {
	t.Parallel()
	const finished = "job job_x is already failed; replaying changes nothing: create a new job for this segment or run " +
		"'voicehook events retry-segment evt_1'"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "POST /api/events/evt_1/replay":
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"status":"replaying","event_id":"evt_1","message":%q}`, finished)
		case "POST /api/events/evt_2/replay":
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"status":"replaying","event_id":"evt_2"}`)
		case "POST /api/events/evt_1/retry-segment":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"job":{"id":"job_new","segment_id":"seg-1","status":"processing","callback_url":"http://h/w?segment_id=seg-1\u0026token=t"},`+
				`"event_id":"evt_1","message":"new job job_new for segment seg-1; event evt_1 replayed onto it"}`)
		case "POST /api/events/evt_2/retry-segment":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"job":{"id":"job_new2","segment_id":"seg-2","status":"processing"},"event_id":"evt_2"}`)
		case "POST /api/events/evt_3/retry-segment":
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"status":"error","message":"event evt_3 names no segment"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	cases := []struct {
		args   []string
		stdout string
		code   int
		stderr string
	}{
		{[]string{"events", "replay", "evt_1"}, finished + "\nfrom the command line: voicehook events retry-segment evt_1\n", 0, ""},
		{[]string{"events", "replay", "evt_2"}, "event evt_2 is being processed again; follow it with 'voicehook events show evt_2'\n", 0, ""},
		{[]string{"events", "replay", "evt_2", "--json"}, "{\n  \"status\": \"replaying\",\n  \"event_id\": \"evt_2\"\n}\n", 0, ""},
		{[]string{"events", "retry-segment", "evt_1"}, "new job job_new for segment seg-1; event evt_1 replayed onto it\n", 0, ""},
		{[]string{"events", "retry-segment", "evt_2"}, "new job job_new2 for segment seg-2; event evt_2 is being replayed onto it\n", 0, ""},
		{[]string{"events", "retry-segment", "--json", "evt_1"}, "", 0, ""},
		{[]string{"events", "retry-segment", "evt_3"}, "", 1, "voicehook: server answered 409: event evt_3 names no segment\n"},
	}
	for _, c := range cases {
		stdout, stderr, code := binRun(t, nil, append(c.args, "--server", srv.URL)...)
		if code != c.code || stderr != c.stderr || (c.stdout != "" && stdout != c.stdout) {
			t.Errorf("voicehook %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", strings.Join(c.args, " "), code, stdout, stderr, c.stdout)
		}
		if strings.Contains(stdout, `\u0026`) {
			t.Errorf("voicehook %s printed \\u0026:\n%s", strings.Join(c.args, " "), stdout)
		}
	}
}

// TestRetrySegmentThroughTheCLI: a job failed (its audio was gone); the
// audio is back. Replaying the event changes nothing, and the CLI says so
// and what to run; `events retry-segment` makes a new job and replays the
// event onto it, and the segment ends voiceover_ready.
func TestRetrySegmentThroughTheCLI(t *testing.T) {
	t.Parallel()
	h := setup(t, "")
	old := h.createJob("seg-r", "")
	h.src.failNext(404)
	_, a := h.deliver("seg-r", seedCompleted(h.src.url("r.mp3")))
	if ev := h.waitEvent(a.EventID); ev.Status != "failed" {
		t.Fatalf("event %+v", ev)
	}
	srv := []string{"--server", h.base}

	stdout, stderr, code := binRun(t, nil, append([]string{"events", "replay", a.EventID}, srv...)...)
	if code != 0 || !strings.Contains(stdout, "job "+old.ID+" is already failed; replaying changes nothing") ||
		!strings.HasSuffix(stdout, "from the command line: voicehook events retry-segment "+a.EventID+"\n") {
		t.Fatalf("events replay: exit %d\n%s%s", code, stdout, stderr)
	}
	h.waitEvent(a.EventID)

	stdout, stderr, code = binRun(t, nil, append([]string{"events", "retry-segment", a.EventID}, srv...)...)
	m := regexp.MustCompile(`created job (job_\S+) for segment seg-r`).FindStringSubmatch(stdout)
	if code != 0 || m == nil || stderr != "" {
		t.Fatalf("events retry-segment: exit %d\n%s%s", code, stdout, stderr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.job(m[1]).Status != "completed" {
		if time.Now().After(deadline) {
			t.Fatalf("new job %+v", h.job(m[1]))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := h.segment("seg-r"); s.Status != "voiceover_ready" {
		t.Fatalf("segment %+v", s)
	}
	// The server's refusal is the CLI's error (exit 1).
	_, stderr, code = binRun(t, nil, append([]string{"events", "retry-segment", "evt_missing"}, srv...)...)
	if code != 1 || !strings.HasPrefix(stderr, "voicehook: server answered 404") {
		t.Fatalf("retry-segment of a missing event: exit %d %s", code, stderr)
	}
}
