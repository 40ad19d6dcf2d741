package web

import (
	"strings"
	"testing"
)

// TestOverviewRecordsPace: the overview shows the records' request rate
// when they have one, and warns, with the reason, when voicehook lowered
// it after repeated 429s.
func TestOverviewRecordsPace(t *testing.T) {
	t.Parallel()
	lowered := RecordsPace{Service: "Airtable", PerSecond: 1, Max: 4,
		Note: "lowered after Airtable answered 429 (rate limit) 3 times"}
	tests := []struct {
		name    string
		pace    *RecordsPace
		want    []string
		notWant []string
	}{
		{"no rate-limited records", nil, nil, []string{`id="records-pace"`}},
		{"full rate", &RecordsPace{Service: "Airtable", PerSecond: 4, Max: 4},
			[]string{`<div class="card" id="records-pace"><span class="num">4/s</span><span class="label">Airtable requests</span></div>`},
			[]string{"card-warn", "lowered"}},
		{"lowered", &lowered, []string{`<div class="card card-warn" id="records-pace"`, `<span class="num">1/s</span>`,
			"Airtable requests, lowered from 4/s", "lowered after Airtable answered 429 (rate limit) 3 times"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, testToken, "http://localhost:8080")
			if tt.pace != nil {
				ts.srv.RecordsPace = func() RecordsPace { return *tt.pace }
			}
			w := ts.do("GET", "/", reqOpts{session: true})
			body := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("code = %d\n%.500s", w.Code, body)
			}
			for _, s := range tt.want {
				if !strings.Contains(body, s) {
					t.Errorf("overview lacks %q", s)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(body, s) {
					t.Errorf("overview has %q", s)
				}
			}
		})
	}
}
