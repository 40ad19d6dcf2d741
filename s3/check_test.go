package s3

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	denyMethod := func(method string) func(http.ResponseWriter, *http.Request, http.Handler) bool {
		return func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
			if r.Method != method || !strings.Contains(r.URL.Path, probePrefix) || r.Header.Get("Authorization") == "" {
				return false
			}
			s3Error(w, r, http.StatusForbidden, "AccessDenied")
			return true
		}
	}
	// privateReads refuses unsigned reads, as a private bucket does.
	privateReads := func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.Header.Get("Authorization") != "" {
			return false
		}
		s3Error(w, r, http.StatusForbidden, "AccessDenied")
		return true
	}
	denyHeadBucket := func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.Method != http.MethodHead || strings.Trim(r.URL.Path, "/") != testBucket {
			return false
		}
		s3Error(w, r, http.StatusForbidden, "AccessDenied")
		return true
	}
	tests := []struct {
		name      string
		bucket    string
		publicURL string
		hook      func(http.ResponseWriter, *http.Request, http.Handler) bool
		want      []string // substrings of the error; nil means success
	}{
		{name: "ok"},
		{name: "no ListBucket permission is fine", hook: denyHeadBucket},
		{name: "no DeleteObject permission is fine", hook: denyMethod(http.MethodDelete)},
		{name: "missing bucket", bucket: "missing-bucket",
			want: []string{`bucket "missing-bucket"`, "does not exist", "create it"}},
		{name: "cannot write", hook: denyMethod(http.MethodPut),
			want: []string{"write to", "s3:PutObject"}},
		{name: "cannot read back", hook: denyMethod(http.MethodHead),
			want: []string{"read back", "s3:GetObject"}},
		{name: "bucket not public", hook: privateReads,
			want: []string{"not publicly readable", "403", "public URL"}},
		{name: "public URL points elsewhere", publicURL: "/other-bucket",
			want: []string{"not publicly readable", "404"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeS3(t)
			f.setHook(tt.hook)
			cfg := f.config()
			if tt.bucket != "" {
				cfg.Bucket = tt.bucket
			}
			if tt.publicURL != "" {
				cfg.PublicURL = f.srv.URL + tt.publicURL
			}
			s := f.storageFor(t, cfg)
			err := s.Check(context.Background())
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
			} else {
				if err == nil {
					t.Fatal("Check succeeded, want an error")
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Check error %q does not mention %q", err, w)
					}
				}
			}
			if tt.bucket != "" || tt.name == "no DeleteObject permission is fine" {
				return
			}
			// The probe is gone unless deleting it was denied.
			f.setHook(nil)
			var left []string
			for o := range s.client.ListObjects(context.Background(), testBucket, minio.ListObjectsOptions{Recursive: true}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				left = append(left, o.Key)
			}
			if diff := cmp.Diff([]string(nil), left); diff != "" {
				t.Errorf("objects left behind (-want +got):\n%s", diff)
			}
		})
	}
}
