package elevenlabs_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// Benchmarks of the per-delivery work before the store: the signature check
// and the payload's normalisation. `go test -bench . -run ^$ ./elevenlabs/`.

// benchBodies are callback bodies of the sizes the load tool sends.
func benchBodies() []struct {
	name string
	body []byte
} {
	filler := func(n int) string { return strings.Repeat("lorem ipsum ", n/12+1)[:n] }
	seed := func(size int) []byte {
		head := `{"status":"completed","output":{"url":"https://audio.example/seg-1.mp3"},"metadata":{"notes":"`
		return []byte(head + filler(max(size-len(head)-3, 0)) + `"}}`)
	}
	audio := base64.StdEncoding.EncodeToString(audiotest.MP3(5 * time.Minute)) // ≈ 6.4 MB of base64
	return []struct {
		name string
		body []byte
	}{
		{"seed_1KB", seed(1000)},
		{"seed_100KB", seed(100_000)},
		{"studio_success", []byte(`{"type":"project_conversion_status","event_timestamp":"1739537297","data":{"request_id":"req_1","project_id":"p_1","project_snapshot_id":"ps_1","conversion_status":"success"}}`)},
		{"post_call_transcription", []byte(`{"type":"post_call_transcription","event_timestamp":1739537297,"data":{"agent_id":"ag","conversation_id":"conv_1","transcript":[{"role":"agent","message":"` + filler(800) + `"}]}}`)},
		{"post_call_audio_5MB", []byte(`{"type":"post_call_audio","event_timestamp":1739537297,"data":{"agent_id":"ag","conversation_id":"conv_1","full_audio":"` + audio[:5_000_000] + `"}}`)},
	}
}

func BenchmarkVerify(b *testing.B) {
	const secret = "wsec_benchmark_secret"
	for _, bb := range benchBodies() {
		b.Run(bb.name, func(b *testing.B) {
			v := &elevenlabs.Verifier{Secrets: []string{secret}}
			header := elevenlabs.Sign(secret, time.Now(), bb.body)
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(header, bb.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Rotation: the signature matches the last of three secrets.
	b.Run("seed_1KB_third_of_3_secrets", func(b *testing.B) {
		body := benchBodies()[0].body
		v := &elevenlabs.Verifier{Secrets: []string{"wsec_a", "wsec_b", secret}}
		header := elevenlabs.Sign(secret, time.Now(), body)
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Verify(header, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A replayed stale header is refused before any hashing.
	b.Run("stale_5MB", func(b *testing.B) {
		body := benchBodies()[len(benchBodies())-1].body
		v := &elevenlabs.Verifier{Secrets: []string{secret}}
		header := elevenlabs.Sign(secret, time.Now().Add(-time.Hour), body)
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Verify(header, body); err == nil {
				b.Fatal("stale signature accepted")
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bb := range benchBodies() {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := elevenlabs.Parse(bb.body, "seg-1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIngestKey is BenchmarkParse's counterpart for what the webhook
// handler needs of a body before storing it: its dedupe key and event type.
func BenchmarkIngestKey(b *testing.B) {
	for _, bb := range benchBodies() {
		want, _ := elevenlabs.Parse(bb.body, "seg-1")
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if key, _ := elevenlabs.IngestKey(bb.body, "seg-1"); key != want.DedupeKey {
					b.Fatalf("key %q, Parse gives %q", key, want.DedupeKey)
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	for _, size := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			body := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				_ = elevenlabs.Sign("wsec_x", time.Unix(1600000000, 0), body)
			}
		})
	}
}
