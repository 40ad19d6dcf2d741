package airtable

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Check proves the configuration against the base, read-only: the token
// is accepted, the base is reachable, the three tables and every
// configured field exist (with usable types and the select options
// voicehook writes). It implements voicehook.Checker.
func (r *Records) Check(ctx context.Context) error {
	_, err := Diagnose(ctx, r.c, r.cfg)
	return err
}

// Diagnose is Check with a summary of what it proved. It reads the schema
// with the metadata API; if the token lacks the schema.bases:read scope it
// lists one record of each table with the configured fields instead
// (which finds missing tables and fields, one at a time, but cannot see
// types or select options). Every problem says what to fix.
func Diagnose(ctx context.Context, c *Client, cfg Config) (string, error) {
	tables, err := c.Tables(ctx)
	var ae *APIError
	switch {
	case err == nil:
		if problems := schemaProblems(cfg, tables); len(problems) > 0 {
			return "", errors.New(strings.Join(problems, "; "))
		}
		return fmt.Sprintf("base %s: tables %q, %q and %q have every configured field, with usable types and select options (read-only check)",
			cfg.Base, cfg.Tables.Jobs, cfg.Tables.Segments, cfg.Tables.Events), nil
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return "", fmt.Errorf("airtable refused the token (%v): check --airtable-token", ae)
	case errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound):
		return listCheck(ctx, c, cfg)
	case errors.As(err, &ae):
		return "", err
	default:
		return "", reachProblem(cfg, err)
	}
}

func reachProblem(cfg Config, err error) error {
	var se *SilenceError
	if errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("cannot reach Airtable at %s: %v; check --airtable-api-url and the network", cfg.APIURL, err)
}

// tableFields is the configured fields of a table key.
func tableFields(cfg Config, key string) []fieldSpec {
	var out []fieldSpec
	for _, s := range fieldSpecs {
		if s.table == key && *s.ptr(&cfg.Fields) != "" {
			out = append(out, s)
		}
	}
	return out
}

func schemaProblems(cfg Config, tables []TableSchema) []string {
	var problems []string
	found := map[string]*TableSchema{} // table key → schema
	for _, ts := range tableSpecs {
		name := cfg.tableName(ts.key)
		i := slices.IndexFunc(tables, func(t TableSchema) bool { return t.Name == name || t.ID == name })
		if i < 0 {
			problems = append(problems, fmt.Sprintf("base %s has no table %q: add it or set %s", cfg.Base, name, tableFlag(ts.key)))
			continue
		}
		found[ts.key] = &tables[i]
	}
	fieldIDs := map[string]string{} // field flag → field id
	for _, s := range fieldSpecs {
		t := found[s.table]
		name := *s.ptr(&cfg.Fields)
		if t == nil || name == "" {
			continue
		}
		flagName := "--airtable-field-" + s.flag
		i := slices.IndexFunc(t.Fields, func(f FieldSchema) bool { return f.Name == name || f.ID == name })
		if i < 0 {
			problems = append(problems, fmt.Sprintf("table %q has no field %q: add it or set %s", t.Name, name, flagName))
			continue
		}
		f := t.Fields[i]
		fieldIDs[s.flag] = f.ID
		if !slices.Contains(s.types, f.Type) {
			problems = append(problems, fmt.Sprintf("table %q field %q is a %s field; voicehook needs %s: change its type or set %s",
				t.Name, name, f.Type, strings.Join(s.types, " or "), flagName))
			continue
		}
		if f.Type == typeSelect {
			for _, want := range s.choices {
				if !slices.Contains(f.Options.Choices, Choice{Name: want}) {
					problems = append(problems, fmt.Sprintf("table %q field %q has no option %q: add it (voicehook writes it without typecast, so Airtable refuses values that are not options)",
						t.Name, name, want))
				}
			}
		}
		if s.linksTo != "" {
			if target := found[s.linksTo]; target != nil && f.Options.LinkedTableID != target.ID {
				problems = append(problems, fmt.Sprintf("table %q field %q links to another table, not %q: set %s to the field that links to %q",
					t.Name, name, target.Name, flagName, target.Name))
			}
		}
	}
	// The segment's job list must be the inverse of the jobs' segment link:
	// FindJob reads one to find the other.
	if jobsF, ok := fieldIDs["segment-jobs"]; ok {
		if relF, ok := fieldIDs["related-segment"]; ok {
			seg := found[tableSegments]
			i := slices.IndexFunc(seg.Fields, func(f FieldSchema) bool { return f.ID == jobsF })
			if inv := seg.Fields[i].Options.InverseLinkFieldID; inv != "" && inv != relF {
				problems = append(problems, fmt.Sprintf("table %q field %q is not the inverse of %q field %q: set --airtable-field-segment-jobs to the %s field that lists the jobs linking to the segment",
					seg.Name, cfg.Fields.SegmentJobs, cfg.Tables.Jobs, cfg.Fields.JobRelatedSegment, seg.Name))
			}
		}
	}
	return problems
}

var unknownFieldMessage = regexp.MustCompile(`Unknown field name: "(.*)"`)

// listCheck is the check without schema access: one record of each table,
// asking for every configured field.
func listCheck(ctx context.Context, c *Client, cfg Config) (string, error) {
	var problems []string
	missingTables := 0
	for _, ts := range tableSpecs {
		name := cfg.tableName(ts.key)
		specs := tableFields(cfg, ts.key)
		var fields []string
		for _, s := range specs {
			fields = append(fields, *s.ptr(&cfg.Fields))
		}
		_, err := c.List(ctx, name, ListQuery{Fields: fields, PageSize: 1, MaxRecords: 1})
		var ae *APIError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			return "", fmt.Errorf("airtable refused the token (%v): check --airtable-token", ae)
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			missingTables++
			problems = append(problems, fmt.Sprintf("base %s has no table %q (or the token cannot see it): add it or set %s", cfg.Base, name, tableFlag(ts.key)))
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
			problems = append(problems, fmt.Sprintf("the token may not read table %q (%v): give it data.records:read and data.records:write on base %s", name, ae, cfg.Base))
		case errors.As(err, &ae) && ae.Type == "UNKNOWN_FIELD_NAME":
			missing := ae.Message
			if m := unknownFieldMessage.FindStringSubmatch(ae.Message); m != nil {
				missing = m[1]
			}
			flagName := "the matching --airtable-field-… flag"
			for _, s := range specs {
				if *s.ptr(&cfg.Fields) == missing {
					flagName = "--airtable-field-" + s.flag
				}
			}
			problems = append(problems, fmt.Sprintf("table %q has no field %q: add it or set %s (Airtable names one missing field at a time)", name, missing, flagName))
		case errors.As(err, &ae):
			problems = append(problems, fmt.Sprintf("table %q: %v", name, err))
		default:
			return "", reachProblem(cfg, err)
		}
	}
	if missingTables == len(tableSpecs) {
		return "", fmt.Errorf("base %s not found, or the token has no access to it: check --airtable-base and the token's access to the base", cfg.Base)
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("base %s: tables %q, %q and %q have every configured field (read-only check; the token lacks schema.bases:read, so field types and select options were not checked)",
		cfg.Base, cfg.Tables.Jobs, cfg.Tables.Segments, cfg.Tables.Events), nil
}
