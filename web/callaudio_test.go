package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
)

// memSpool is a Spool in memory.
type memSpool struct {
	mu      sync.Mutex
	entries map[string]*bytes.Buffer
	deleted []string
}

type memSpoolWriter struct {
	*bytes.Buffer
}

func (memSpoolWriter) Close() error { return nil }

func (m *memSpool) CreateSpool(ctx context.Context, id string) (io.WriteCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &bytes.Buffer{}
	m.entries[id] = b
	return memSpoolWriter{b}, nil
}

func (m *memSpool) OpenSpool(ctx context.Context, id string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.entries[id]
	if !ok {
		return nil, voicehook.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b.Bytes())), nil
}

func (m *memSpool) DeleteSpool(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, id)
	m.deleted = append(m.deleted, id)
	return nil
}

// TestLongCallAudioSpooled: a post_call_audio over the spooling size goes
// to the spool (its stored payload keeps only the JSON around the audio),
// a refused one leaves nothing spooled, and other large bodies keep
// --max-body-bytes.
func TestLongCallAudioSpooled(t *testing.T) {
	t.Parallel()
	spool := &memSpool{entries: map[string]*bytes.Buffer{}}
	hs := newHookServer(t, func(s *Server) { s.Spool = spool; s.MaxBodyBytes = 4 << 20 })
	audio := bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x64}, (spoolCallAudioAbove/4)+1000)
	body := []byte(fmt.Sprintf(`{"type":"post_call_audio","event_timestamp":1739537297,"data":{"agent_id":"a","conversation_id":"c","full_audio":"%s"}}`,
		base64.StdEncoding.EncodeToString(audio)))
	sig := elevenlabs.Sign(hookSecret, testNow, body)

	w := hs.post("", "", sig, bytes.NewReader(body), int64(len(body)))
	if w.Code != 200 {
		t.Fatalf("long call audio: %d %s", w.Code, w.Body.String())
	}
	ev := hs.stored[0]
	if want := `"full_audio":"` + elevenlabs.SpooledAudio + `"`; !strings.Contains(string(ev.RawPayload), want) || len(ev.RawPayload) > 1000 {
		t.Fatalf("stored payload (%d bytes) %.300s", len(ev.RawPayload), ev.RawPayload)
	}
	if got := spool.entries[ev.ID]; got == nil || !bytes.Equal(got.Bytes(), audio) {
		t.Fatalf("spooled audio differs")
	}
	if ev.Type != "post_call_audio" || ev.DedupeKey == "" {
		t.Fatalf("event %+v", ev)
	}

	// A forged signature: refused, and its spool deleted.
	bad := elevenlabs.Sign("wsec_other", testNow, body)
	if w := hs.post("", "", bad, bytes.NewReader(body), int64(len(body))); w.Code != 401 {
		t.Fatalf("forged long call audio: %d", w.Code)
	}
	if len(spool.entries) != 1 || len(spool.deleted) != 1 {
		t.Fatalf("after the forged one: %d entries, %d deleted", len(spool.entries), len(spool.deleted))
	}
	// Over --max-call-audio-bytes: 413 from the declared length.
	hs.srv.MaxCallAudioBytes = int64(len(body) - 1)
	if w := hs.post("", "", sig, bytes.NewReader(body), int64(len(body))); w.Code != 413 || !strings.Contains(w.Body.String(), "--max-call-audio-bytes") {
		t.Fatalf("over the call audio limit: %d %s", w.Code, w.Body.String())
	}
	// Another large body keeps --max-body-bytes.
	other := []byte(`{"type":"post_call_transcription","data":{"x":"` + strings.Repeat("x", 5<<20) + `"}}`)
	if w := hs.post("", "", elevenlabs.Sign(hookSecret, testNow, other), bytes.NewReader(other), int64(len(other))); w.Code != 413 ||
		!strings.Contains(w.Body.String(), "--max-body-bytes") {
		t.Fatalf("large non-audio body: %d %s", w.Code, w.Body.String())
	}
}
