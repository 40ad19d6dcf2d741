package airtabletest

// Field types the emulator knows, named as Airtable's metadata API names
// them.
const (
	SingleLineText = "singleLineText"
	MultilineText  = "multilineText"
	URL            = "url"
	SingleSelect   = "singleSelect"
	Checkbox       = "checkbox"
	Number         = "number"
	DateTime       = "dateTime"
	Links          = "multipleRecordLinks"
	// AutoNumber is computed: writing it is refused.
	AutoNumber = "autoNumber"
)

// Schema is a base's tables. The emulator's base is built from it.
type Schema struct {
	Tables []Table
}

// Table is one table; its first field is the primary field.
type Table struct {
	Name   string
	Fields []Field
}

// Field is one field of a table.
type Field struct {
	Name string
	Type string
	// Choices are a singleSelect's options. Without typecast, a value
	// outside them is refused.
	Choices []string
	// LinkedTable and InverseField describe a multipleRecordLinks field:
	// the table it links to and that table's field linking back. Airtable
	// keeps both sides in step; so does the emulator.
	LinkedTable  string
	InverseField string
}

// SeedSchema is the base the seed works with (seed task 8, "Implement
// ElevenLabs Webhook Handler"): Segments, Jobs and Webhook Events with the
// fields it reads and writes, plus the primary fields and inverse link
// fields every Airtable table has. Select options hold the values the seed
// writes and a few a pipeline would also use.
func SeedSchema() Schema {
	return Schema{Tables: []Table{
		{Name: "Segments", Fields: []Field{
			{Name: "Name", Type: SingleLineText},
			{Name: "Status", Type: SingleSelect, Choices: []string{"draft", "pending", "voiceover_ready", "voiceover_failed", "video_ready"}},
			{Name: "Voiceover", Type: URL},
			{Name: "Jobs", Type: Links, LinkedTable: "Jobs", InverseField: "Related Segment"},
		}},
		{Name: "Jobs", Fields: []Field{
			{Name: "Job ID", Type: AutoNumber},
			{Name: "Related Segment", Type: Links, LinkedTable: "Segments", InverseField: "Jobs"},
			{Name: "Type", Type: SingleSelect, Choices: []string{"voiceover_generation", "image_generation", "video_render"}},
			{Name: "Status", Type: SingleSelect, Choices: []string{"processing", "completed", "failed"}},
			{Name: "Timestamps", Type: MultilineText},
			{Name: "Error Details", Type: MultilineText},
			{Name: "Webhook Events", Type: Links, LinkedTable: "Webhook Events", InverseField: "Related Job"},
		}},
		{Name: "Webhook Events", Fields: []Field{
			{Name: "Event ID", Type: SingleLineText},
			{Name: "Service", Type: SingleSelect, Choices: []string{"ElevenLabs", "NCA Toolkit"}},
			{Name: "Endpoint", Type: SingleLineText},
			{Name: "Raw Payload", Type: MultilineText},
			{Name: "Processed", Type: Checkbox},
			{Name: "Success", Type: Checkbox},
			{Name: "Timestamp", Type: DateTime},
			{Name: "Related Job", Type: Links, LinkedTable: "Jobs", InverseField: "Webhook Events"},
			{Name: "Error Details", Type: MultilineText},
		}},
	}}
}

// WithField returns a copy of s with f added to table (for optional fields
// such as a duration).
func (s Schema) WithField(table string, f Field) Schema {
	out := Schema{Tables: make([]Table, len(s.Tables))}
	for i, t := range s.Tables {
		out.Tables[i] = Table{Name: t.Name, Fields: append([]Field(nil), t.Fields...)}
		if t.Name == table {
			out.Tables[i].Fields = append(out.Tables[i].Fields, f)
		}
	}
	return out
}

// WithoutField returns a copy of s without table's field name.
func (s Schema) WithoutField(table, name string) Schema {
	out := Schema{Tables: make([]Table, len(s.Tables))}
	for i, t := range s.Tables {
		out.Tables[i] = Table{Name: t.Name}
		for _, f := range t.Fields {
			if t.Name == table && f.Name == name {
				continue
			}
			out.Tables[i].Fields = append(out.Tables[i].Fields, f)
		}
	}
	return out
}
