package elevenlabs

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ingestResult is what IngestKey answers, compared as one value.
type ingestResult struct {
	Key, Type string
}

func parseResult(body []byte, segmentID string) ingestResult {
	p, _ := Parse(body, segmentID)
	return ingestResult{p.DedupeKey, p.Outcome.EventType}
}

// ingestKeyCases are bodies IngestKey must answer exactly as Parse does.
// fast says whether fastIngestKey is expected to be sure of them (true) or
// to leave them to Parse (false).
var ingestKeyCases = []struct {
	name string
	body string
	fast bool
}{
	// The seed's form.
	{"seed completed", `{"status":"completed","output":{"url":"https://cdn.example/a.mp3"}}`, true},
	{"seed completed, status in capitals", `{"status":"Completed","output":{"url":"https://cdn.example/a.mp3"}}`, true},
	{"seed completed without output", `{"status":"completed"}`, true},
	{"seed output of another shape", `{"status":"completed","output":"https://cdn.example/a.mp3"}`, true},
	{"seed output null", `{"status":"completed","output":null}`, true},
	{"seed output number", `{"status":"completed","output":-12.5e+3}`, true},
	{"seed failed", `{"status":"failed","error":{"message":"quota exceeded"}}`, true},
	{"seed error as a string", `{"status":"error","error":"voice not found"}`, true},
	{"seed other status", `{"status":"cancelled"}`, true},
	{"seed queued", `{"status":"queued"}`, true},
	{"seed processing", `{"status":"processing"}`, true},
	{"seed pending", `{"status":"pending"}`, true},
	{"seed in_progress", `{"status":"in_progress","progress":0.5}`, true},
	{"seed started", `{"status":"started"}`, true},
	{"seed extra members", `{"id":"job_1","status":"completed","output":{"url":"x","duration":12.5,"tags":["a","b"],"meta":{"k":[1,-2,3.25E+2,0,-0.0e-0,1E5,true,false,null,{},[]]}},"created":1700000000,"x":null}`, true},
	{"seed status last", `{"output":{"url":"x"},"metadata":{"notes":"lorem"},"status":"completed"}`, true},
	{"seed with whitespace", " \n\t{ \"status\" : \"completed\" ,\r\n \"output\" : { \"url\" : \"x\" } , \"a\" : [ 1 , { } , [ ] ] }\r\n ", true},
	{"seed status padded", `{"status":"  completed  "}`, true},
	{"seed status padded with unicode spaces", "{\"status\":\"\u00a0completed\u2003\u0085\"}", true},
	{"seed status non-ASCII", `{"status":"ÉCHEC"}`, true},
	{"seed status Kelvin sign", "{\"status\":\"\u212aO\"}", true},
	{"seed escapes elsewhere", `{"status":"completed","output":{"url":"https:\/\/x\u00e9\"\\\b\f\n\r\t\uD83D\uDE00"}}`, true},
	{"seed escaped keys elsewhere", `{"status":"completed","output":{"\u0075rl":"x","ü":1}}`, true},
	{"seed invalid UTF-8 elsewhere", "{\"status\":\"completed\",\"note\":\"\xff\xfe\xc0\"}", true},
	{"seed invalid UTF-8 in a nested name", "{\"status\":\"completed\",\"output\":{\"\xff\":1}}", true},
	{"seed data object", `{"status":"completed","data":{"project_id":"p","x":{"y":[1]}}}`, true},
	{"seed data null", `{"status":"completed","data":null}`, true},
	{"seed nested 60 deep", `{"status":"completed","output":` + strings.Repeat(`[{"a":`, 30) + `1` + strings.Repeat(`}]`, 30) + `}`, true},
	{"seed nested 200 deep", `{"status":"completed","output":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `}`, false},
	{"seed nested past encoding/json's limit", `{"status":"completed","output":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}`, false},
	{"seed nested at encoding/json's limit", `{"status":"completed","output":` + strings.Repeat(`[`, 9999) + strings.Repeat(`]`, 9999) + `}`, false},
	{"seed empty status", `{"status":""}`, true},
	{"seed blank status", `{"status":"   "}`, true},
	{"seed null status", `{"status":null}`, true},
	{"seed number status", `{"status":200}`, false},
	{"seed bool status", `{"status":true}`, false},
	{"seed object status", `{"status":{"s":"completed"}}`, false},
	{"seed array status", `{"status":["completed"]}`, false},
	{"seed status capitalised key", `{"Status":"completed"}`, false},
	{"seed status key in capitals", `{"STATUS":"completed"}`, false},
	{"seed output key in capitals", `{"status":"completed","OUTPUT":{"url":"x"}}`, false},
	{"seed status key with long s", `{"ſtatus":"completed"}`, false},
	{"seed non-ASCII member name", `{"métadonnées":1,"status":"completed"}`, false},
	{"seed escaped status key", `{"st\u0061tus":"completed"}`, false},
	{"seed duplicate status", `{"status":"queued","status":"completed"}`, false},
	{"seed duplicate status then null", `{"status":"completed","status":null}`, false},
	{"seed duplicate output", `{"status":"completed","output":1,"output":2}`, false},
	{"seed escaped status", `{"status":"compl\u0065ted"}`, false},
	{"seed status with escaped slash", `{"status":"completed\/"}`, false},
	{"seed status invalid UTF-8", "{\"status\":\"compl\xffeted\"}", false},
	{"seed data of another shape", `{"status":"completed","data":"x"}`, false},
	{"seed data with an object id", `{"status":"completed","data":{"project_id":{}}}`, false},
	{"seed data with an array id", `{"status":"completed","data":{"agent_id":[]}}`, false},
	{"no type nor status", `{"output":{"url":"x"}}`, true},
	{"empty object", `{}`, true},
	{"empty object with whitespace", " { } ", true},
	{"bare transcription object", `{"language_code":"en","language_probability":0.98,"text":"Hi.","words":[{"text":"Hi.","start":0,"end":0.4,"type":"word"}]}`, false},
	{"text without words", `{"text":"Hi."}`, false},
	{"text in capitals", `{"TEXT":"Hi.","language_code":"en"}`, false},
	{"text inside data", `{"data":{"text":"x"}}`, false},
	{"text nested deeper", `{"output":{"text":"x","words":[]}}`, true},
	{"bare transcription object with ids", `{"request_id":"r1","transcription_id":"t1","webhook_metadata":"{\"job_id\":\"j\"}","text":"Hi.","words":[]}`, false},
	{"bare transcription object with an object request id", `{"request_id":{"a":1},"text":"Hi.","words":[]}`, false},
	{"bare transcription object with words of another shape", `{"text":"Hi.","words":[{"start":"0"}]}`, false},

	// ElevenLabs envelopes.
	{"project conversion success", `{"type":"project_conversion_status","event_timestamp":"1739537297","data":{"request_id":"req_1","project_id":"p_1","project_snapshot_id":"ps_1","conversion_status":"success"}}`, true},
	{"project conversion success naming a chapter", `{"type":"project_conversion_status","data":{"project_id":"p1","project_snapshot_id":"ps1","chapter_id":"c1","chapter_snapshot_id":"cs1","conversion_status":"success"}}`, true},
	{"chapter conversion success", `{"type":"chapter_conversion_status","event_timestamp":1739537297,"data":{"request_id":"req2","project_id":"p1","chapter_id":"c1","chapter_snapshot_id":"cs1","conversion_status":"success"}}`, true},
	{"conversion error, object details", `{"type":"chapter_conversion_status","data":{"project_id":"p1","chapter_id":"c1","conversion_status":"error","error_details":{ "code" : 7, "reason": "quota" }}}`, true},
	{"conversion in progress", `{"type":"project_conversion_status","data":{"project_id":"p1","conversion_status":"processing"}}`, true},
	{"conversion without status", `{"type":"project_conversion_status","data":{"project_id":"p1"}}`, true},
	{"conversion type in capitals", `{"type":"PROJECT_CONVERSION_STATUS","data":{"project_id":"p1","conversion_status":"Success"}}`, true},
	{"post_call_audio", `{"type":"post_call_audio","event_timestamp":1739537297,"data":{"agent_id":"ag1","conversation_id":"conv1","full_audio":"SUQzBAAAAAAA"}}`, true},
	{"timestamp as a string", `{"type":"project_conversion_status","event_timestamp":" 1739537297 ","data":{"project_id":"p1","conversion_status":"error"}}`, true},
	{"timestamp as a float", `{"type":"project_conversion_status","event_timestamp":1739537297.25e0,"data":{"project_id":"p1","conversion_status":"error"}}`, true},
	{"timestamp negative", `{"type":"x","event_timestamp":-0,"data":{"project_id":"p1"}}`, true},
	{"timestamp true", `{"type":"x","event_timestamp":true,"data":{"project_id":"p1"}}`, true},
	{"timestamp null", `{"type":"x","event_timestamp":null,"data":{"project_id":"p1"}}`, true},
	{"timestamp object", `{"type":"x","event_timestamp":{"s":1},"data":{"project_id":"p1"}}`, false},
	{"timestamp array", `{"type":"post_call_audio","event_timestamp":[1],"data":{"conversation_id":"c"}}`, false},
	{"timestamp escaped", `{"type":"x","event_timestamp":"1\u0030","data":{"project_id":"p1"}}`, false},
	{"timestamp bad number", `{"type":"x","event_timestamp":01,"data":{"project_id":"p1"}}`, false},
	{"timestamp duplicate", `{"type":"x","event_timestamp":1,"event_timestamp":2,"data":{"project_id":"p1"}}`, false},
	{"timestamp key variant", `{"type":"x","Event_Timestamp":1,"data":{"project_id":"p1"}}`, false},
	{"timestamp without ids", `{"type":"x","event_timestamp":1}`, true},
	{"voice_removal_notice", `{"type":"voice_removal_notice","event_timestamp":1739537297,"data":{"voice_id":"v1","voice_name":"Ann"}}`, true},
	{"call_initiation_failure", `{"type":"call_initiation_failure","event_timestamp":1739537297,"data":{"agent_id":"ag1","conversation_id":"c1"}}`, true},
	{"post_call_audio with escaped slashes", `{"type":"post_call_audio","data":{"conversation_id":"conv1","full_audio":"ab\/cd+\/=="}}`, true},
	{"post_call_audio without audio", `{"type":"post_call_audio","data":{"conversation_id":"conv1"}}`, true},
	{"post_call_audio with non-string audio", `{"type":"post_call_audio","data":{"conversation_id":"conv1","full_audio":12}}`, true},
	{"post_call_audio with numeric ids", `{"type":"post_call_audio","data":{"conversation_id":42,"agent_id":null,"full_audio":"AA=="}}`, false},
	{"post_call_audio with a bool id", `{"type":"post_call_audio","data":{"conversation_id":true}}`, false},
	{"post_call_audio with an object id", `{"type":"post_call_audio","data":{"conversation_id":{"a":1}}}`, false},
	{"ignored type with an object id", `{"type":"post_call_transcription","data":{"conversation_id":{"a":1}}}`, false},
	{"ignored type with an array agent_id", `{"type":"post_call_transcription","data":{"conversation_id":"c","agent_id":[1]}}`, false},
	{"post_call_audio with data of another shape", `{"type":"post_call_audio","data":"oops"}`, false},
	{"post_call_audio with null data", `{"type":"post_call_audio","data":null}`, true},
	{"speech_to_text_transcription", `{"type":"speech_to_text_transcription","event_timestamp":1739537297,"data":{"request_id":"r1","webhook_metadata":{"job_id":"j1"},"transcription":{"language_code":"en","text":"Hi.","words":[{"text":"Hi.","start":0,"end":0.4,"type":"word","speaker_id":"s0"}]}}}`, true},
	{"speech_to_text_transcription, metadata as a string", `{"type":"speech_to_text_transcription","event_timestamp":1739537297,"data":{"request_id":"r1","webhook_metadata":"{\"job_id\":\"j1\"}","transcription":{"text":"Hi."}}}`, true},
	{"speech_to_text_transcription without a transcription", `{"type":"speech_to_text_transcription","event_timestamp":1,"data":{"request_id":"r1"}}`, true},
	{"speech_to_text_transcription without data", `{"type":"speech_to_text_transcription","event_timestamp":1}`, true},
	{"speech_to_text_transcription as a string", `{"type":"speech_to_text_transcription","data":{"request_id":"r1","transcription":"Hi."}}`, true},
	{"speech_to_text_transcription with words of another shape", `{"type":"speech_to_text_transcription","data":{"request_id":"r1","transcription":{"text":"Hi.","words":[{"start":"0"}]}}}`, true},
	{"speech_to_text_transcription with data of another shape", `{"type":"speech_to_text_transcription","data":"Hi."}`, false},
	{"speech_to_text_transcription with an object request id", `{"type":"speech_to_text_transcription","data":{"request_id":{"r":1},"transcription":{"text":"Hi."}}}`, false},
	{"speech_to_text_transcription, transcription key variant", `{"type":"speech_to_text_transcription","data":{"request_id":"r1","Transcription":{"text":"Hi."}}}`, false},
	{"speech_to_text_transcription, metadata key variant", `{"type":"speech_to_text_transcription","data":{"request_id":"r1","WEBHOOK_METADATA":{},"transcription":{"text":"Hi."}}}`, false},
	{"speech_to_text_transcription, transcription twice", `{"type":"speech_to_text_transcription","data":{"request_id":"r1","transcription":{"text":"Hi."},"transcription":null}}`, false},
	{"speech_to_text_transcription, type in capitals", `{"type":"SPEECH_TO_TEXT_TRANSCRIPTION","data":{"request_id":"r1","transcription":{"text":"Hi."}}}`, true},
	{"post_call_transcription", `{"type":"post_call_transcription","event_timestamp":1739537297,"data":{"agent_id":"ag","conversation_id":"conv_1","transcript":[{"role":"agent","message":"hi"}]}}`, true},
	{"event_type alias", `{"event_type": "speech.completed", "id": "123456"}`, true},
	{"eventType alias", `{"eventType":"test_event","data":{"id":"123"}}`, true},
	{"unknown type with data of another shape", `{"type":"voice_removal_notice","data":["v1","v2"]}`, false},
	{"type padded", `{"type":"  post_call_audio ","data":{"conversation_id":" c 1 "}}`, true},
	{"empty type, event_type set", `{"type":"","event_type":"x","data":{"project_id":"p"}}`, true},
	{"blank type, eventType set", `{"type":"  ","eventType":"y"}`, true},
	{"all three types", `{"eventType":"c","event_type":"b","type":"a"}`, true},
	{"null type and a status", `{"type":null,"status":"completed"}`, true},
	{"type and a status", `{"type":"x","status":"completed","data":{"request_id":"r"}}`, true},
	{"blank type and a status", `{"type":" ","status":"completed"}`, true},
	{"ids needing escapes", `{"type":"a b&c","data":{"project_id":"p&q=r s","chapter_id":"ü/é?#","request_id":"","conversion_status":"  "}}`, true},
	{"only a conversion status", `{"type":"project_conversion_status","data":{"conversion_status":"success"}}`, true},
	{"ids null", `{"type":"x","data":{"project_id":null,"chapter_id":"c"}}`, true},
	{"long id", `{"type":"post_call_audio","data":{"conversation_id":"` + strings.Repeat("x", 300) + `"}}`, true},
	{"long type", `{"type":"` + strings.Repeat("t", 300) + `"}`, true},
	{"non-ASCII type", `{"type":"POST_CALL_AUDİO","data":{"conversation_id":"c"}}`, true},
	{"type with Kelvin sign", "{\"type\":\"\u212a\"}", true},
	{"type in capitals key", `{"TYPE":"post_call_audio"}`, false},
	{"event_type key variant", `{"Event_Type":"x"}`, false},
	{"eventType key variant", `{"EVENTTYPE":"x"}`, false},
	{"data key variant", `{"type":"x","Data":{"project_id":"p"}}`, false},
	{"data member key variant", `{"type":"x","data":{"Project_ID":"p"}}`, false},
	{"data member escaped key", `{"type":"x","data":{"project_\u0069d":"p"}}`, false},
	{"data member non-ASCII key", `{"type":"x","data":{"näme":1,"project_id":"p"}}`, false},
	{"data member duplicate", `{"type":"x","data":{"project_id":"a","project_id":"b"}}`, false},
	{"data member duplicate null", `{"type":"x","data":{"project_id":"a","project_id":null}}`, false},
	{"data duplicate", `{"type":"x","data":{"chapter_id":"c"},"data":{"project_id":"p"}}`, false},
	{"type duplicate", `{"type":"x","type":"y"}`, false},
	{"type escaped", `{"type":"post\u005fcall_audio"}`, false},
	{"type invalid UTF-8", "{\"type\":\"x\xff\"}", false},
	{"id escaped", `{"type":"x","data":{"project_id":"p\/1"}}`, false},
	{"id invalid UTF-8", "{\"type\":\"x\",\"data\":{\"project_id\":\"p\xff\"}}", false},
	{"type number", `{"type":1}`, false},
	{"type number and event_type", `{"type":1,"event_type":"x"}`, false},
	{"type bool", `{"type":false,"status":"completed"}`, false},
	{"type object", `{"type":{},"status":"completed"}`, false},

	// Not JSON, or not an object.
	{"empty body", ``, false},
	{"whitespace only", " \n", false},
	{"not JSON", `status=completed`, false},
	{"array", `[1,2]`, false},
	{"null", `null`, false},
	{"string", `"x"`, false},
	{"number", `123`, false},
	{"true", `true`, false},
	{"open brace", `{`, false},
	{"close brace", `}`, false},
	{"truncated", `{"status":"completed"`, false},
	{"truncated in a string", `{"type":"post_call_audio","data":{"full_audio":"AAA`, false},
	{"truncated in an escape", `{"status":"completed","a":"\`, false},
	{"truncated in a unicode escape", `{"status":"completed","a":"\u00`, false},
	{"trailing garbage", `{"status":"completed"}x`, false},
	{"two objects", `{"status":"completed"} {}`, false},
	{"trailing NUL", "{\"status\":\"completed\"}\x00", false},
	{"leading BOM", "\ufeff{\"status\":\"completed\"}", false},
	{"trailing comma", `{"status":"completed",}`, false},
	{"trailing comma in an array", `{"status":"completed","a":[1,]}`, false},
	{"lone comma", `{,}`, false},
	{"missing colon", `{"a" 1,"status":"completed"}`, false},
	{"missing value", `{"a":,"status":"completed"}`, false},
	{"single quotes", `{'status':'completed'}`, false},
	{"unquoted name", `{status:"completed"}`, false},
	{"leading zero", `{"status":"completed","a":01}`, false},
	{"bare point", `{"status":"completed","a":1.}`, false},
	{"leading point", `{"status":"completed","a":.5}`, false},
	{"lone minus", `{"status":"completed","a":-}`, false},
	{"empty exponent", `{"status":"completed","a":1e}`, false},
	{"signed empty exponent", `{"status":"completed","a":1e+}`, false},
	{"plus sign", `{"status":"completed","a":+1}`, false},
	{"NaN", `{"status":"completed","a":NaN}`, false},
	{"Infinity", `{"status":"completed","a":-Infinity}`, false},
	{"hex number", `{"status":"completed","a":0x10}`, false},
	{"truncated true", `{"status":"completed","a":tru}`, false},
	{"truncated null", `{"status":"completed","a":nul}`, false},
	{"null with a tail", `{"status":"completed","a":nullx}`, false},
	{"null status with a tail", `{"status":nullx}`, false},
	{"capital literal", `{"status":"completed","a":True}`, false},
	{"bad escape", `{"status":"completed","a":"\x"}`, false},
	{"short unicode escape", `{"status":"completed","a":"\u12"}`, false},
	{"bad unicode escape", `{"status":"completed","a":"\u12G4"}`, false},
	{"control character", "{\"status\":\"completed\",\"a\":\"x\x01y\"}", false},
	{"raw tab in status", "{\"status\":\"completed\t\"}", false},
	{"raw newline in a name", "{\"sta\ntus\":\"completed\"}", false},
	{"DEL is fine", "{\"status\":\"completed\",\"a\":\"x\x7fy\"}", true},
	{"vertical tab as whitespace", "{\"status\":\"completed\"\v}", false},
	{"form feed as whitespace", "\f{\"status\":\"completed\"}", false},
	{"NBSP as whitespace", "{\"status\":\"completed\"\u00a0}", false},
	{"array after a name", `{"status":"completed","a":[1 2]}`, false},
	{"object in an array unclosed", `{"status":"completed","a":[{]}`, false},
	{"colon in an array", `{"status":"completed","a":[1:2]}`, false},
	{"comment", `{"status":"completed"/*x*/}`, false},
}

var ingestKeySegments = []string{"", "seg-1", "a b&c=d/é", strings.Repeat("s", 250)}

func TestIngestKey(t *testing.T) {
	t.Parallel()
	for _, tt := range ingestKeyCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, seg := range ingestKeySegments {
				body := []byte(tt.body)
				want := parseResult(body, seg)
				key, typ := IngestKey(body, seg)
				if diff := cmp.Diff(want, ingestResult{key, typ}); diff != "" {
					t.Errorf("segment %q: IngestKey differs from Parse (-Parse +IngestKey):\n%s", seg, diff)
				}
				fkey, ftyp, ok := fastIngestKey(body, seg)
				if ok != tt.fast {
					t.Errorf("segment %q: fast path taken = %v, want %v", seg, ok, tt.fast)
				}
				if ok {
					if diff := cmp.Diff(want, ingestResult{fkey, ftyp}); diff != "" {
						t.Errorf("segment %q: fastIngestKey differs from Parse (-Parse +fast):\n%s", seg, diff)
					}
				}
			}
		})
	}
}

// TestIngestKeyFastPath fails if the common forms silently fall back to
// Parse: IngestKey would stay correct, but lose its point.
func TestIngestKeyFastPath(t *testing.T) {
	t.Parallel()
	filler := strings.Repeat("lorem ipsum ", 9000)
	common := []string{
		`{"status":"completed","output":{"url":"https://audio.example/seg-1.mp3"},"metadata":{"notes":"` + filler[:900] + `"}}`,
		`{"status":"completed","output":{"url":"https://audio.example/seg-1.mp3"},"metadata":{"notes":"` + filler[:99_900] + `"}}`,
		`{"status":"failed","error":{"message":"quota exceeded"}}`,
		`{"status":"processing"}`,
		"{\n  \"status\": \"queued\",\n  \"output\": null\n}\n",
		`{"type":"project_conversion_status","event_timestamp":"1739537297","data":{"request_id":"req_1","project_id":"p_1","project_snapshot_id":"ps_1","conversion_status":"success"}}`,
		`{"type":"post_call_audio","event_timestamp":1739537297,"data":{"agent_id":"ag","conversation_id":"conv_1","full_audio":"SUQzBAAAAAAA"}}`,
		`{"type":"post_call_transcription","event_timestamp":1739537297,"data":{"agent_id":"ag","conversation_id":"conv_1","transcript":[{"role":"agent","message":"hi"}]}}`,
		`{"type":"speech_to_text_transcription","event_timestamp":1739537297,"data":{"request_id":"req_1","webhook_metadata":"{\"job_id\":\"job_1\",\"segment_id\":\"seg_1\"}","transcription":{"language_code":"en","language_probability":0.98,"text":"Hi there.","words":[{"text":"Hi","start":0,"end":0.3,"type":"word","speaker_id":"speaker_0"},{"text":" ","start":0.3,"end":0.35,"type":"spacing","speaker_id":"speaker_0"}]}}}`,
	}
	for _, body := range common {
		key, typ, ok := fastIngestKey([]byte(body), "seg-1")
		if !ok {
			t.Errorf("fast path not taken for %.80q", body)
			continue
		}
		if diff := cmp.Diff(parseResult([]byte(body), "seg-1"), ingestResult{key, typ}); diff != "" {
			t.Errorf("%.80q: fast path differs from Parse (-Parse +fast):\n%s", body, diff)
		}
	}
}

// TestIngestKeyFieldNames keeps topNames and dataNames, and what
// fastIngestKey assumes of each member's Go type, in step with wire and
// wireData: a member added there and not here would be ignored by the fast
// path while it changes what Parse accepts.
func TestIngestKeyFieldNames(t *testing.T) {
	t.Parallel()
	str := reflect.TypeFor[string]()
	raw := reflect.TypeFor[json.RawMessage]()
	loose := reflect.TypeFor[looseString]()
	check := func(st reflect.Type, names []string, want map[string]reflect.Type) {
		t.Helper()
		var tags []string
		for f := range st.Fields() {
			tag := f.Tag.Get("json")
			tags = append(tags, tag)
			if want[tag] != f.Type {
				t.Errorf("%s.%s (json %q) has type %v, fastIngestKey assumes %v", st.Name(), f.Name, tag, f.Type, want[tag])
			}
		}
		if diff := cmp.Diff(names, tags); diff != "" {
			t.Errorf("%s json names differ (-fastIngestKey +struct):\n%s", st.Name(), diff)
		}
	}
	check(reflect.TypeFor[wire](), topNames[:], map[string]reflect.Type{
		"type": str, "event_type": str, "eventType": str, "status": str,
		"data": reflect.TypeFor[*wireData](), "output": raw, "error": raw, "event_timestamp": loose,
	})
	check(reflect.TypeFor[wireData](), dataNames[:], map[string]reflect.Type{
		"conversation_id": loose, "agent_id": loose, "full_audio": raw, "project_id": loose,
		"project_snapshot_id": loose, "chapter_id": loose, "chapter_snapshot_id": loose,
		"request_id": loose, "conversion_status": loose, "error_details": raw,
		"webhook_metadata": raw, "transcription": raw,
	})
}

// TestIngestKeyRandom compares IngestKey with Parse on bodies built from the
// names and values that matter, in every combination the byte-level fuzzer
// is slow to reach: case variants, duplicates, ids of every JSON kind, and
// now and then a corrupted byte.
func TestIngestKeyRandom(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	names := []string{
		`"type"`, `"event_type"`, `"eventType"`, `"status"`, `"data"`, `"output"`, `"error"`,
		`"conversation_id"`, `"agent_id"`, `"full_audio"`, `"project_id"`, `"project_snapshot_id"`,
		`"chapter_id"`, `"chapter_snapshot_id"`, `"request_id"`, `"conversion_status"`, `"error_details"`,
		`"event_timestamp"`, `"text"`, `"Text"`, `"words"`, `"language_code"`,
		`"transcription"`, `"Transcription"`, `"webhook_metadata"`, `"transcription_id"`,
		`"Type"`, `"EVENT_TYPE"`, `"eventtype"`, `"Status"`, `"DATA"`, `"Project_ID"`, `"st\u0061tus"`,
		`"ſtatus"`, `"x"`, `""`, `"é"`, "\"\xff\"",
	}
	strs := []string{
		`"completed"`, `"Failed"`, `" queued "`, `""`, `"  "`, `"post_call_audio"`, `"project_conversion_status"`,
		`"success"`, `"speech_to_text_transcription"`, `"{\"job_id\":\"j\"}"`, `"p 1&x=y"`, `"\/"`, `"a\u0041"`, `"é"`, "\"\xff\"", "\"\u00a0\"", "\"\u212a\"",
	}
	lits := []string{`null`, `true`, `false`, `0`, `-1.5e3`, `12`, `1E+2`}
	var value func(depth int) string
	object := func(depth int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range rng.IntN(5) {
			if i > 0 {
				b.WriteString(pick([]string{",", " , ", ",\n"}))
			}
			b.WriteString(pick(names) + pick([]string{":", " : "}) + value(depth+1))
		}
		b.WriteString("}")
		return b.String()
	}
	value = func(depth int) string {
		switch n := rng.IntN(10); {
		case n < 4:
			return pick(strs)
		case n < 6:
			return pick(lits)
		case n < 8 && depth < 4:
			return object(depth)
		case depth < 4:
			return "[" + value(depth+1) + "," + value(depth+1) + "]"
		}
		return `null`
	}
	fast := 0
	const n = 20000
	for range n {
		body := []byte(pick([]string{"", " ", "\n"}) + object(0) + pick([]string{"", " ", "\r\n"}))
		if rng.IntN(8) == 0 {
			body[rng.IntN(len(body))] = pick([]string{"{", "}", "\"", ",", ":", "\\", "x", "\x00", "\xff", " "})[0]
		}
		seg := pick(ingestKeySegments)
		want := parseResult(body, seg)
		if key, typ := IngestKey(body, seg); (ingestResult{key, typ}) != want {
			t.Fatalf("IngestKey(%q, %q) = %q, %q; Parse gives %+v", body, seg, key, typ, want)
		}
		if _, _, ok := fastIngestKey(body, seg); ok {
			fast++
		}
	}
	t.Logf("%d of %d bodies took the fast path", fast, n)
	if fast < n/10 {
		t.Errorf("only %d of %d bodies took the fast path", fast, n)
	}
}

func FuzzIngestKey(f *testing.F) {
	for _, tt := range ingestKeyCases {
		if len(tt.body) < 4096 {
			f.Add([]byte(tt.body), "seg")
		}
	}
	f.Add([]byte(`{"type":"project_conversion_status","data":{"project_id":"p","conversion_status":"success"}}`), "a b&c")
	f.Add([]byte(`{"status":"completed"}`), "")
	f.Fuzz(func(t *testing.T, body []byte, segment string) {
		want := parseResult(body, segment)
		key, typ := IngestKey(body, segment)
		if got := (ingestResult{key, typ}); got != want {
			_, _, fast := fastIngestKey(body, segment)
			t.Fatalf("IngestKey(%q, %q) = %+v, Parse gives %+v (fast path %v)", body, segment, got, want, fast)
		}
	})
}
