package airtable

import (
	"regexp"
	"strings"
)

// Formulas voicehook sends in filterByFormula. Only these forms are used
// (the emulator refuses any other): OR(…), AND(…), RECORD_ID()='…' and
// {Field}='…'.

// quote is a formula string literal: Airtable's strings escape a quote or
// a backslash with a backslash.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// recordIs matches one record by id.
func recordIs(id string) string { return "RECORD_ID()=" + quote(id) }

// fieldIs matches a field's value. Never use it on a linked-record field:
// inside a formula that is the linked records' primary values, not ids.
func fieldIs(field, value string) string { return "{" + field + "}=" + quote(value) }

func or(conds ...string) string  { return "OR(" + strings.Join(conds, ",") + ")" }
func and(conds ...string) string { return "AND(" + strings.Join(conds, ",") + ")" }

var recordIDPattern = regexp.MustCompile(`^rec[A-Za-z0-9]{14}$`)

// isRecordID reports whether s has the shape of an Airtable record id. In
// this mode segment and job ids are record ids; anything else names no
// record, and is not sent to Airtable at all.
func isRecordID(s string) bool { return recordIDPattern.MatchString(s) }
