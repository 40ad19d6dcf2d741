package process_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// memSpool is a voicehook.Spool in memory.
type memSpool struct {
	mu      sync.Mutex
	entries map[string][]byte
}

func (m *memSpool) CreateSpool(ctx context.Context, id string) (io.WriteCloser, error) {
	panic("processing never creates spool entries")
}

func (m *memSpool) OpenSpool(ctx context.Context, id string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.entries[id]
	if !ok {
		return nil, voicehook.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memSpool) DeleteSpool(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, id)
	return nil
}

// TestSpooledCallAudio: a long call's spooled audio completes its job and
// is then deleted; one no job will ever claim is deleted at once; one whose
// job is not there yet keeps it, for the attempts to come.
func TestSpooledCallAudio(t *testing.T) {
	t.Parallel()
	spooled := func(agent, conv string) string {
		return `{"type":"post_call_audio","event_timestamp":1700000000,"data":{"agent_id":"` + agent + `","conversation_id":"` + conv +
			`","full_audio":"` + elevenlabs.SpooledAudio + `"}}`
	}
	audio := audiotest.MP3(time.Second)
	cases := []struct {
		name      string
		payload   string
		job       bool
		want      voicehook.EventStatus
		wait      bool
		keepSpool bool
	}{
		{name: "completes its job", payload: spooled("ag_1", "conv_1"), job: true, want: voicehook.EventSucceeded},
		{name: "not ours", payload: spooled("ag_other", "conv_9"), want: voicehook.EventIgnored},
		{name: "its job finished before", payload: spooled("ag_1", "conv_1"), want: voicehook.EventReceived, wait: true, keepSpool: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, true)
			spool := &memSpool{entries: map[string][]byte{"evt_1": audio}}
			b.p.Spool = spool
			status := voicehook.JobProcessing
			if !tc.job {
				status = voicehook.JobCompleted
			}
			b.addJob(status, b.clock.Now().Add(-time.Minute))
			b.nameJob("conv_1")
			b.addEventFor("evt_1", "", tc.payload, b.clock.Now(), voicehook.EventReceived)
			res := b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 10})
			if got := b.store.events["evt_1"].Status; got != tc.want || (res.Wait > 0) != tc.wait {
				t.Fatalf("event %s, wait %s; want %s (wait %v): %s", got, res.Wait, tc.want, tc.wait, b.store.events["evt_1"].ErrorDetails)
			}
			if _, kept := spool.entries["evt_1"]; kept != tc.keepSpool {
				t.Fatalf("spool kept = %v, want %v", kept, tc.keepSpool)
			}
			sum := sha256.Sum256(audio)
			if tc.job && (len(b.storage.puts) != 1 || b.storage.puts[0].SHA256 != hex.EncodeToString(sum[:])) {
				t.Fatalf("stored %d objects; want the spooled audio once", len(b.storage.puts))
			}
		})
	}
}
