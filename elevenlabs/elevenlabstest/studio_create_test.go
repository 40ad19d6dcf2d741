package elevenlabstest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
)

// createProject posts a multipart project creation.
func createProject(t *testing.T, em *elevenlabstest.Emulator, apiKey string, fields map[string]string) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, em.URL+"/v1/studio/projects", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("xi-api-key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// receiver records the callbacks it gets.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	uris   []string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, m)
		rc.uris = append(rc.uris, r.RequestURI)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func streamSnapshot(t *testing.T, em *elevenlabstest.Emulator, project, snapshot string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost,
		em.URL+"/v1/studio/projects/"+project+"/snapshots/"+snapshot+"/stream", strings.NewReader(`{"convert_to_mpeg":true}`))
	req.Header.Set("xi-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

const content = `[{"name":"Chapter 1","blocks":[{"sub_type":"p","nodes":[{"type":"tts_node","voice_id":"v1","text":"Hello there."}]},` +
	`{"sub_type":"p","nodes":[{"type":"tts_node","voice_id":"v2","text":" Bye."}]}]}]`

func TestStudioCreateAutoConvert(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.Start(key)
	t.Cleanup(em.Close)
	rc := newReceiver(t)
	status, body := createProject(t, em, key, map[string]string{
		"name": "Episode 1", "from_content_json": content, "default_model_id": "eleven_multilingual_v2",
		"auto_convert": "true", "callback_url": rc.URL + "/webhooks/elevenlabs?segment_id=s1",
	})
	if status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created struct {
		Project struct {
			ProjectID string `json:"project_id"`
			Name      string `json:"name"`
			State     string `json:"state"`
		} `json:"project"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.Project.ProjectID != "proj_1" || created.Project.State != "converting" {
		t.Fatalf("create answered %s (%v)", body, err)
	}
	em.WaitConversions()

	rc.mu.Lock()
	bodies, uris := rc.bodies, rc.uris
	rc.mu.Unlock()
	if len(bodies) != 1 || uris[0] != "/webhooks/elevenlabs?segment_id=s1" {
		t.Fatalf("callbacks: %v %v", uris, bodies)
	}
	if _, ok := bodies[0]["event_timestamp"].(float64); !ok {
		t.Errorf("event_timestamp = %v", bodies[0]["event_timestamp"])
	}
	delete(bodies[0], "event_timestamp")
	want := map[string]any{"type": "project_conversion_status", "data": map[string]any{
		"request_id": "req_psnap_1", "project_id": "proj_1", "project_snapshot_id": "psnap_1", "conversion_status": "success",
	}}
	if diff := cmp.Diff(want, bodies[0]); diff != "" {
		t.Errorf("callback (-want +got):\n%s", diff)
	}

	status, audio := streamSnapshot(t, em, "proj_1", "psnap_1")
	if status != 200 {
		t.Fatalf("stream: %d %s", status, audio)
	}
	if got, want := mp3Duration(t, audio), elevenlabstest.SpeechDuration("Hello there. Bye."); got != want {
		t.Errorf("snapshot plays %v, want %v", got, want)
	}
	wantProjects := []elevenlabstest.StudioProject{{
		ProjectID: "proj_1", Name: "Episode 1", DefaultModelID: "eleven_multilingual_v2", ContentJSON: content,
		AutoConvert: true, CallbackURL: rc.URL + "/webhooks/elevenlabs?segment_id=s1",
		ProjectSnapshotID: "psnap_1", Converted: true, CallbackStatus: 200,
	}}
	if diff := cmp.Diff(wantProjects, em.Projects()); diff != "" {
		t.Errorf("projects (-want +got):\n%s", diff)
	}
}

func TestStudioCreateFailedConversion(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.Start(key)
	t.Cleanup(em.Close)
	rc := newReceiver(t)
	em.FailConversionNext("voice unavailable")
	if status, body := createProject(t, em, key, map[string]string{
		"name": "E", "from_content_json": content, "auto_convert": "true", "callback_url": rc.URL,
	}); status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	em.WaitConversions()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) != 1 {
		t.Fatalf("callbacks: %v", rc.bodies)
	}
	data, _ := rc.bodies[0]["data"].(map[string]any)
	if data["conversion_status"] != "error" || data["error_details"] != "voice unavailable" {
		t.Errorf("callback data = %v", data)
	}
	if status, _ := streamSnapshot(t, em, "proj_1", "psnap_1"); status != 404 {
		t.Errorf("failed conversion's snapshot: %d", status)
	}
}

func TestStudioCreateRefusals(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.Start(key)
	t.Cleanup(em.Close)
	tests := []struct {
		name   string
		key    string
		fields map[string]string
		status int
		want   string
	}{
		{"wrong key", "sk_wrong", map[string]string{"name": "x"}, 401, "invalid_api_key"},
		{"no name", key, map[string]string{"auto_convert": "true"}, 422, `"loc":["body","name"]`},
		{"bad content", key, map[string]string{"name": "x", "from_content_json": "{"}, 400, "invalid_content"},
		{"bad auto_convert", key, map[string]string{"name": "x", "auto_convert": "maybe"}, 422, "auto_convert"},
		{"callback off the machine", key, map[string]string{"name": "x", "auto_convert": "true", "callback_url": "http://example.com/cb"}, 400, "not on a loopback address"},
		{"callback not http", key, map[string]string{"name": "x", "callback_url": "file:///etc/passwd"}, 400, "not an http(s) URL"},
	}
	for _, tc := range tests {
		status, body := createProject(t, em, tc.key, tc.fields)
		if status != tc.status || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, status, body, tc.status, tc.want)
		}
	}
	// Without auto_convert nothing converts and nothing is called.
	if status, body := createProject(t, em, key, map[string]string{"name": "plain"}); status != 200 || !strings.Contains(string(body), `"state":"default"`) {
		t.Errorf("plain project: %d %s", status, body)
	}
	em.WaitConversions()
	if p := em.Projects(); len(p) != 1 || p[0].ProjectSnapshotID != "" || p[0].Converted {
		t.Errorf("projects = %+v", p)
	}
}
