package elevenlabstest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUser: GET /v1/user answers the key's user and plan, counting the
// characters generated so far, and refuses a wrong or missing key as the
// real API does.
func TestUser(t *testing.T) {
	t.Parallel()
	em := start(t)
	get := func(apiKey string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, em.URL+"/v1/user", nil)
		if err != nil {
			t.Fatal(err)
		}
		if apiKey != "" {
			req.Header.Set("xi-api-key", apiKey)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("reply %s: %v", b, err)
		}
		return resp.StatusCode, v
	}

	code, v := get(key)
	want := map[string]any{"user_id": "emulated_user", "subscription": map[string]any{
		"tier": "free", "status": "active", "character_count": 0.0, "character_limit": 10000.0}}
	if diff := cmp.Diff(want, v); code != 200 || diff != "" {
		t.Fatalf("GET /v1/user = %d (-want +got):\n%s", code, diff)
	}

	if r := mustPost(t, em, "/v1/text-to-speech/v1", `{"text":"héllo"}`); r.status != 200 {
		t.Fatalf("tts = %d %s", r.status, r.body)
	}
	if _, v := get(key); v["subscription"].(map[string]any)["character_count"] != 5.0 {
		t.Fatalf("after 5 characters: %v", v)
	}

	for _, c := range []struct{ key, status string }{{"sk_wrong", "invalid_api_key"}, {"", "needs_authorization"}} {
		code, v := get(c.key)
		if code != 401 || v["detail"].(map[string]any)["status"] != c.status {
			t.Errorf("key %q: %d %v", c.key, code, v)
		}
	}
}
