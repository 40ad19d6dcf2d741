package ncatest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUploadKeysWithFolders: filename is the S3 key as given, slashes
// included (stream_upload_to_s3 passes it to boto3 as Key), and the link is
// {endpoint}/{bucket}/{quote(filename)}, which serves that very key.
func TestUploadKeysWithFolders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filename string
		link     string // after emu.URL
	}{
		{"segments/seg-1/0a1b.mp3", "/files/nca-test-bucket/segments/seg-1/0a1b.mp3"},
		// S3 keys are literal: an empty segment is part of the key, not
		// something to clean away.
		{"segments//x y.mp3", "/files/nca-test-bucket/segments//x%20y.mp3"},
		// Python's quote escapes all but letters, digits, "_.-~" and "/".
		{"a+b:c@d.mp3", "/files/nca-test-bucket/a%2Bb%3Ac%40d.mp3"},
	}
	for _, tt := range tests {
		t.Run(tt.filename, func(t *testing.T) {
			t.Parallel()
			emu, src := setup(t)
			got := call(t, http.MethodPost, emu.URL+"/v1/s3/upload", key,
				`{"file_url":"`+src+`/voice.mp3","filename":"`+tt.filename+`","public":true}`)
			resp, _ := got.Body["response"].(map[string]any)
			want := map[string]any{"file_url": emu.URL + tt.link, "filename": tt.filename, "bucket": "nca-test-bucket", "public": true}
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Fatalf("response (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(emu.URL+tt.link, emu.FileURL(tt.filename)); diff != "" {
				t.Errorf("FileURL (-want +got):\n%s", diff)
			}
			r, err := http.Get(emu.URL + tt.link)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode != http.StatusOK || string(body) != "0123456789" {
				t.Errorf("GET link: %d %q, want 200 with the file", r.StatusCode, body)
			}
		})
	}
}

// TestACLsDisabled: on a bucket whose Object Ownership is "Bucket owner
// enforced", S3 refuses the ACL NCA sets when it opens the multipart
// upload, before NCA downloads anything, and NCA answers 500 with boto3's
// message, public or not.
func TestACLsDisabled(t *testing.T) {
	t.Parallel()
	for _, public := range []string{"true", "false"} {
		t.Run("public "+public, func(t *testing.T) {
			t.Parallel()
			emu := NewServer(key)
			t.Cleanup(emu.Close)
			var pulled atomic.Int32
			src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				pulled.Add(1)
				io.WriteString(w, "0123456789")
			}))
			t.Cleanup(src.Close)
			emu.SetACLsDisabled(true)
			got := call(t, http.MethodPost, emu.URL+"/v1/s3/upload", key,
				`{"file_url":"`+src.URL+`/voice.mp3","filename":"k.mp3","public":`+public+`}`)
			type outcome struct {
				Status         int
				Code, Response any
				Message        any
				Pulled         int32
				Uploads        int
			}
			want := outcome{500, float64(500), nil,
				"An error occurred (AccessControlListNotSupported) when calling the CreateMultipartUpload operation: The bucket does not allow ACLs", 0, 0}
			if diff := cmp.Diff(want, outcome{got.Status, got.Body["code"], got.Body["response"], got.Body["message"], pulled.Load(), len(emu.Uploads())}); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
			if _, ok := emu.File("k.mp3"); ok {
				t.Error("a file was stored")
			}
		})
	}
}
