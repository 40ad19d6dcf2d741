package nca

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/voicehook/voicehook/nca/ncatest"
	"github.com/voicehook/voicehook/voicehooktest"
)

// TestACLsDisabledMessage: the permanent error of an upload to a bucket
// without ACLs names the setting and both ways out.
func TestACLsDisabledMessage(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t)
	emu.SetACLsDisabled(true)
	s := newStorage(t, emu, newStager(t).Stage)
	_, err := s.Put(context.Background(), voicehooktest.AudioObject(t, "", "seg-1", oneFrame))
	if err == nil {
		t.Fatal("Put succeeded")
	}
	for _, want := range []string{"ACLs disabled", `Object Ownership is "Bucket owner enforced"`, "public-read", "ACLs enabled", "--storage s3", "AccessControlListNotSupported"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestCheckUploads: the probe tells a bucket that takes NCA's public-read
// uploads from one with ACLs disabled, and stores nothing either way.
func TestCheckUploads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*ncatest.Server)
		key   string
		want  string // substring of the error; "" means success
	}{
		{name: "ACLs enabled"},
		{name: "ACLs disabled", setup: func(e *ncatest.Server) { e.SetACLsDisabled(true) }, want: `Object Ownership is "Bucket owner enforced"`},
		{name: "wrong key", key: "nope", want: "--nca-api-key"},
		// A 500 that is not about the probe's URL proves nothing.
		{name: "unrelated 500", setup: func(e *ncatest.Server) { e.FailNext(1, 500) }, want: "injected failure"},
		{name: "proxy error", setup: func(e *ncatest.Server) { e.FailNext(1, 502) }, want: "HTTP 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t)
			if tt.setup != nil {
				tt.setup(emu)
			}
			cfg := Config{BaseURL: emu.URL, APIKey: testAPIKey, Stage: newStager(t).Stage}
			if tt.key != "" {
				cfg.APIKey = tt.key
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.CheckUploads(context.Background())
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckUploads: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckUploads = %v, want an error mentioning %q", err, tt.want)
			}
			if diff := cmp.Diff([]int{1, 0}, []int{emu.Requests(ncatest.RouteUpload), len(emu.Uploads())}); diff != "" {
				t.Errorf("upload requests, stored uploads (-want +got):\n%s", diff)
			}
		})
	}
}
