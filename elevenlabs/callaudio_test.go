package elevenlabs_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/voicehook/voicehook/elevenlabs"
)

// TestCallAudioSplitter: however a post_call_audio body is cut into writes,
// the audio comes out decoded and the JSON around it comes out whole, with
// full_audio's value replaced, and parses as the same event.
func TestCallAudioSplitter(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	audio := make([]byte, 300_001)
	for i := range audio {
		audio[i] = byte(rng.UintN(256))
	}
	b64 := base64.StdEncoding.EncodeToString(audio)
	escaped := strings.ReplaceAll(b64, "/", `\/`) // as some JSON encoders write it
	for name, enc := range map[string]string{"plain": b64, "escaped slashes": escaped} {
		body := []byte(`{"type":"post_call_audio", "event_timestamp":1739537297,"data":{"agent_id":"ag\"1","conversation_id":"conv_1","full_audio" : "` +
			enc + `","note":"full_audio"}}`)
		if !elevenlabs.IsCallAudio(body[:64]) {
			t.Fatal("IsCallAudio: false for a post_call_audio body")
		}
		for _, cut := range []int{1, 3, 7, 4096, 65536, len(body)} {
			var got bytes.Buffer
			s := elevenlabs.NewCallAudioSplitter(&got)
			for i := 0; i < len(body); i += cut {
				if _, err := s.Write(body[i:min(i+cut, len(body))]); err != nil {
					t.Fatalf("%s, cut %d: %v", name, cut, err)
				}
			}
			kept, err := s.Finish()
			if err != nil {
				t.Fatalf("%s, cut %d: Finish: %v", name, cut, err)
			}
			if !bytes.Equal(got.Bytes(), audio) || s.AudioBytes() != int64(len(audio)) {
				t.Fatalf("%s, cut %d: audio %d bytes, want %d", name, cut, got.Len(), len(audio))
			}
			want := `{"type":"post_call_audio", "event_timestamp":1739537297,"data":{"agent_id":"ag\"1","conversation_id":"conv_1","full_audio" : "` +
				elevenlabs.SpooledAudio + `","note":"full_audio"}}`
			if string(kept) != want {
				t.Fatalf("%s, cut %d: kept %s", name, cut, kept)
			}
			p, err := elevenlabs.Parse(kept, "")
			if err != nil || p.Outcome.EventType != "post_call_audio" || !p.Outcome.Audio.Spooled || p.Outcome.ExternalIDs[0] != "conv_1" {
				t.Fatalf("kept JSON parses as %+v, %v", p, err)
			}
		}
	}
}

func TestCallAudioSplitterRefuses(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		body string
		want error
	}{
		"no full_audio":        {`{"type":"post_call_audio","data":{"conversation_id":"c"}}`, elevenlabs.ErrNoCallAudio},
		"full_audio not text":  {`{"type":"post_call_audio","data":{"full_audio":null}}`, elevenlabs.ErrNoCallAudio},
		"unterminated":         {`{"type":"post_call_audio","data":{"full_audio":"AAAA`, elevenlabs.ErrNoCallAudio},
		"too much JSON around": {`{"type":"post_call_audio","pad":"` + strings.Repeat("x", 2<<20) + `","data":{"full_audio":"AAAA"}}`, elevenlabs.ErrCallAudioShape},
	}
	for name, tc := range cases {
		s := elevenlabs.NewCallAudioSplitter(&bytes.Buffer{})
		_, _ = s.Write([]byte(tc.body))
		if _, err := s.Finish(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	s := elevenlabs.NewCallAudioSplitter(&bytes.Buffer{})
	_, _ = s.Write([]byte(`{"type":"post_call_audio","data":{"full_audio":"!!!!"}}`))
	if _, err := s.Finish(); err == nil || !strings.Contains(err.Error(), "base64") {
		t.Errorf("not base64: %v", err)
	}
	for _, prefix := range []string{`{"data":{},"type":"post_call_audio"}`, `{"type":"post_call_transcription"}`, `[]`} {
		if elevenlabs.IsCallAudio([]byte(prefix)) {
			t.Errorf("IsCallAudio(%s) = true", prefix)
		}
	}
}
