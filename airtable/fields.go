package airtable

import (
	"flag"
	"fmt"
)

// Airtable field types (as the metadata API names them) that voicehook
// accepts for each of its fields.
const (
	typeText     = "singleLineText"
	typeLongText = "multilineText"
	typeURL      = "url"
	typeSelect   = "singleSelect"
	typeCheckbox = "checkbox"
	typeNumber   = "number"
	typeDateTime = "dateTime"
	typeLinks    = "multipleRecordLinks"
)

// Keys of the three tables.
const (
	tableJobs     = "jobs"
	tableSegments = "segments"
	tableEvents   = "events"
)

// tableSpec describes one table flag.
type tableSpec struct {
	key  string // tableJobs, …
	flag string // --airtable-table-<flag>
	def  string
	ptr  func(*Tables) *string
}

var tableSpecs = []tableSpec{
	{tableJobs, "jobs", "Jobs", func(t *Tables) *string { return &t.Jobs }},
	{tableSegments, "segments", "Segments", func(t *Tables) *string { return &t.Segments }},
	{tableEvents, "events", "Webhook Events", func(t *Tables) *string { return &t.Events }},
}

// fieldSpec describes one field voicehook uses: its flag, the seed's name,
// the Airtable types it may have, and the select options voicehook writes
// (without typecast, each must exist). doctor checks a base against these.
type fieldSpec struct {
	table    string // tableJobs, …
	flag     string // --airtable-field-<flag>
	def      string
	ptr      func(*Fields) *string
	types    []string
	choices  []string // select values voicehook writes
	linksTo  string   // for link fields: the table they must link to
	optional bool
	usage    string
}

var fieldSpecs = []fieldSpec{
	{table: tableJobs, flag: "related-segment", def: "Related Segment", ptr: func(f *Fields) *string { return &f.JobRelatedSegment },
		types: []string{typeLinks}, linksTo: tableSegments, usage: "Jobs: link to the job's segment"},
	{table: tableJobs, flag: "type", def: "Type", ptr: func(f *Fields) *string { return &f.JobType },
		types: []string{typeSelect, typeText}, choices: []string{"voiceover_generation"}, usage: "Jobs: job type (voiceover_generation)"},
	{table: tableJobs, flag: "status", def: "Status", ptr: func(f *Fields) *string { return &f.JobStatus },
		types: []string{typeSelect, typeText}, choices: []string{"processing", "completed", "failed"}, usage: "Jobs: status (processing, completed, failed)"},
	{table: tableJobs, flag: "timestamps", def: "Timestamps", ptr: func(f *Fields) *string { return &f.JobTimestamps },
		types: []string{typeLongText, typeText}, usage: `Jobs: JSON text {"created","completed","failed"}`},
	{table: tableJobs, flag: "error-details", def: "Error Details", ptr: func(f *Fields) *string { return &f.JobErrorDetails },
		types: []string{typeLongText, typeText}, usage: "Jobs: why a job failed"},
	{table: tableJobs, flag: "external-id", ptr: func(f *Fields) *string { return &f.JobExternalID },
		types: []string{typeText, typeLongText}, optional: true,
		usage: "Jobs: optional text field for a job's external_id (the sender's id: Studio project/request id, conversation id); empty: not kept"},

	{table: tableSegments, flag: "voiceover", def: "Voiceover", ptr: func(f *Fields) *string { return &f.SegmentVoiceover },
		types: []string{typeURL, typeText, typeLongText}, usage: "Segments: the stored voiceover's URL"},
	{table: tableSegments, flag: "segment-status", def: "Status", ptr: func(f *Fields) *string { return &f.SegmentStatus },
		types: []string{typeSelect, typeText}, choices: []string{"voiceover_ready", "voiceover_failed"}, usage: "Segments: status (voiceover_ready, voiceover_failed)"},
	{table: tableSegments, flag: "segment-jobs", def: "Jobs", ptr: func(f *Fields) *string { return &f.SegmentJobs },
		types: []string{typeLinks}, linksTo: tableJobs, usage: "Segments: the inverse link field listing the Jobs that link to the segment"},
	{table: tableSegments, flag: "duration", ptr: func(f *Fields) *string { return &f.SegmentDurationMS },
		types: []string{typeNumber}, optional: true, usage: "Segments: optional number field for the audio's duration in milliseconds; empty: not written"},
	{table: tableSegments, flag: "sha256", ptr: func(f *Fields) *string { return &f.SegmentSHA256 },
		types: []string{typeText, typeLongText}, optional: true, usage: "Segments: optional text field for the audio's SHA-256; empty: not written"},
	{table: tableSegments, flag: "bytes", ptr: func(f *Fields) *string { return &f.SegmentBytes },
		types: []string{typeNumber}, optional: true, usage: "Segments: optional number field for the audio's size in bytes; empty: not written"},
	{table: tableSegments, flag: "script", ptr: func(f *Fields) *string { return &f.SegmentScript },
		types: []string{typeLongText, typeText}, optional: true,
		usage: `Segments: optional text field holding the segment's script; a job created without text is generated from it (POST /api/jobs {"segment_id":"rec…"})`},
	{table: tableSegments, flag: "voice-id", ptr: func(f *Fields) *string { return &f.SegmentVoiceID },
		types: []string{typeText, typeLongText}, optional: true, usage: "Segments: optional text field holding the ElevenLabs voice id the script is spoken with"},
	{table: tableSegments, flag: "qa-status", ptr: func(f *Fields) *string { return &f.SegmentQAStatus },
		types: []string{typeSelect, typeText}, choices: []string{"passed", "flagged", "unchecked"}, optional: true,
		usage: "Segments: optional single select (or text) field for the voiceover's QA verdict with --qa stt (passed, flagged, unchecked); empty: not written"},
	// Airtable's percent field holds the fraction too (0.083 shows as 8.3%).
	{table: tableSegments, flag: "qa-wer", ptr: func(f *Fields) *string { return &f.SegmentQAWER },
		types: []string{typeNumber, "percent"}, optional: true,
		usage: "Segments: optional number field for the QA word error rate as a fraction from 0 to 1 (0.083; above 1 only when many words are inserted): format the field as percent to see 8.3%, with decimals; empty: not written"},
	{table: tableSegments, flag: "qa-notes", ptr: func(f *Fields) *string { return &f.SegmentQANotes },
		types: []string{typeLongText, typeText}, optional: true,
		usage: `Segments: optional long text field for the QA notes and each difference with its time in the audio, one per line (substitution at 0:03.42: "Dr." heard as "door"); empty: not written`},

	{table: tableEvents, flag: "event-id", def: "Event ID", ptr: func(f *Fields) *string { return &f.EventID },
		types: []string{typeText, typeLongText}, usage: "Webhook Events: voicehook's event id"},
	{table: tableEvents, flag: "service", def: "Service", ptr: func(f *Fields) *string { return &f.EventService },
		types: []string{typeSelect, typeText}, choices: []string{"ElevenLabs"}, usage: "Webhook Events: the sending service (ElevenLabs)"},
	{table: tableEvents, flag: "endpoint", def: "Endpoint", ptr: func(f *Fields) *string { return &f.EventEndpoint },
		types: []string{typeText, typeLongText, typeURL}, usage: "Webhook Events: the endpoint the event arrived at"},
	{table: tableEvents, flag: "raw-payload", def: "Raw Payload", ptr: func(f *Fields) *string { return &f.EventRawPayload },
		types: []string{typeLongText}, usage: "Webhook Events: the raw body (cut at Airtable's 100,000 characters, with a marker)"},
	{table: tableEvents, flag: "processed", def: "Processed", ptr: func(f *Fields) *string { return &f.EventProcessed },
		types: []string{typeCheckbox}, usage: "Webhook Events: checkbox, the event was processed"},
	{table: tableEvents, flag: "success", def: "Success", ptr: func(f *Fields) *string { return &f.EventSuccess },
		types: []string{typeCheckbox}, usage: "Webhook Events: checkbox, processing succeeded"},
	{table: tableEvents, flag: "timestamp", def: "Timestamp", ptr: func(f *Fields) *string { return &f.EventTimestamp },
		types: []string{typeDateTime, typeText}, usage: "Webhook Events: when the event was received"},
	{table: tableEvents, flag: "related-job", def: "Related Job", ptr: func(f *Fields) *string { return &f.EventRelatedJob },
		types: []string{typeLinks}, linksTo: tableJobs, usage: "Webhook Events: link to the job the event resolved"},
	{table: tableEvents, flag: "event-error-details", def: "Error Details", ptr: func(f *Fields) *string { return &f.EventErrorDetails },
		types: []string{typeLongText, typeText}, usage: "Webhook Events: why processing failed or the event was ignored"},
}

// RegisterFlags adds the --airtable-… flags to fs, with the seed's names as
// defaults. Every flag also reads VOICEHOOK_<FLAG> through the command's
// flag parsing.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.Token, "airtable-token", "", "Airtable personal access token (needs data.records:read and data.records:write on the base; schema.bases:read lets doctor check the schema)")
	fs.StringVar(&c.Base, "airtable-base", "", "Airtable base id (appXXXXXXXXXXXXXX, from the base's URL)")
	fs.StringVar(&c.APIURL, "airtable-api-url", d.APIURL, "Airtable API base URL")
	fs.Float64Var(&c.RequestsPerSecond, "airtable-requests-per-second", 4,
		"requests per second this process sends to the base (Airtable allows 5 per base; divide among replicas)")
	for _, t := range tableSpecs {
		fs.StringVar(t.ptr(&c.Tables), "airtable-table-"+t.flag, t.def, fmt.Sprintf("name of the %s table", t.def))
	}
	for _, s := range fieldSpecs {
		fs.StringVar(s.ptr(&c.Fields), "airtable-field-"+s.flag, s.def, s.usage)
	}
}

// tableName is the configured name of a table key.
func (c *Config) tableName(key string) string {
	for _, t := range tableSpecs {
		if t.key == key {
			return *t.ptr(&c.Tables)
		}
	}
	return ""
}

// tableFlag is the flag naming a table key.
func tableFlag(key string) string {
	for _, t := range tableSpecs {
		if t.key == key {
			return "--airtable-table-" + t.flag
		}
	}
	return ""
}
