package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/internal/dbtest"
	"github.com/voicehook/voicehook/nca/ncatest"
)

// doctorRun runs `voicehook doctor args…` in-process and returns its
// output lines, its stderr and its error.
func doctorRun(t *testing.T, args ...string) ([]string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"doctor"}, args...), &stdout, &stderr)
	out := strings.TrimRight(stdout.String(), "\n")
	if out == "" {
		return nil, stderr.String(), err
	}
	return strings.Split(out, "\n"), stderr.String(), err
}

func TestDoctorLocal(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		dir := t.TempDir()
		args := []string{"--data-dir", dir, "--elevenlabs-secret", testSecret}
		wantStore := "ok   store sqlite: schema up to date in " + dir
		if store == "postgres" {
			args = append(args, "--database-url", dbtest.PostgresURL(t))
			wantStore = "ok   store postgres: connected to "
		}
		lines, stderr, err := doctorRun(t, args...)
		if err != nil || len(lines) != 4 || !strings.HasPrefix(lines[0], wantStore) {
			t.Fatalf("doctor = %v\n%s\nstderr: %s", err, strings.Join(lines, "\n"), stderr)
		}
		if store == "postgres" && strings.Contains(lines[0], "@") {
			t.Fatalf("store line shows the database user or password: %s", lines[0])
		}
		want := fmt.Sprintf("ok   storage local: %s writable; audio served at http://localhost:8080/media/…", filepath.Join(dir, "media"))
		if lines[1] != want {
			t.Fatalf("storage line = %q, want %q", lines[1], want)
		}
		if diff := cmp.Diff([]string{okSecret, warnNoPublicURL}, lines[2:]); diff != "" {
			t.Fatalf("secret and public URL lines (-want +got):\n%s", diff)
		}
	})
}

const (
	okSecret        = "ok   elevenlabs secret: 1 secret; signed deliveries are verified with it"
	warnNoPublicURL = "WARN public url: --public-url is not set: callback and media URLs will say http://localhost:8080, " +
		"which only this machine reaches; set it to the https address ElevenLabs and your pipeline reach this server at"
)

// healthz stands in for a running voicehook at --public-url: it answers
// GET /healthz as voicehook does.
func healthz(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDoctorNCA(t *testing.T) {
	t.Parallel()
	emu := ncatest.NewServer(testNCAKey)
	t.Cleanup(emu.Close)
	public := healthz(t)
	args := func(dir, key string) []string {
		return []string{"--data-dir", dir, "--storage", "nca", "--nca-url", emu.URL, "--nca-api-key", key,
			"--public-url", public, "--elevenlabs-secret", testSecret}
	}

	t.Run("right key", func(t *testing.T) {
		dir := t.TempDir()
		lines, _, err := doctorRun(t, args(dir, testNCAKey)...)
		want := []string{
			"ok   store sqlite: schema up to date in " + dir,
			"ok   storage nca: NCA Toolkit at " + emu.URL + " accepted the API key",
			"ok   storage nca bucket: NCA's bucket accepts the public-read ACL NCA sets on uploads (probe: an upload NCA could not download; nothing stored)",
			"ok   storage nca staging: files staged in " + filepath.Join(dir, "media") +
				" and offered to NCA as signed links (valid 1h) under " + public + "/media/; NCA must be able to reach that address",
			okSecret,
			"WARN public url: " + public + " is not https: callback URLs carry their segment's token, and media links the audio, " +
				"in the clear; put voicehook behind an https address (a TLS proxy)",
			"ok   public url reachable: GET " + public + "/healthz answered as voicehook does, from this machine",
		}
		if diff := cmp.Diff(want, lines); diff != "" || err != nil {
			t.Fatalf("doctor: %v; lines (-want +got):\n%s", err, diff)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		dir := t.TempDir()
		lines, _, err := doctorRun(t, args(dir, "not-the-key")...)
		if err == nil || err.Error() != "doctor: 2 of 7 checks failed" {
			t.Fatalf("doctor error = %v, want 2 of 7 checks failed", err)
		}
		if len(lines) != 7 || lines[1] != "FAIL storage nca: NCA Toolkit rejected the API key: set --nca-api-key" ||
			lines[2] != "FAIL storage nca bucket: NCA API key rejected: set --nca-api-key to NCA's API_KEY: POST /v1/s3/upload: HTTP 401" ||
			!strings.HasPrefix(lines[0], "ok   store") || !strings.HasPrefix(lines[3], "ok   storage nca staging") {
			t.Fatalf("lines:\n%s", strings.Join(lines, "\n"))
		}
	})

	// Checking never stores a file: NCA keeps every file and has no
	// delete. The bucket probe asks for an upload NCA cannot download.
	if n := len(emu.Uploads()); n != 0 {
		t.Fatalf("doctor uploaded %d files to NCA", n)
	}
	if n := emu.Requests(ncatest.RouteAuthenticate); n != 2 {
		t.Fatalf("authenticate requests = %d, want 2", n)
	}
}

// TestDoctorNCABucketWithoutACLs: doctor finds the bucket setting that
// would fail every upload, and says what to change.
func TestDoctorNCABucketWithoutACLs(t *testing.T) {
	t.Parallel()
	emu := ncatest.NewServer(testNCAKey)
	t.Cleanup(emu.Close)
	emu.SetACLsDisabled(true)
	dir := t.TempDir()
	lines, _, err := doctorRun(t, "--data-dir", dir, "--storage", "nca", "--nca-url", emu.URL, "--nca-api-key", testNCAKey,
		"--public-url", healthz(t), "--elevenlabs-secret", testSecret)
	if err == nil || err.Error() != "doctor: 1 of 7 checks failed" {
		t.Fatalf("doctor error = %v, want 1 of 7 checks failed", err)
	}
	want := `FAIL storage nca bucket: NCA's S3 bucket has ACLs disabled (its Object Ownership is "Bucket owner enforced"), ` +
		`and NCA sets the public-read ACL on every upload: set the bucket's Object Ownership to "Bucket owner preferred" ` +
		`(ACLs enabled) and let its Block Public Access settings allow public ACLs, or use --storage s3, which needs no ACLs`
	if len(lines) != 7 || lines[2] != want || !strings.HasPrefix(lines[1], "ok   storage nca:") {
		t.Fatalf("lines:\n%s\nwant line 3: %s", strings.Join(lines, "\n"), want)
	}
	if n := len(emu.Uploads()); n != 0 {
		t.Fatalf("doctor stored %d files in NCA", n)
	}
}

func TestDoctorS3(t *testing.T) {
	t.Parallel()
	fake := newS3Fake(t)
	args := func(dir, bucket string) []string {
		return []string{"--data-dir", dir, "--storage", "s3", "--s3-endpoint", fake.URL, "--s3-region", "us-east-1",
			"--s3-bucket", bucket, "--s3-access-key", "AKIATESTTESTTEST", "--s3-secret-key", "test-secret-key",
			"--s3-path-style", "--s3-public-url", fake.URL + "/" + bucket, "--elevenlabs-secret", testSecret}
	}

	t.Run("existing bucket", func(t *testing.T) {
		dir := t.TempDir()
		lines, _, err := doctorRun(t, args(dir, testS3Bucket)...)
		want := []string{
			"ok   store sqlite: schema up to date in " + dir,
			fmt.Sprintf("ok   storage s3: bucket %q at %s writable; objects publicly readable at %s/%s/…", testS3Bucket, fake.URL, fake.URL, testS3Bucket),
			okSecret, warnNoPublicURL,
		}
		if diff := cmp.Diff(want, lines); diff != "" || err != nil {
			t.Fatalf("doctor: %v; lines (-want +got):\n%s", err, diff)
		}
		if keys := fake.objects(t, testS3Bucket); len(keys) != 0 {
			t.Fatalf("doctor left objects behind: %v", keys)
		}
	})

	t.Run("missing bucket", func(t *testing.T) {
		dir := t.TempDir()
		lines, _, err := doctorRun(t, args(dir, "missing-bucket")...)
		if err == nil || err.Error() != "doctor: 1 of 4 checks failed" {
			t.Fatalf("doctor error = %v, want 1 of 4 checks failed", err)
		}
		want := fmt.Sprintf(`FAIL storage s3: bucket "missing-bucket" at %s does not exist: create it, or fix the S3 bucket name, endpoint or region`, fake.URL)
		if len(lines) != 4 || lines[1] != want {
			t.Fatalf("lines:\n%s\nwant line 2: %s", strings.Join(lines, "\n"), want)
		}
	})
}

func TestDoctorInvalidConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"s3 without bucket", []string{"--storage", "s3", "--s3-access-key", "a", "--s3-secret-key", "b"},
			[]string{"--storage s3 needs --s3-bucket and --s3-public-url"}},
		{"s3 half credentials", []string{"--storage", "s3", "--s3-bucket", "b", "--s3-public-url", "https://cdn.example.com", "--s3-access-key", "a"},
			[]string{"--s3-access-key and --s3-secret-key go together"}},
		{"nca without anything", []string{"--storage", "nca"},
			[]string{"--storage nca needs --nca-url and --nca-api-key", "--storage nca needs --public-url"}},
		{"unknown storage", []string{"--storage", "ftp"}, []string{`--storage "ftp": want local, s3 or nca`}},
		{"negative retention", []string{"--event-retention", "-1h"},
			[]string{"--event-retention: want 0 (keep forever) or a positive duration"}},
		{"retention shorter than the grace", []string{"--event-retention", "5m", "--job-match-grace", "10m"},
			[]string{"--event-retention: want at least --job-match-grace"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			lines, _, err := doctorRun(t, append([]string{"--data-dir", dir}, c.args...)...)
			out := strings.Join(lines, "\n")
			if err == nil || !strings.HasPrefix(out, "FAIL config: invalid configuration:") {
				t.Fatalf("doctor = %v\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestS3CredentialsFromEnvironment(t *testing.T) {
	t.Parallel()
	f := s3Flags{Bucket: "b", PublicURL: "https://cdn.example.com"}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if p := f.problems(getenv); len(p) != 1 || !strings.Contains(p[0], "set --s3-access-key and --s3-secret-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)") {
		t.Fatalf("no credentials: %q", p)
	}
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "a", "b"
	if p := f.problems(getenv); len(p) != 0 {
		t.Fatalf("credentials from the environment: %q", p)
	}
}

func TestNCAReachProblem(t *testing.T) {
	t.Parallel()
	cases := []struct {
		public, nca string
		bad         bool
	}{
		{"http://localhost:8080", "https://nca.example.com", true},
		{"http://127.0.0.1:8080", "http://10.0.0.5:8080", true},
		{"http://[::1]:8080", "https://nca.example.com", true},
		{"http://localhost:8080", "http://127.0.0.1:9000", false}, // both on this machine
		{"https://voice.example.com", "https://nca.example.com", false},
		{"http://10.0.0.4:8080", "http://10.0.0.5:8080", false},
	}
	for _, c := range cases {
		err := ncaReachProblem(c.public, c.nca)
		if (err != nil) != c.bad {
			t.Errorf("ncaReachProblem(%q, %q) = %v, want problem %v", c.public, c.nca, err, c.bad)
		}
		if err != nil && !strings.Contains(err.Error(), "set --public-url") {
			t.Errorf("message does not say what to fix: %v", err)
		}
	}
}
