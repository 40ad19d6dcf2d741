package airtable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/voicehooktest"
)

func TestClientRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fail      []int // statuses injected, in order
		call      func(c *Client, seg string) error
		route     string
		requests  int
		wantErr   bool
		permanent bool
	}{
		{"GET retried after 503s", []int{503, 502}, func(c *Client, _ string) error {
			_, err := c.List(context.Background(), "Jobs", ListQuery{})
			return err
		}, "GET Jobs", 3, false, false},
		{"GET gives up after its retries", []int{500, 500, 500}, func(c *Client, _ string) error {
			_, err := c.List(context.Background(), "Jobs", ListQuery{})
			return err
		}, "GET Jobs", 3, true, false},
		{"PATCH retried (the same values again)", []int{503}, func(c *Client, seg string) error {
			_, err := c.Update(context.Background(), "Segments", []Record{{ID: seg, Fields: map[string]any{"Status": "voiceover_ready"}}})
			return err
		}, "PATCH Segments", 2, false, false},
		{"POST never retried", []int{503}, func(c *Client, _ string) error {
			_, err := c.Create(context.Background(), "Segments", []Record{{Fields: map[string]any{"Name": "x"}}})
			return err
		}, "POST Segments", 1, true, false},
		{"4xx permanent, not retried", []int{422}, func(c *Client, _ string) error {
			_, err := c.List(context.Background(), "Jobs", ListQuery{})
			return err
		}, "GET Jobs", 1, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t, airtabletest.Options{})
			seg := insert(t, emu, "Segments", map[string]any{"Name": "s"})
			for _, s := range tt.fail {
				emu.FailNext(1, s)
			}
			c := NewClient(testConfig(emu, nil))
			err := tt.call(c, seg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && voicehook.IsPermanent(err) != tt.permanent {
				t.Errorf("permanent = %v, want %v (%v)", !tt.permanent, tt.permanent, err)
			}
			if got := emu.Requests()[tt.route]; got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
		})
	}
}

func TestClientTypedErrors(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	c := NewClient(testConfig(emu, nil))
	_, err := c.Create(context.Background(), "Jobs", []Record{{Fields: map[string]any{"Status": "done"}}})
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an *APIError", err)
	}
	want := APIError{422, "INVALID_MULTIPLE_CHOICE_OPTIONS", `Insufficient permissions to create new select option ""done""`}
	if diff := cmp.Diff(want, *ae); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !voicehook.IsPermanent(err) {
		t.Error("a refused select value is permanent")
	}
	if _, err := c.Create(context.Background(), "Jobs", make([]Record, 11)); err == nil || emu.TotalRequests() != 1 {
		t.Errorf("11 records: err %v after %d requests; want an error and no request", err, emu.TotalRequests()-1)
	}
}

// TestTokenNeverShown: the token travels in the Authorization header only,
// never in errors or logs.
func TestTokenNeverShown(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	var logs bytes.Buffer
	var mu sync.Mutex
	cfg := testConfig(emu, voicehooktest.NewClock())
	cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := NewClient(cfg)
	var errs []error
	emu.FailNext(3, 503)
	_, err := c.List(context.Background(), "Jobs", ListQuery{})
	errs = append(errs, err)
	emu.FailNext(1, 429)
	_, err = c.List(context.Background(), "Jobs", ListQuery{})
	errs = append(errs, err)
	bad := cfg
	bad.APIURL = "http://127.0.0.1:1"
	_, err = NewClient(bad).List(context.Background(), "Jobs", ListQuery{})
	errs = append(errs, err)
	wrong := cfg
	wrong.Token = "patWrongToken.secret"
	_, err = NewClient(wrong).List(context.Background(), "Jobs", ListQuery{})
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("want an error")
		}
		if strings.Contains(err.Error(), emu.Token) || strings.Contains(err.Error(), "patWrongToken") {
			t.Errorf("error shows the token: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), emu.Token) {
		t.Errorf("logs show the token:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestSilenceAfter429: a 429 silences the whole base for at least 30 s (by
// the fake clock): no request at all until then, from any caller.
func TestSilenceAfter429(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	clock := voicehooktest.NewClock()
	c := NewClient(testConfig(emu, clock))
	emu.FailNext(1, 429)
	_, err := c.List(context.Background(), "Jobs", ListQuery{})
	if err == nil || voicehook.IsPermanent(err) {
		t.Fatalf("429: err = %v, want a transient error", err)
	}
	sent := emu.TotalRequests()
	for _, wait := range []time.Duration{0, 10 * time.Second, 19*time.Second + 900*time.Millisecond} {
		clock.Advance(wait)
		_, err := c.Create(context.Background(), "Segments", []Record{{Fields: map[string]any{"Name": "x"}}})
		var se *SilenceError
		if !errors.As(err, &se) {
			t.Fatalf("after %v more: err = %v, want a *SilenceError", wait, err)
		}
		if voicehook.IsPermanent(err) {
			t.Error("silence is transient")
		}
	}
	if got := emu.TotalRequests(); got != sent {
		t.Fatalf("%d requests sent during the silence", got-sent)
	}
	clock.Advance(4 * time.Second) // past 30 s plus the largest jitter (3 s)
	if _, err := c.List(context.Background(), "Jobs", ListQuery{}); err != nil {
		t.Fatalf("after the silence: %v", err)
	}
}

// TestRateLimitShared: many workers through one client stay under the
// emulator's real limit of 5 requests in any second.
func TestRateLimitShared(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{RateLimit: 5})
	cfg := testConfig(emu, nil)
	cfg.RequestsPerSecond = 4
	c := NewClient(cfg)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 9)
	for range 9 {
		wg.Go(func() {
			_, err := c.List(context.Background(), "Jobs", ListQuery{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a request was refused: %v", err)
		}
	}
	if took := time.Since(start); took < 1900*time.Millisecond {
		t.Errorf("9 requests took %v; at 4/s they need 2 s", took)
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, airtabletest.Options{})
	for i := range 230 {
		insert(t, emu, "Segments", map[string]any{"Name": fmt.Sprint(i)})
	}
	c := NewClient(testConfig(emu, nil))
	recs, err := c.List(context.Background(), "Segments", ListQuery{Fields: []string{"Name"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 230 || recs[229].Fields["Name"] != "229" {
		t.Errorf("%d records, want all 230 in order", len(recs))
	}
	if got := emu.Requests()["GET Segments"]; got != 3 {
		t.Errorf("%d requests, want 3 pages", got)
	}
}
