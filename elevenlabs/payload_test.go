package elevenlabs_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

func TestParse(t *testing.T) {
	t.Parallel()
	completed := voicehook.OutcomeCompleted
	failed := voicehook.OutcomeFailed
	progress := voicehook.OutcomeProgress
	ignored := voicehook.OutcomeIgnored
	tests := []struct {
		name    string
		body    string
		segment string
		want    voicehook.Outcome
		wantErr bool
	}{
		// The seed's form.
		{
			name:    "seed completed",
			body:    `{"status":"completed","output":{"url":"https://cdn.example/a.mp3"}}`,
			segment: "seg1",
			want:    voicehook.Outcome{Kind: completed, EventType: "status:completed", SegmentID: "seg1", Audio: voicehook.AudioSource{URL: "https://cdn.example/a.mp3"}},
		},
		{
			name:    "seed completed status in capitals",
			body:    `{"status":"Completed","output":{"url":"https://cdn.example/a.mp3"}}`,
			segment: "seg1",
			want:    voicehook.Outcome{Kind: completed, EventType: "status:completed", SegmentID: "seg1", Audio: voicehook.AudioSource{URL: "https://cdn.example/a.mp3"}},
		},
		{
			name:    "seed completed without output",
			body:    `{"status":"completed"}`,
			segment: "seg1",
			want:    voicehook.Outcome{Kind: completed, EventType: "status:completed", SegmentID: "seg1"},
		},
		{
			name: "seed completed with output of another shape",
			body: `{"status":"completed","output":"https://cdn.example/a.mp3"}`,
			want: voicehook.Outcome{Kind: completed, EventType: "status:completed"},
		},
		{
			name:    "seed failed with message",
			body:    `{"status":"failed","error":{"message":"quota exceeded"}}`,
			segment: "seg2",
			want:    voicehook.Outcome{Kind: failed, EventType: "status:failed", SegmentID: "seg2", Message: "quota exceeded"},
		},
		{
			name:    "seed other status without error",
			body:    `{"status":"cancelled"}`,
			segment: "seg2",
			want:    voicehook.Outcome{Kind: failed, EventType: "status:cancelled", SegmentID: "seg2", Message: "Unknown error"},
		},
		{
			name: "seed error as a string",
			body: `{"status":"error","error":"voice not found"}`,
			want: voicehook.Outcome{Kind: failed, EventType: "status:error", Message: "voice not found"},
		},
		{name: "seed queued", body: `{"status":"queued"}`, segment: "s", want: voicehook.Outcome{Kind: progress, EventType: "status:queued", SegmentID: "s", Message: "queued"}},
		{name: "seed processing", body: `{"status":"processing"}`, want: voicehook.Outcome{Kind: progress, EventType: "status:processing", Message: "processing"}},
		{name: "seed pending", body: `{"status":"pending"}`, want: voicehook.Outcome{Kind: progress, EventType: "status:pending", Message: "pending"}},
		{name: "seed in_progress", body: `{"status":"in_progress"}`, want: voicehook.Outcome{Kind: progress, EventType: "status:in_progress", Message: "in_progress"}},
		{name: "seed started", body: `{"status":"started"}`, want: voicehook.Outcome{Kind: progress, EventType: "status:started", Message: "started"}},

		// post_call_audio.
		{
			name:    "post_call_audio, int timestamp",
			body:    `{"type":"post_call_audio","event_timestamp":1739537297,"data":{"agent_id":"ag1","conversation_id":"conv1","full_audio":"SUQzBAAAAAAA"}}`,
			segment: "seg3",
			want:    voicehook.Outcome{Kind: completed, EventType: "post_call_audio", SegmentID: "seg3", ExternalIDs: []string{"conv1", "ag1"}, Audio: voicehook.AudioSource{Base64: []byte("SUQzBAAAAAAA")}},
		},
		{
			name: "post_call_audio, string timestamp",
			body: `{"type":"post_call_audio","event_timestamp":"1739537297","data":{"conversation_id":"conv1","full_audio":"SUQzBAAAAAAA"}}`,
			want: voicehook.Outcome{Kind: completed, EventType: "post_call_audio", ExternalIDs: []string{"conv1"}, Audio: voicehook.AudioSource{Base64: []byte("SUQzBAAAAAAA")}},
		},
		{
			name: "post_call_audio with escaped slashes",
			body: `{"type":"post_call_audio","data":{"conversation_id":"conv1","full_audio":"ab\/cd+\/=="}}`,
			want: voicehook.Outcome{Kind: completed, EventType: "post_call_audio", ExternalIDs: []string{"conv1"}, Audio: voicehook.AudioSource{Base64: []byte("ab/cd+/==")}},
		},
		{
			name: "post_call_audio without audio",
			body: `{"type":"post_call_audio","data":{"conversation_id":"conv1"}}`,
			want: voicehook.Outcome{Kind: completed, EventType: "post_call_audio", ExternalIDs: []string{"conv1"}},
		},
		{
			name: "post_call_audio with numeric ids",
			body: `{"type":"post_call_audio","data":{"conversation_id":42,"agent_id":null,"full_audio":"AA=="}}`,
			want: voicehook.Outcome{Kind: completed, EventType: "post_call_audio", ExternalIDs: []string{"42"}, Audio: voicehook.AudioSource{Base64: []byte("AA==")}},
		},
		{
			name: "post_call_audio with non-string audio is ignored",
			body: `{"type":"post_call_audio","data":{"conversation_id":"conv1","full_audio":12}}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "post_call_audio",
				Message: "post_call_audio of a shape voicehook does not know (data.full_audio: not a string): recorded only"},
		},
		{
			name: "post_call_audio with data of another shape is ignored",
			body: `{"type":"post_call_audio","data":"oops"}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "post_call_audio",
				Message: "post_call_audio of a shape voicehook does not know (json: cannot unmarshal string into Go struct field wire.data of type elevenlabs.wireData): recorded only"},
		},

		// Studio conversions.
		{
			name:    "project conversion success",
			body:    `{"type":"project_conversion_status","event_timestamp":1739537297,"data":{"request_id":"req1","project_id":"p1","project_snapshot_id":"ps1","conversion_status":"success"}}`,
			segment: "seg4",
			want: voicehook.Outcome{Kind: completed, EventType: "project_conversion_status", SegmentID: "seg4", ExternalIDs: []string{"req1", "p1"},
				Audio: voicehook.AudioSource{Studio: &voicehook.StudioSnapshot{ProjectID: "p1", ProjectSnapshotID: "ps1"}}},
		},
		{
			name: "project conversion success naming a chapter streams the project",
			body: `{"type":"project_conversion_status","data":{"project_id":"p1","project_snapshot_id":"ps1","chapter_id":"c1","chapter_snapshot_id":"cs1","conversion_status":"success"}}`,
			want: voicehook.Outcome{Kind: completed, EventType: "project_conversion_status", ExternalIDs: []string{"c1", "p1"},
				Audio: voicehook.AudioSource{Studio: &voicehook.StudioSnapshot{ProjectID: "p1", ProjectSnapshotID: "ps1"}}},
		},
		{
			name: "chapter conversion success, string timestamp",
			body: `{"type":"chapter_conversion_status","event_timestamp":"1739537297","data":{"request_id":"req2","project_id":"p1","chapter_id":"c1","chapter_snapshot_id":"cs1","conversion_status":"success"}}`,
			want: voicehook.Outcome{Kind: completed, EventType: "chapter_conversion_status", ExternalIDs: []string{"req2", "c1", "p1"},
				Audio:   voicehook.AudioSource{Studio: &voicehook.StudioSnapshot{ProjectID: "p1", ChapterID: "c1", ChapterSnapshotID: "cs1"}},
				Chapter: true, ChapterID: "c1"},
		},
		{
			name: "conversion success without a snapshot id names no audio",
			body: `{"type":"project_conversion_status","data":{"project_id":"p1","conversion_status":"success"}}`,
			want: voicehook.Outcome{Kind: completed, EventType: "project_conversion_status", ExternalIDs: []string{"p1"}},
		},
		{
			name: "chapter conversion success without chapter snapshot names no audio",
			body: `{"type":"chapter_conversion_status","data":{"project_id":"p1","project_snapshot_id":"ps1","chapter_id":"c1","conversion_status":"success"}}`,
			want: voicehook.Outcome{Kind: completed, EventType: "chapter_conversion_status", ExternalIDs: []string{"c1", "p1"}, Chapter: true, ChapterID: "c1"},
		},
		{
			name: "conversion error, string details",
			body: `{"type":"project_conversion_status","data":{"project_id":"p1","conversion_status":"error","error_details":"voice removed"}}`,
			want: voicehook.Outcome{Kind: failed, EventType: "project_conversion_status", ExternalIDs: []string{"p1"}, Message: "voice removed"},
		},
		{
			name: "conversion error, object details",
			body: `{"type":"chapter_conversion_status","data":{"project_id":"p1","chapter_id":"c1","conversion_status":"error","error_details":{ "code" : 7, "reason": "quota" }}}`,
			want: voicehook.Outcome{Kind: failed, EventType: "chapter_conversion_status", ExternalIDs: []string{"c1", "p1"}, Message: `{"code":7,"reason":"quota"}`,
				Chapter: true, ChapterID: "c1"},
		},
		{
			name: "conversion error without details",
			body: `{"type":"project_conversion_status","data":{"project_id":"p1","conversion_status":"error"}}`,
			want: voicehook.Outcome{Kind: failed, EventType: "project_conversion_status", ExternalIDs: []string{"p1"}, Message: "Unknown error"},
		},
		{
			name: "conversion in progress",
			body: `{"type":"project_conversion_status","data":{"project_id":"p1","conversion_status":"processing"}}`,
			want: voicehook.Outcome{Kind: progress, EventType: "project_conversion_status", ExternalIDs: []string{"p1"}, Message: "processing"},
		},
		{
			name:    "conversion without status is ignored",
			body:    `{"type":"project_conversion_status","data":{"project_id":"p1"}}`,
			segment: "s",
			want: voicehook.Outcome{Kind: ignored, EventType: "project_conversion_status", SegmentID: "s",
				Message: "project_conversion_status of a shape voicehook does not know (data.conversion_status is missing): recorded only"},
		},
		{
			name: "chapter conversion without a chapter id is still a chapter's",
			body: `{"type":"chapter_conversion_status","data":{"project_id":"p1","conversion_status":"error"}}`,
			want: voicehook.Outcome{Kind: failed, EventType: "chapter_conversion_status", ExternalIDs: []string{"p1"}, Message: "Unknown error", Chapter: true},
		},

		// Everything else is recorded and ignored.
		{
			name: "event_type alias (SDK test vector)",
			body: `{"event_type": "speech.completed", "id": "123456"}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "speech.completed", Message: "event type speech.completed is not acted on"},
		},
		{
			name: "eventType alias (SDK test vector)",
			body: `{"eventType":"test_event","data":{"id":"123"}}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "test_event", Message: "event type test_event is not acted on"},
		},
		{
			name:    "post_call_transcription",
			body:    `{"type":"post_call_transcription","event_timestamp":1739537297,"data":{"conversation_id":"conv1","transcript":[]}}`,
			segment: "s",
			want:    voicehook.Outcome{Kind: ignored, EventType: "post_call_transcription", SegmentID: "s", Message: "event type post_call_transcription is not acted on"},
		},
		{
			name: "unknown type with data of another shape",
			body: `{"type":"voice_removal_notice","data":["v1","v2"]}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "voice_removal_notice", Message: "event type voice_removal_notice is not acted on"},
		},
		{
			name: "a new event type",
			body: `{"type":"agent_response_correction","event_timestamp":1739537297,"data":{"agent_id":"ag1"}}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "agent_response_correction", Message: "event type agent_response_correction is not acted on"},
		},
		{
			name: "speech_to_text_transcription envelope",
			body: `{"type":"speech_to_text_transcription","event_timestamp":1739537297,"data":{"request_id":"r1","webhook_metadata":"{}","transcription":{"language_code":"en","language_probability":0.98,"text":"Hi.","words":[{"text":"Hi.","start":0,"end":0.4,"type":"word","speaker_id":"s0"}]}}}`,
			want: voicehook.Outcome{Kind: voicehook.OutcomeTranscript, EventType: "speech_to_text_transcription", ExternalIDs: []string{"r1"},
				Transcription: &voicehook.Transcription{RequestID: "r1", Transcript: voicehook.Transcript{
					LanguageCode: "en", LanguageProbability: 0.98, Text: "Hi.",
					Words: []voicehook.TranscriptWord{{Text: "Hi.", Start: 0, End: 0.4, Type: "word", SpeakerID: "s0"}},
				}}},
		},
		{
			name:    "bare speech-to-text transcription object",
			body:    `{"language_code":"en","language_probability":0.98,"text":"Hi there.","words":[{"text":"Hi","start":0,"end":0.3,"type":"word"}]}`,
			segment: "s",
			want: voicehook.Outcome{Kind: voicehook.OutcomeTranscript, EventType: "speech_to_text_transcription", SegmentID: "s",
				Transcription: &voicehook.Transcription{Transcript: voicehook.Transcript{
					LanguageCode: "en", LanguageProbability: 0.98, Text: "Hi there.",
					Words: []voicehook.TranscriptWord{{Text: "Hi", Start: 0, End: 0.3, Type: "word"}},
				}}},
		},
		{
			name: "call_initiation_failure",
			body: `{"type":"call_initiation_failure","event_timestamp":1739537297,"data":{"agent_id":"ag1","conversation_id":"conv1","failure_reason":"busy"}}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "call_initiation_failure",
				Message: "call_initiation_failure: an agent's call did not start, so there is no audio; recorded only"},
		},
		{
			name: "voice_removal_notice names its voice",
			body: `{"type":"voice_removal_notice","event_timestamp":1739537297,"data":{"voice_id":"v1"}}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "voice_removal_notice", VoiceID: "v1",
				Message: "voice v1 is scheduled for removal: the segments voiced with it are marked; regenerate them before it goes"},
		},
		{
			name: "voice_removed names its voice",
			body: `{"type":"voice_removed","event_timestamp":1739537297,"data":{"voice_id":"v1"}}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "voice_removed", VoiceID: "v1",
				Message: "voice v1 has been removed: the segments voiced with it are marked; regenerate them with another voice"},
		},
		{
			name: "voice_removal_notice_withdrawn names its voice",
			body: `{"type":"voice_removal_notice_withdrawn","event_timestamp":1739537297,"data":{"voice_id":"v1"}}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "voice_removal_notice_withdrawn", VoiceID: "v1",
				Message: "the removal of voice v1 is withdrawn: its segments' marks are cleared"},
		},
		{
			name: "voice_removal_notice without a voice",
			body: `{"type":"voice_removal_notice","data":{"voice_id":{"id":"v1"}}}`,
			want: voicehook.Outcome{Kind: ignored, EventType: "voice_removal_notice", Message: "voice_removal_notice without a data.voice_id: recorded only"},
		},

		// JSON of no known shape is recorded and ignored.
		{name: "array", body: `[1,2]`, want: voicehook.Outcome{Kind: ignored, EventType: "unknown",
			Message: "unknown of a shape voicehook does not know (json: cannot unmarshal array into Go value of type elevenlabs.wire): recorded only"}},
		{name: "empty object", body: `{}`, want: voicehook.Outcome{Kind: ignored, EventType: "unknown",
			Message: "JSON with neither a type nor a status, of no shape voicehook knows: recorded only"}},
		{name: "status of another type", body: `{"status":200}`, want: voicehook.Outcome{Kind: ignored, EventType: "unknown",
			Message: "unknown of a shape voicehook does not know (json: cannot unmarshal number into Go struct field wire.status of type string): recorded only"}},

		// Not JSON: the only malformed payloads.
		{name: "not JSON", body: `status=completed`, segment: "s", want: voicehook.Outcome{SegmentID: "s"}, wantErr: true},
		{name: "empty body", body: ``, wantErr: true},
		{name: "truncated", body: `{"type":"post_call_audio","data":{"full_audio":"AAA`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := elevenlabs.Parse([]byte(tt.body), tt.segment)
			if tt.wantErr != (err != nil) {
				t.Fatalf("Parse error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, elevenlabs.ErrMalformedPayload) {
				t.Errorf("error %v does not wrap ErrMalformedPayload", err)
			}
			if diff := cmp.Diff(tt.want, got.Outcome); diff != "" {
				t.Errorf("Outcome mismatch (-want +got):\n%s", diff)
			}
			if got.DedupeKey == "" || len(got.DedupeKey) > 200 {
				t.Errorf("DedupeKey = %q", got.DedupeKey)
			}
		})
	}
}

func TestParseLargeAudio(t *testing.T) {
	t.Parallel()
	audio := make([]byte, 6<<20)
	rand.Read(audio)
	b64 := base64.StdEncoding.EncodeToString(audio)
	body := []byte(`{"type":"post_call_audio","event_timestamp":1739537297,"data":{"agent_id":"ag","conversation_id":"conv","full_audio":"` + b64 + `"}}`)
	got, err := elevenlabs.Parse(body, "seg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Outcome.Audio.Base64, []byte(b64)) {
		t.Fatalf("Base64 differs: %d bytes, want %d", len(got.Outcome.Audio.Base64), len(b64))
	}
	// The outcome must not alias the caller's buffer, which may be reused.
	for i := range body {
		body[i] = 'x'
	}
	if !bytes.Equal(got.Outcome.Audio.Base64, []byte(b64)) {
		t.Fatal("Audio.Base64 aliases the body")
	}
	if want := "el:post_call_audio:conversation_id=conv&event_timestamp=1739537297&segment_id=seg"; got.DedupeKey != want {
		t.Errorf("DedupeKey = %q, want %q", got.DedupeKey, want)
	}
}

func BenchmarkParseLargeAudio(b *testing.B) {
	audio := make([]byte, 8<<20)
	rand.Read(audio)
	body := []byte(`{"type":"post_call_audio","data":{"conversation_id":"conv","full_audio":"` + base64.StdEncoding.EncodeToString(audio) + `"}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := elevenlabs.Parse(body, "seg"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDedupeKey(t *testing.T) {
	t.Parallel()
	key := func(body, segment string) string {
		t.Helper()
		p, _ := elevenlabs.Parse([]byte(body), segment)
		return p.DedupeKey
	}
	studio := func(ts, status string) string {
		return `{"type":"project_conversion_status","event_timestamp":` + ts + `,"data":{"request_id":"r 1","project_id":"p1","project_snapshot_id":"ps1","conversion_status":"` + status + `"}}`
	}

	if got, want := key(studio("1", "success"), "seg"), "el:project_conversion_status:conversion_status=success&event_timestamp=1&project_id=p1&project_snapshot_id=ps1&request_id=r+1&segment_id=seg"; got != want {
		t.Errorf("studio key = %q, want %q", got, want)
	}
	// ElevenLabs dispatches each event once: another timestamp is another
	// event (the same project failing again later), the same body a
	// redelivery.
	if key(studio("1", "error"), "seg") == key(studio("3601", "error"), "seg") {
		t.Error("two failures of one project an hour apart share a key")
	}
	if got, want := key(studio("1", "error"), "seg"), "el:project_conversion_status:conversion_status=error&event_timestamp=1&project_id=p1&project_snapshot_id=ps1&request_id=r+1&segment_id=seg"; got != want {
		t.Errorf("a redelivery of the same body: key %q, want %q", got, want)
	}
	if key(studio("1", "error"), "seg") != key(studio(`"1"`, "error"), "seg") {
		t.Error("the same timestamp as a number and as a string got other keys")
	}
	noTS := func(details string) string {
		return `{"type":"project_conversion_status","data":{"project_id":"p1","conversion_status":"error","error_details":"` + details + `"}}`
	}
	if got := key(noTS("a"), ""); !strings.HasPrefix(got, "el:project_conversion_status:body=") || !strings.HasSuffix(got, "&conversion_status=error&project_id=p1") {
		t.Errorf("key without a timestamp = %q, want a short body hash in its place", got)
	}
	if key(noTS("a"), "") == key(noTS("b"), "") {
		t.Error("two failures without a timestamp share a key")
	}
	if key(studio("1", "success"), "seg") == key(studio("1", "processing"), "seg") {
		t.Error("progress and success of one conversion share a key")
	}
	if key(studio("1", "success"), "a") == key(studio("1", "success"), "b") {
		t.Error("the segment does not change the key")
	}

	noIDs := `{"event_type": "speech.completed", "id": "123456"}`
	if got := key(noIDs, ""); !strings.HasPrefix(got, "el:speech.completed:sha256=") || len(got) != len("el:speech.completed:sha256=")+64 {
		t.Errorf("id-less key = %q", got)
	}
	if key(noIDs, "") == key(`{"event_type": "speech.completed", "id": "123457"}`, "") {
		t.Error("id-less events with different bodies share a key")
	}

	seed := `{"status":"completed","output":{"url":"https://x"}}`
	if got := key(seed, "seg9"); !strings.HasPrefix(got, "seed:seg9:") || len(got) != len("seed:seg9:")+64 {
		t.Errorf("seed key = %q", got)
	}
	if key(seed, "a") == key(seed, "b") {
		t.Error("seed key ignores the segment")
	}

	if got := key("not json", "seg"); !strings.HasPrefix(got, "raw:seg:") {
		t.Errorf("malformed key = %q", got)
	}
	if key("not json", "a") == key("not json", "b") {
		t.Error("malformed key ignores the segment")
	}

	long := strings.Repeat("x", 300)
	got := key(`{"type":"post_call_audio","data":{"conversation_id":"`+long+`"}}`, "")
	if len(got) > 200 || !strings.HasPrefix(got, "el:sha256=") {
		t.Errorf("long key = %q", got)
	}
	if got2 := key(`{"type":"post_call_audio","data":{"conversation_id":"`+long+`"}}`, ""); got2 != got {
		t.Error("long key is not deterministic")
	}
	if got := key(seed, long); len(got) > 200 || !strings.HasPrefix(got, "seed:sha256=") {
		t.Errorf("seed key with long segment = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"status":"completed","output":{"url":"https://cdn.example/a.mp3"}}`,
		`{"status":"failed","error":{"message":"x"}}`,
		`{"type":"post_call_audio","event_timestamp":1,"data":{"conversation_id":"c","full_audio":"AA\/=="}}`,
		`{"type":"project_conversion_status","data":{"project_id":"p","project_snapshot_id":"s","conversion_status":"success"}}`,
		`{"type":"chapter_conversion_status","data":{"project_id":"p","chapter_id":"c","chapter_snapshot_id":"s","conversion_status":"error","error_details":{"a":1}}}`,
		`{"event_type": "speech.completed", "id": "123456"}`,
		`{"type":"x","data":[1]}`,
		`{"type":"speech_to_text_transcription","event_timestamp":1,"data":{"request_id":"r","webhook_metadata":"{\"job_id\":\"j\",\"n\":[1]}","transcription":{"language_code":"en","text":"Hi.","words":[{"text":"Hi.","start":0,"end":0.4,"type":"word","speaker_id":"s0"}]}}}`,
		`{"request_id":"r","webhook_metadata":{"job_id":"j"},"text":"Hi.","words":[]}`,
		`{"type":"post_call_audio","data":{"full_audio":""}}`,
		`{"type":"post_call_audio","data":{"full_audio":"\""}}`,
		``, `null`, `{`, `"x"`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "seg")
	}
	f.Fuzz(func(t *testing.T, body []byte, segment string) {
		p1, err1 := elevenlabs.Parse(body, segment)
		p2, err2 := elevenlabs.Parse(body, segment)
		if p1.DedupeKey != p2.DedupeKey || (err1 == nil) != (err2 == nil) {
			t.Fatalf("Parse is not deterministic: %q/%v vs %q/%v", p1.DedupeKey, err1, p2.DedupeKey, err2)
		}
		if p1.DedupeKey == "" || len(p1.DedupeKey) > 200 {
			t.Fatalf("DedupeKey = %q", p1.DedupeKey)
		}
		if err1 != nil {
			if !errors.Is(err1, elevenlabs.ErrMalformedPayload) {
				t.Fatalf("error %v does not wrap ErrMalformedPayload", err1)
			}
			return
		}
		if p1.Outcome.SegmentID != segment {
			t.Fatalf("SegmentID = %q, want the parameter %q", p1.Outcome.SegmentID, segment)
		}
		switch p1.Outcome.Kind {
		case voicehook.OutcomeCompleted, voicehook.OutcomeFailed, voicehook.OutcomeProgress, voicehook.OutcomeIgnored:
		case voicehook.OutcomeTranscript:
			if p1.Outcome.Transcription == nil || p1.Outcome.EventType == "" {
				t.Fatalf("transcript outcome without a transcription: %+v", p1.Outcome)
			}
		default:
			t.Fatalf("Kind = %q", p1.Outcome.Kind)
		}
		if (p1.Outcome.Transcription != nil) != (p1.Outcome.Kind == voicehook.OutcomeTranscript) {
			t.Fatalf("Transcription %v on a %q outcome", p1.Outcome.Transcription, p1.Outcome.Kind)
		}
		if p1.Outcome.Kind == voicehook.OutcomeFailed && p1.Outcome.Message == "" {
			t.Fatal("failure without a message")
		}
	})
}
