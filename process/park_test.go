package process_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
)

// memWaits records what the processor parks and wakes. onPark, if set,
// runs inside Park (after the wait is recorded): a job created meanwhile.
type memWaits struct {
	mu     sync.Mutex
	store  *memStore
	parks  []parked
	wakes  [][]string
	onPark func()
}

type parked struct {
	Attempt voicehook.Attempt
	Keys    []string
	Until   time.Time
}

func (w *memWaits) Park(ctx context.Context, a voicehook.Attempt, keys []string, until time.Time) error {
	w.mu.Lock()
	w.parks = append(w.parks, parked{a, keys, until})
	first := len(w.parks) == 1
	w.mu.Unlock()
	if first {
		if err := w.store.RecordAttempt(ctx, a, nil); err != nil {
			return err
		}
	}
	if w.onPark != nil {
		w.onPark()
	}
	return nil
}

func (w *memWaits) Wake(ctx context.Context, keys []string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wakes = append(w.wakes, keys)
	return 1, nil
}

func withWaits(b bundle) *memWaits {
	w := &memWaits{store: b.store}
	b.p.Waits = w
	return w
}

// TestEarlyEventParks: an event with no job yet is parked on its segment
// and the sender's ids until its grace runs out, with one "waiting"
// attempt; the queue job ends (no snooze, no retry).
func TestEarlyEventParks(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	w := withWaits(b)
	received := b.clock.Now().Add(-3 * time.Second)
	b.addEvent("evt_1", inlineAudio, received, voicehook.EventReceived)
	for attempt := 1; attempt <= 2; attempt++ {
		res := b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: attempt, MaxAttempts: 10})
		if diff := cmp.Diff(voicehook.RunResult{}, res); diff != "" {
			t.Fatalf("attempt %d result (-want +got):\n%s", attempt, diff)
		}
	}
	if len(w.parks) != 2 || len(w.wakes) != 0 {
		t.Fatalf("parks %d, wakes %d; want 2 parks (one per run) and no wake", len(w.parks), len(w.wakes))
	}
	p := w.parks[0]
	if diff := cmp.Diff([]string{"segment:seg_1", "external:conv_1"}, p.Keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if !p.Until.Equal(received.Add(grace)) {
		t.Errorf("until %s; want received + grace %s", p.Until, received.Add(grace))
	}
	if p.Attempt.Outcome != voicehook.AttemptWaiting || !strings.Contains(p.Attempt.Error, `waiting for a job for segment "seg_1" or ids conv_1 since `+received.UTC().Format(time.RFC3339)) {
		t.Errorf("attempt %+v; want waiting, for segment seg_1 since its receipt", p.Attempt)
	}
	got := b.result("evt_1", voicehook.RunResult{})
	if diff := cmp.Diff([]voicehook.AttemptOutcome{voicehook.AttemptWaiting}, got.Attempts); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if got.Event != voicehook.EventReceived {
		t.Errorf("event %s; want still received", got.Event)
	}
}

// TestJobCreatedAsTheEventParksWakesIt: the job appears between the
// event's look and its park (the creator's wake found no wait yet); the
// look after the park sees it and wakes the event.
func TestJobCreatedAsTheEventParksWakesIt(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	w := withWaits(b)
	w.onPark = func() {
		b.store.mu.Lock()
		defer b.store.mu.Unlock()
		b.addJob(voicehook.JobProcessing, time.Time{})
	}
	b.addEvent("evt_1", inlineAudio, b.clock.Now(), voicehook.EventReceived)
	if res := b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 10}); res.Retry != nil || res.Wait != 0 {
		t.Fatalf("result %+v; want done", res)
	}
	if diff := cmp.Diff([][]string{{"segment:seg_1", "external:conv_1"}}, w.wakes); diff != "" {
		t.Errorf("wakes (-want +got):\n%s", diff)
	}
}

// TestParkedEventFailsAfterGrace: woken by the expiry sweep, the event
// fails naming the grace, as before parking existed.
func TestParkedEventFailsAfterGrace(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	w := withWaits(b)
	b.addEvent("evt_1", inlineAudio, b.clock.Now().Add(-grace), voicehook.EventReceived)
	b.p.Process(context.Background(), voicehook.Run{EventID: "evt_1", Attempt: 1, MaxAttempts: 10})
	if len(w.parks) != 0 {
		t.Errorf("parked after the grace: %+v", w.parks)
	}
	ev := b.store.events["evt_1"]
	if ev.Status != voicehook.EventFailed || !strings.Contains(ev.ErrorDetails, "--job-match-grace") {
		t.Errorf("event %s %q; want failed naming --job-match-grace", ev.Status, ev.ErrorDetails)
	}
}
