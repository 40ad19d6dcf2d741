package elevenlabs_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

// sttTranscription is the transcription object ElevenLabs sends, with the
// members voicehook does not read (logprob, characters) left in.
const sttTranscription = `{"language_code":"en","language_probability":0.98,"text":"Hi there.",` +
	`"words":[{"text":"Hi","start":0,"end":0.3,"type":"word","speaker_id":"speaker_0","logprob":-0.1},` +
	`{"text":" ","start":0.3,"end":0.35,"type":"spacing","speaker_id":"speaker_0"},` +
	`{"text":"there.","start":0.35,"end":0.9,"type":"word","speaker_id":"speaker_0","characters":[{"text":"t","start":0.35,"end":0.4}]}]}`

var sttTranscript = voicehook.Transcript{
	LanguageCode: "en", LanguageProbability: 0.98, Text: "Hi there.",
	Words: []voicehook.TranscriptWord{
		{Text: "Hi", Start: 0, End: 0.3, Type: "word", SpeakerID: "speaker_0"},
		{Text: " ", Start: 0.3, End: 0.35, Type: "spacing", SpeakerID: "speaker_0"},
		{Text: "there.", Start: 0.35, End: 0.9, Type: "word", SpeakerID: "speaker_0"},
	},
}

// sttEnvelope wraps a transcription as the speech_to_text_transcription
// event; metadata is webhook_metadata's JSON value as sent.
func sttEnvelope(requestID, metadata, transcription string) string {
	return `{"type":"speech_to_text_transcription","event_timestamp":1739537297,"data":{"request_id":"` + requestID +
		`","webhook_metadata":` + metadata + `,"transcription":` + transcription + `}}`
}

func TestParseTranscription(t *testing.T) {
	t.Parallel()
	transcript := func(requestID string, meta map[string]string, tr voicehook.Transcript) voicehook.Outcome {
		out := voicehook.Outcome{Kind: voicehook.OutcomeTranscript, EventType: "speech_to_text_transcription",
			Transcription: &voicehook.Transcription{RequestID: requestID, Metadata: meta, Transcript: tr}}
		if requestID != "" {
			out.ExternalIDs = []string{requestID}
		}
		return out
	}
	ignored := func(msg string) voicehook.Outcome {
		return voicehook.Outcome{Kind: voicehook.OutcomeIgnored, EventType: "speech_to_text_transcription", Message: msg}
	}
	jobMeta := map[string]string{"job_id": "job_1", "segment_id": "seg_1"}
	tests := []struct {
		name string
		body string
		want voicehook.Outcome
		// msgContains, if set, is checked instead of the exact Message
		// (encoding/json's wording is not ours).
		msgContains string
	}{
		{
			name: "envelope, metadata as an object",
			body: sttEnvelope("req_1", `{"job_id":"job_1","segment_id":"seg_1"}`, sttTranscription),
			want: transcript("req_1", jobMeta, sttTranscript),
		},
		{
			name: "envelope, metadata as a string (as ElevenLabs returns what it was given)",
			body: sttEnvelope("req_1", `"{\"job_id\":\"job_1\",\"segment_id\":\"seg_1\"}"`, sttTranscription),
			want: transcript("req_1", jobMeta, sttTranscript),
		},
		{
			name: "metadata values that are not strings become their JSON text",
			body: sttEnvelope("req_1", `" {\"job_id\":\"j\u00e9\",\"n\":3,\"ok\":true,\"z\":null,\"tags\":[\"a\", \"b\"],\"o\":{ \"k\" : 1 }} "`, sttTranscription),
			want: transcript("req_1", map[string]string{"job_id": "jé", "n": "3", "ok": "true", "z": "null", "tags": `["a","b"]`, "o": `{"k":1}`}, sttTranscript),
		},
		{
			name: "metadata nested beyond depth 2 keeps top-level strings only",
			body: sttEnvelope("req_1", `{"job_id":"job_1","n":3,"deep":{"a":{"b":1}},"segment_id":"seg_1"}`, sttTranscription),
			want: transcript("req_1", jobMeta, sttTranscript),
		},
		{
			name: "metadata as an array is no metadata",
			body: sttEnvelope("req_1", `["job_1"]`, sttTranscription),
			want: transcript("req_1", nil, sttTranscript),
		},
		{
			name: "metadata as a string that is no JSON object is no metadata",
			body: sttEnvelope("req_1", `"job_1"`, sttTranscription),
			want: transcript("req_1", nil, sttTranscript),
		},
		{
			name: "empty metadata",
			body: sttEnvelope("req_1", `"{}"`, sttTranscription),
			want: transcript("req_1", nil, sttTranscript),
		},
		{
			name: "null metadata",
			body: sttEnvelope("req_1", `null`, sttTranscription),
			want: transcript("req_1", nil, sttTranscript),
		},
		{
			name: "unknown extra members everywhere are ignored",
			body: `{"type":"speech_to_text_transcription","event_timestamp":"1739537297","webhook_id":"wh_1","extra":[{}],` +
				`"data":{"request_id":"req_1","transcription_id":"tr_1","model_id":"scribe_v1","webhook_metadata":{"job_id":"job_1","segment_id":"seg_1"},` +
				`"transcription":{"language_code":"en","language_probability":0.98,"text":"Hi there.","channel_index":null,"additional_formats":[],"transcription_id":"tr_1",` +
				`"words":[{"text":"Hi","start":0,"end":0.3,"type":"word","speaker_id":"speaker_0","logprob":-0.1},` +
				`{"text":" ","start":0.3,"end":0.35,"type":"spacing","speaker_id":"speaker_0"},` +
				`{"text":"there.","start":0.35,"end":0.9,"type":"word","speaker_id":"speaker_0","characters":null}]}}}`,
			want: transcript("req_1", jobMeta, sttTranscript),
		},
		{
			name: "envelope without words",
			body: sttEnvelope("req_1", `{}`, `{"language_code":"en","text":""}`),
			want: transcript("req_1", nil, voicehook.Transcript{LanguageCode: "en"}),
		},
		{
			name: "envelope with a numeric request id",
			body: `{"type":"speech_to_text_transcription","data":{"request_id":42,"transcription":{"text":"Hi."}}}`,
			want: transcript("42", nil, voicehook.Transcript{Text: "Hi."}),
		},
		{
			name: "envelope without a request id",
			body: `{"type":"speech_to_text_transcription","data":{"transcription":{"text":"Hi."}}}`,
			want: transcript("", nil, voicehook.Transcript{Text: "Hi."}),
		},
		{
			name: "bare transcription object",
			body: sttTranscription,
			want: transcript("", nil, sttTranscript),
		},
		{
			name: "bare transcription object with its ids and metadata",
			body: `{"request_id":"req_2","transcription_id":"tr_2","webhook_metadata":"{\"job_id\":\"job_1\",\"segment_id\":\"seg_1\"}",` + sttTranscription[1:],
			want: transcript("req_2", jobMeta, sttTranscript),
		},
		{
			name: "bare transcription object with language but no words",
			body: `{"language_code":"fr","text":"Bonjour."}`,
			want: transcript("", nil, voicehook.Transcript{LanguageCode: "fr", Text: "Bonjour."}),
		},
		{
			name: "envelope without a transcription",
			body: `{"type":"speech_to_text_transcription","event_timestamp":1739537297,"data":{"request_id":"req_1"}}`,
			want: ignored("speech_to_text_transcription of a shape voicehook does not know (data.transcription is missing): recorded only"),
		},
		{
			name: "envelope with a null transcription",
			body: sttEnvelope("req_1", `{}`, `null`),
			want: ignored("speech_to_text_transcription of a shape voicehook does not know (data.transcription is missing): recorded only"),
		},
		{
			name: "envelope without data",
			body: `{"type":"speech_to_text_transcription","event_timestamp":1739537297}`,
			want: ignored("speech_to_text_transcription of a shape voicehook does not know (data.transcription is missing): recorded only"),
		},
		{
			name: "envelope with a transcription as a string",
			body: sttEnvelope("req_1", `{}`, `"Hi there."`),
			want: ignored("speech_to_text_transcription of a shape voicehook does not know (data.transcription is not an object): recorded only"),
		},
		{
			name: "envelope with a transcription as an array",
			body: sttEnvelope("req_1", `{}`, `[`+sttTranscription+`]`),
			want: ignored("speech_to_text_transcription of a shape voicehook does not know (data.transcription is not an object): recorded only"),
		},
		{
			name: "envelope with a transcription without text",
			body: sttEnvelope("req_1", `{}`, `{"transcripts":[`+sttTranscription+`]}`),
			want: ignored("speech_to_text_transcription of a shape voicehook does not know (data.transcription has no text): recorded only"),
		},
		{
			name:        "envelope with words of another shape",
			body:        sttEnvelope("req_1", `{}`, `{"text":"Hi.","words":[{"text":"Hi.","start":"0"}]}`),
			want:        ignored(""),
			msgContains: "speech_to_text_transcription of a shape voicehook does not know (data.transcription: ",
		},
		{
			name:        "envelope with data of another shape",
			body:        `{"type":"speech_to_text_transcription","data":"Hi there."}`,
			want:        ignored(""),
			msgContains: "speech_to_text_transcription of a shape voicehook does not know (",
		},
		{
			name:        "bare object with words of another shape",
			body:        `{"text":"Hi.","words":[{"text":"Hi.","end":"0.4"}]}`,
			want:        ignored(""),
			msgContains: "speech_to_text_transcription of a shape voicehook does not know (",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := elevenlabs.Parse([]byte(tt.body), "")
			if err != nil {
				t.Fatal(err)
			}
			if tt.msgContains != "" {
				if !strings.Contains(got.Outcome.Message, tt.msgContains) {
					t.Errorf("Message = %q, want it to contain %q", got.Outcome.Message, tt.msgContains)
				}
				got.Outcome.Message = ""
			}
			if diff := cmp.Diff(tt.want, got.Outcome); diff != "" {
				t.Errorf("Outcome (-want +got):\n%s", diff)
			}
			if key, typ := elevenlabs.IngestKey([]byte(tt.body), ""); key != got.DedupeKey || typ != got.Outcome.EventType {
				t.Errorf("IngestKey = %q, %q; Parse gives %q, %q", key, typ, got.DedupeKey, got.Outcome.EventType)
			}
		})
	}
}

// TestParseTranscriptionSegment: the segment comes from the callback URL
// only, for both forms.
func TestParseTranscriptionSegment(t *testing.T) {
	t.Parallel()
	for _, body := range []string{sttEnvelope("req_1", `{}`, sttTranscription), sttTranscription} {
		got, err := elevenlabs.Parse([]byte(body), "seg_9")
		if err != nil {
			t.Fatal(err)
		}
		if got.Outcome.SegmentID != "seg_9" || got.Outcome.Kind != voicehook.OutcomeTranscript {
			t.Errorf("%.40q: SegmentID %q, Kind %q", body, got.Outcome.SegmentID, got.Outcome.Kind)
		}
	}
}

func TestTranscriptionDedupeKey(t *testing.T) {
	t.Parallel()
	key := func(body string) string {
		t.Helper()
		p, err := elevenlabs.Parse([]byte(body), "")
		if err != nil {
			t.Fatal(err)
		}
		if k, _ := elevenlabs.IngestKey([]byte(body), ""); k != p.DedupeKey {
			t.Errorf("IngestKey %q, Parse %q", k, p.DedupeKey)
		}
		return p.DedupeKey
	}
	env1 := sttEnvelope("req_1", `"{\"job_id\":\"job_1\"}"`, sttTranscription)
	if got, want := key(env1), "el:speech_to_text_transcription:event_timestamp=1739537297&request_id=req_1"; got != want {
		t.Errorf("envelope key = %q, want %q", got, want)
	}
	if again := key(string([]byte(env1))); again != key(env1) {
		t.Error("the same delivery twice got two keys")
	}
	if key(env1) == key(sttEnvelope("req_2", `"{\"job_id\":\"job_1\"}"`, sttTranscription)) {
		t.Error("two requests' transcripts share a key")
	}

	// The bare form: its ids when it has them, else a hash of the body.
	bare := func(ids string) string { return `{` + ids + sttTranscription[1:] }
	if got, want := key(bare(`"request_id":"req 1","transcription_id":"tr_1",`)), "el:speech_to_text_transcription:request_id=req+1&transcription_id=tr_1"; got != want {
		t.Errorf("bare key with ids = %q, want %q", got, want)
	}
	if got, want := key(bare(`"transcription_id":"tr_1",`)), "el:speech_to_text_transcription:transcription_id=tr_1"; got != want {
		t.Errorf("bare key with a transcription id = %q, want %q", got, want)
	}
	if key(bare(`"request_id":"req_1",`)) != key(` `+bare(`"request_id":"req_1",`)+"\n") {
		t.Error("one request's bare transcript sent twice, differently spaced, got two keys")
	}
	if key(bare(`"request_id":"req_1",`)) == key(bare(`"request_id":"req_2",`)) {
		t.Error("two requests' bare transcripts share a key")
	}
	noIDs := key(sttTranscription)
	if !strings.HasPrefix(noIDs, "el:speech_to_text_transcription:sha256=") {
		t.Errorf("bare key without ids = %q, want a body hash", noIDs)
	}
	if noIDs != key(sttTranscription) {
		t.Error("the same bare body twice got two keys")
	}
	if noIDs == key(strings.Replace(sttTranscription, "Hi there.", "Hi there!", 1)) {
		t.Error("two bare bodies without ids share a key")
	}
	if p, _ := elevenlabs.Parse([]byte(bare(`"request_id":"req_1",`)), "seg_1"); p.DedupeKey != "el:speech_to_text_transcription:request_id=req_1&segment_id=seg_1" {
		t.Errorf("bare key with a segment = %q", p.DedupeKey)
	}
}

// hourTranscript is a transcription of about an hour of speech: 10,000
// words with the spacing between them.
func hourTranscript() (string, int) {
	var b strings.Builder
	b.WriteString(`{"language_code":"en","language_probability":0.99,"text":"`)
	for i := range 10000 {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "word%d", i)
	}
	b.WriteString(`","words":[`)
	n := 0
	for i := range 10000 {
		at := float64(i) * 0.36
		if i > 0 {
			fmt.Fprintf(&b, `,{"text":" ","start":%.3f,"end":%.3f,"type":"spacing","speaker_id":"speaker_0","logprob":0},`, at-0.06, at)
			n++
		}
		fmt.Fprintf(&b, `{"text":"word%d","start":%.3f,"end":%.3f,"type":"word","speaker_id":"speaker_0","logprob":-0.02}`, i, at, at+0.3)
		n++
	}
	b.WriteString(`]}`)
	return b.String(), n
}

func TestParseHourTranscript(t *testing.T) {
	t.Parallel()
	tr, n := hourTranscript()
	got, err := elevenlabs.Parse([]byte(sttEnvelope("req_1", `"{\"job_id\":\"job_1\"}"`, tr)), "")
	if err != nil {
		t.Fatal(err)
	}
	x := got.Outcome.Transcription
	if x == nil {
		t.Fatalf("no transcription: %+v", got.Outcome)
	}
	words := x.Transcript.Words
	if len(words) != n {
		t.Fatalf("%d words, want %d", len(words), n)
	}
	last := voicehook.TranscriptWord{Text: "word9999", Start: 3599.64, End: 3599.94, Type: "word", SpeakerID: "speaker_0"}
	if diff := cmp.Diff(last, words[len(words)-1]); diff != "" {
		t.Errorf("last word (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(x.Transcript.Text, "word0 word1 ") || !strings.HasSuffix(x.Transcript.Text, " word9999") {
		t.Errorf("text = %.40q…", x.Transcript.Text)
	}
}

func BenchmarkParseHourTranscript(b *testing.B) {
	tr, _ := hourTranscript()
	body := []byte(sttEnvelope("req_1", `"{\"job_id\":\"job_1\"}"`, tr))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if p, err := elevenlabs.Parse(body, ""); err != nil || p.Outcome.Transcription == nil {
			b.Fatal(err, p.Outcome.Message)
		}
	}
}
