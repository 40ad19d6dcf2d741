package ncatest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/voicehooktest"
)

const key = "emulator-key"

type reply struct {
	Status int
	Body   map[string]any
}

func setup(t *testing.T) (*Server, string) {
	t.Helper()
	emu := NewServer(key)
	t.Cleanup(emu.Close)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/voice.mp3" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "0123456789")
	}))
	t.Cleanup(src.Close)
	return emu, src.URL
}

func call(t *testing.T, method, url, apiKey, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if apiKey != "" {
		req.Header.Set("X-API-Key", apiKey)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := reply{Status: resp.StatusCode}
	if json.Unmarshal(raw, &out.Body) != nil {
		out.Body = map[string]any{"raw": string(raw)}
	}
	return out
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestUploadAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		apiKey string
		body   func(src string) string
		want   reply
	}{
		{"no key", "", func(src string) string { return `{"file_url":"` + src + `/voice.mp3"}` },
			reply{401, map[string]any{"message": "Unauthorized"}}},
		{"wrong key", "nope", func(src string) string { return `{"file_url":"` + src + `/voice.mp3"}` },
			reply{401, map[string]any{"message": "Unauthorized"}}},
		{"not JSON", key, func(string) string { return `file_url=x` },
			reply{400, map[string]any{"message": "Missing JSON in request"}}},
		{"missing file_url", key, func(string) string { return `{"filename":"a.mp3"}` },
			reply{400, map[string]any{"message": "Invalid payload: 'file_url' is a required property"}}},
		{"filename not a string", key, func(src string) string { return `{"file_url":"` + src + `/voice.mp3","filename":3}` },
			reply{400, map[string]any{"message": "Invalid payload: 3 is not of type 'string'"}}},
		{"public not a boolean", key, func(src string) string { return `{"file_url":"` + src + `/voice.mp3","public":"yes"}` },
			reply{400, map[string]any{"message": `Invalid payload: "yes" is not of type 'boolean'`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu, src := setup(t)
			got := call(t, http.MethodPost, emu.URL+"/v1/s3/upload", tt.apiKey, tt.body(src))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUploadStoresAndServes(t *testing.T) {
	t.Parallel()
	emu, src := setup(t)
	got := call(t, http.MethodPost, emu.URL+"/v1/s3/upload", key,
		`{"file_url":"`+src+`/voice.mp3","filename":"a b.mp3","public":true}`)
	if got.Status != 200 {
		t.Fatalf("status %d: %v", got.Status, got.Body)
	}
	wantKeys := []string{"build_number", "code", "endpoint", "id", "job_id", "message", "pid", "queue_id",
		"queue_length", "queue_time", "response", "run_time", "total_time"}
	if diff := cmp.Diff(wantKeys, keys(got.Body)); diff != "" {
		t.Errorf("envelope fields (-want +got):\n%s", diff)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(got.Body["job_id"].(string)) {
		t.Errorf("job_id %v is not a UUID", got.Body["job_id"])
	}
	wantResp := map[string]any{
		"file_url": emu.URL + "/files/nca-test-bucket/a%20b.mp3",
		"filename": "a b.mp3",
		"bucket":   "nca-test-bucket",
		"public":   true,
	}
	if diff := cmp.Diff(wantResp, got.Body["response"]); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{float64(200), "success", nil}, []any{got.Body["code"], got.Body["message"], got.Body["id"]}); diff != "" {
		t.Errorf("code, message, id (-want +got):\n%s", diff)
	}

	link := wantResp["file_url"].(string)
	head, err := http.Head(link)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set("Range", "bytes=2-4")
	part, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(part.Body)
	part.Body.Close()
	type served struct {
		HeadStatus int
		HeadLength int64
		RangeCode  int
		RangeBody  string
		Range      string
	}
	want := served{200, 10, 206, "234", "bytes 2-4/10"}
	gotServed := served{head.StatusCode, head.ContentLength, part.StatusCode, string(body), part.Header.Get("Content-Range")}
	if diff := cmp.Diff(want, gotServed); diff != "" {
		t.Errorf("served file (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Upload{{FileURL: src + "/voice.mp3", Filename: "a b.mp3", Public: true}}, emu.Uploads()); diff != "" {
		t.Errorf("Uploads (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 1, 1}, []int{emu.Requests(RouteUpload), emu.Requests(RouteFileHEAD), emu.Requests(RouteFileGET)}); diff != "" {
		t.Errorf("request counts (-want +got):\n%s", diff)
	}
}

func TestUploadWithoutFilenameUsesURLName(t *testing.T) {
	t.Parallel()
	emu, src := setup(t)
	got := call(t, http.MethodPost, emu.URL+"/v1/s3/upload", key, `{"file_url":"`+src+`/voice.mp3","public":true}`)
	resp, _ := got.Body["response"].(map[string]any)
	if diff := cmp.Diff("voice.mp3", resp["filename"]); diff != "" {
		t.Errorf("filename (-want +got):\n%s", diff)
	}
}

func TestDownloadFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fileURL func(src string) string
		want    string
	}{
		{"source 404", func(src string) string { return src + "/missing.mp3" }, "404 Client Error: Not Found for url"},
		{"not loopback", func(string) string { return "http://example.invalid/voice.mp3" }, "non-loopback"},
		{"not a URL", func(string) string { return "voice.mp3" }, "No scheme supplied"},
		// requests has no adapter for other schemes and fails without
		// touching the network.
		{"other scheme", func(string) string { return "voicehook-probe:x" }, "No connection adapters were found for 'voicehook-probe:x'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu, src := setup(t)
			got := call(t, http.MethodPost, emu.URL+"/v1/s3/upload", key, `{"file_url":"`+tt.fileURL(src)+`","public":true}`)
			msg, _ := got.Body["message"].(string)
			if got.Status != 500 || got.Body["code"] != float64(500) || got.Body["response"] != nil || !strings.Contains(msg, tt.want) {
				t.Errorf("reply %d %v, want 500 envelope mentioning %q", got.Status, got.Body, tt.want)
			}
		})
	}
}

func TestPrivateUploadGetsExpiringPresignedLink(t *testing.T) {
	t.Parallel()
	emu, src := setup(t)
	c := voicehooktest.NewClockAt(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	emu.SetClock(c.Now)
	got := call(t, http.MethodPost, emu.URL+"/v1/s3/upload", key, `{"file_url":"`+src+`/voice.mp3","filename":"p.mp3"}`)
	resp := got.Body["response"].(map[string]any)
	link := resp["file_url"].(string)
	if resp["public"] != false || !strings.Contains(link, "X-Amz-Signature=") || !strings.Contains(link, "X-Amz-Expires=3600") {
		t.Fatalf("private upload answered %v, want a presigned link and public false", resp)
	}
	status := func(u string) int {
		r, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	plain := strings.SplitN(link, "?", 2)[0]
	before := []int{status(link), status(plain)}
	c.Advance(PresignTTL + time.Second)
	after := status(link)
	if diff := cmp.Diff([]int{200, 403, 403}, append(before, after)); diff != "" {
		t.Errorf("statuses for presigned, unsigned, expired (-want +got):\n%s", diff)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	emu, _ := setup(t)
	ok := call(t, http.MethodGet, emu.URL+"/v1/toolkit/authenticate", key, "")
	bad := call(t, http.MethodGet, emu.URL+"/v1/toolkit/authenticate", "nope", "")
	got := []any{ok.Status, ok.Body["response"], ok.Body["endpoint"], bad.Status, bad.Body["message"], bad.Body["code"]}
	want := []any{200, "Authorized", "/authenticate", 401, "Unauthorized", float64(401)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("authenticate (-want +got):\n%s", diff)
	}
	if n := emu.Requests(RouteAuthenticate); n != 2 {
		t.Errorf("authenticate requests = %d, want 2", n)
	}
}

func TestFailNextAndModes(t *testing.T) {
	t.Parallel()
	emu, src := setup(t)
	body := `{"file_url":"` + src + `/voice.mp3","filename":"m.mp3","public":true}`
	emu.FailNext(2, http.StatusServiceUnavailable)
	var statuses []int
	for range 3 {
		statuses = append(statuses, call(t, http.MethodPost, emu.URL+"/v1/s3/upload", key, body).Status)
	}
	if diff := cmp.Diff([]int{503, 503, 200}, statuses); diff != "" {
		t.Errorf("statuses with FailNext(2, 503) (-want +got):\n%s", diff)
	}

	emu.SetMode(MalformedJSON)
	raw := call(t, http.MethodPost, emu.URL+"/v1/s3/upload", key, body)
	if _, ok := raw.Body["raw"]; raw.Status != 200 || !ok {
		t.Errorf("MalformedJSON answered %d %v, want 200 with a body that is not JSON", raw.Status, raw.Body)
	}
	emu.SetMode(Normal)
	emu.SetTruncate(3)
	data, _ := emu.File("m.mp3")
	r, err := http.Get(emu.FileURL("m.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !bytes.Equal(served, data[:len(data)-3]) {
		t.Errorf("truncated file served as %q, want %q", served, data[:len(data)-3])
	}
	if n := emu.Requests(RouteUpload); n != 4 {
		t.Errorf("upload requests = %d, want 4", n)
	}
}
