package airtable

import (
	"context"
	"strings"
	"testing"

	"github.com/voicehook/voicehook/airtable/airtabletest"
)

func TestDiagnose(t *testing.T) {
	t.Parallel()
	seed := airtabletest.SeedSchema()
	withoutErrorDetails := seed.WithoutField("Jobs", "Error Details")
	noTable := seed.WithoutField("Jobs", "Webhook Events") // the inverse of the missing table's link
	noTable.Tables = noTable.Tables[:2]
	statusAsCheckbox := seed.WithoutField("Segments", "Status").WithField("Segments", airtabletest.Field{Name: "Status", Type: airtabletest.Checkbox})
	noCompletedOption := seed.WithoutField("Jobs", "Status").WithField("Jobs", airtabletest.Field{Name: "Status", Type: airtabletest.SingleSelect, Choices: []string{"processing", "failed"}})
	tests := []struct {
		name     string
		schema   *airtabletest.Schema
		noScope  bool
		mutate   func(*Config)
		wantOK   string // substring of the summary
		wantErrs []string
	}{
		{name: "seed base", wantOK: "have every configured field, with usable types and select options"},
		{name: "seed base without schema scope", noScope: true, wantOK: "the token lacks schema.bases:read"},
		{name: "missing field", schema: &withoutErrorDetails,
			wantErrs: []string{`table "Jobs" has no field "Error Details": add it or set --airtable-field-error-details`}},
		{name: "missing field without schema scope", schema: &withoutErrorDetails, noScope: true,
			wantErrs: []string{`table "Jobs" has no field "Error Details": add it or set --airtable-field-error-details`}},
		{name: "missing table", schema: &noTable,
			wantErrs: []string{`base appVoicehookTest has no table "Webhook Events": add it or set --airtable-table-events`}},
		{name: "missing table without schema scope", schema: &noTable, noScope: true,
			wantErrs: []string{`has no table "Webhook Events" (or the token cannot see it): add it or set --airtable-table-events`}},
		{name: "renamed field", mutate: func(c *Config) { c.Fields.SegmentVoiceover = "Audio" },
			wantErrs: []string{`table "Segments" has no field "Audio": add it or set --airtable-field-voiceover`}},
		{name: "optional field named but absent", mutate: func(c *Config) { c.Fields.SegmentDurationMS = "Duration" },
			wantErrs: []string{`table "Segments" has no field "Duration": add it or set --airtable-field-duration`}},
		{name: "wrong type", schema: &statusAsCheckbox,
			wantErrs: []string{`table "Segments" field "Status" is a checkbox field; voicehook needs singleSelect or singleLineText: change its type or set --airtable-field-segment-status`}},
		{name: "missing select option", schema: &noCompletedOption,
			wantErrs: []string{`table "Jobs" field "Status" has no option "completed": add it`}},
		{name: "inverse field is not the segment's jobs", mutate: func(c *Config) { c.Fields.SegmentJobs = "Status" },
			wantErrs: []string{`table "Segments" field "Status" is a singleSelect field; voicehook needs multipleRecordLinks`}},
		{name: "bad token", mutate: func(c *Config) { c.Token = "patWrong" },
			wantErrs: []string{"airtable refused the token (401 AUTHENTICATION_REQUIRED: Authentication required): check --airtable-token"}},
		{name: "unknown base", mutate: func(c *Config) { c.Base = "appNoSuchBase0000" },
			wantErrs: []string{"base appNoSuchBase0000 not found, or the token has no access to it: check --airtable-base"}},
		{name: "unreachable", mutate: func(c *Config) { c.APIURL = "http://127.0.0.1:1"; c.Retries = -1 },
			wantErrs: []string{"cannot reach Airtable at http://127.0.0.1:1:", "check --airtable-api-url and the network"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t, airtabletest.Options{Schema: tt.schema, NoSchemaScope: tt.noScope})
			cfg := testConfig(emu, nil)
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			ok, err := Diagnose(context.Background(), NewClient(cfg), cfg)
			if len(tt.wantErrs) == 0 {
				if err != nil || !strings.Contains(ok, tt.wantOK) {
					t.Fatalf("ok %q, err %v; want ok containing %q", ok, err, tt.wantOK)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; ok %q", ok)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n  %v\nlacks\n  %s", err, want)
				}
			}
			if strings.Contains(err.Error(), emu.Token) {
				t.Error("the error shows the token")
			}
		})
	}
}

func TestConfigProblems(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Base = "https://airtable.com/appX/tblY"
	cfg.Fields.JobStatus = ""
	got := strings.Join(cfg.Problems(), "\n")
	for _, want := range []string{
		"--records airtable needs --airtable-token",
		`--airtable-base "https://airtable.com/appX/tblY": want a base id`,
		`--airtable-field-status must not be empty (the seed's field is "Status")`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems\n%s\nlack %q", got, want)
		}
	}
	ok := DefaultConfig()
	ok.Token, ok.Base = "pat", "appXXXXXXXXXXXXXX"
	if p := ok.Problems(); len(p) != 0 {
		t.Errorf("a complete config has problems: %v", p)
	}
}
