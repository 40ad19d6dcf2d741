package airtable

import (
	"context"
	"testing"
	"time"

	"github.com/voicehook/voicehook/airtable/airtabletest"
	"github.com/voicehook/voicehook/voicehooktest"
)

// newEmulator starts an emulator without a rate limit unless opts sets
// one: most tests use a fast client.
func newEmulator(t testing.TB, opts airtabletest.Options) *airtabletest.Server {
	t.Helper()
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	emu := airtabletest.New(opts)
	t.Cleanup(emu.Close)
	return emu
}

// testConfig points a fast client at emu.
func testConfig(emu *airtabletest.Server, clock *voicehooktest.Clock) Config {
	cfg := DefaultConfig()
	cfg.Token, cfg.Base, cfg.APIURL = emu.Token, emu.Base, emu.URL
	cfg.RequestsPerSecond = 1000
	cfg.BatchWindow = 5 * time.Millisecond
	cfg.RetryBackoff = 5 * time.Millisecond
	cfg.MirrorRetry = 20 * time.Millisecond
	cfg.RequestTimeout = 10 * time.Second
	if clock != nil {
		cfg.Clock = clock
	}
	return cfg
}

func newRecords(t testing.TB, cfg Config) *Records {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r
}

func insert(t testing.TB, emu *airtabletest.Server, table string, fields map[string]any) string {
	t.Helper()
	id, err := emu.Insert(table, fields)
	if err != nil {
		t.Fatalf("inserting into %s: %v", table, err)
	}
	return id
}

// segmentWithJob makes a segment and a processing voiceover job for it, as
// the user's pipeline would.
func segmentWithJob(t testing.TB, emu *airtabletest.Server, name string) (seg, job string) {
	t.Helper()
	seg = insert(t, emu, "Segments", map[string]any{"Name": name, "Status": "pending"})
	job = insert(t, emu, "Jobs", map[string]any{"Related Segment": []string{seg}, "Type": "voiceover_generation",
		"Status": "processing", "Timestamps": `{"created": "2025-03-01T11:00:00.000000"}`})
	return seg, job
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
