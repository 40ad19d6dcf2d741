package web

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSearch(t *testing.T) {
	ts := newTestServer(t, "", "")
	type result struct {
		Code     int
		Location string
	}
	for _, c := range []struct {
		q    string
		want result
		body string
	}{
		{"evt_1", result{303, "/events/evt_1"}, ""},
		{"  evt_1 ", result{303, "/events/evt_1"}, ""},
		{"job_1", result{303, "/jobs/job_1"}, ""},
		{"seg_1", result{303, "/segments/seg_1"}, ""},
		{"evt_nope", result{404, ""}, "Tried an event, a segment, a job with that id."},
		{"job_nope", result{404, ""}, "Tried a job, a segment, an event with that id."},
		{"<b>x</b>", result{404, ""}, `<span class="mono" id="search-query">&lt;b&gt;x&lt;/b&gt;</span>`},
		{"", result{200, ""}, "Type an event, job or segment id"},
	} {
		w := ts.do("GET", "/search?q="+urlQuery(c.q), reqOpts{})
		got := result{w.Code, w.Header().Get("Location")}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("q=%q (-want +got):\n%s", c.q, diff)
		}
		if c.body != "" && !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("q=%q: page lacks %q:\n%.1500s", c.q, c.body, w.Body.String())
		}
	}
	// The search box is in every page's header, with what was searched.
	body := ts.do("GET", "/search?q=nothing", reqOpts{}).Body.String()
	if !strings.Contains(body, `<form class="search" role="search" method="get" action="/search">`) ||
		!strings.Contains(body, `name="q" id="search" value="nothing"`) {
		t.Errorf("header search box:\n%.1500s", body)
	}
	ts.store.down = true
	if w := ts.do("GET", "/search?q=evt_1", reqOpts{}); w.Code != 503 {
		t.Errorf("store down: %d", w.Code)
	}
	// Signed out: sent to sign in, and back to the search after.
	signed := newTestServer(t, testToken, "")
	if w := signed.do("GET", "/search?q=evt_1", reqOpts{}); w.Code != 303 || w.Header().Get("Location") != "/login?next=%2Fsearch%3Fq%3Devt_1" {
		t.Errorf("signed out: %d %s", w.Code, w.Header().Get("Location"))
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "+", "<", "%3C", ">", "%3E", "/", "%2F")
	return r.Replace(s)
}
