package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// TestTwoHourCallAudio: a post_call_audio webhook carrying a two-hour call
// (~150 MB of JSON; the old 32 MiB limit refused anything over ~26 minutes,
// and ElevenLabs does not retry audio webhooks) is acknowledged, processed
// into the conversation's job with the exact audio, and never held whole in
// the server's memory.
func TestTwoHourCallAudio(t *testing.T) {
	t.Parallel()
	audio := audiotest.MP3(2 * time.Hour)
	p := startServe(t, "--data-dir", t.TempDir(), "--elevenlabs-secret", testSecret)
	h := &harness{t: t, base: p.base}
	job := h.createJob("call-seg", "conv-2h")

	head := fmt.Appendf(nil, `{"type":"post_call_audio","event_timestamp":%d,"data":{"agent_id":"agent-1","conversation_id":"conv-2h","full_audio":"`, time.Now().Unix())
	tail := []byte(`"}}`)
	body := func(w io.Writer) {
		_, _ = w.Write(head)
		enc := base64.NewEncoder(base64.StdEncoding, w)
		_, _ = enc.Write(audio)
		_ = enc.Close()
		_, _ = w.Write(tail)
	}
	size := int64(len(head) + base64.StdEncoding.EncodedLen(len(audio)) + len(tail))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(ts + "."))
	body(mac)
	sig := "t=" + ts + ",v0=" + hex.EncodeToString(mac.Sum(nil))

	send := func() (int, ack) {
		pr, pw := io.Pipe()
		go func() { body(pw); pw.Close() }()
		req, err := http.NewRequest("POST", p.base+"/webhooks/elevenlabs", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		req.Header.Set(elevenlabs.HeaderName, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a ack
		_ = jsonDecode(resp.Body, &a)
		return resp.StatusCode, a
	}
	code, a := send()
	if code != 200 || a.Duplicate {
		t.Fatalf("two-hour call (%d MiB body): %d %+v", size>>20, code, a)
	}
	ev := h.waitEventLong(a.EventID, 60*time.Second)
	if ev.Status != "succeeded" || ev.RelatedJob != job.ID {
		t.Fatalf("event = %+v", ev)
	}
	want := sha256.Sum256(audio)
	seg := h.segment("call-seg")
	if seg.Status != "voiceover_ready" || seg.Bytes != int64(len(audio)) || seg.SHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("segment = %+v, want %d bytes", seg, len(audio))
	}
	if code, again := send(); code != 200 || !again.Duplicate || again.EventID != a.EventID {
		t.Fatalf("redelivery: %d %+v, want a duplicate of %s", code, again, a.EventID)
	}
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("%d MiB call body (%d MiB audio): server peak RSS %d MiB", size>>20, len(audio)>>20, peak>>20)
	if peak > 150<<20 {
		t.Fatalf("server peak RSS %d MiB for a %d MiB body: it was held in memory", peak>>20, size>>20)
	}
}
