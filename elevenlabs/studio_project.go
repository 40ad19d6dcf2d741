package elevenlabs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/voicehook/voicehook"
)

// ProjectRequest creates a Studio project that converts at once and calls
// CallbackURL (project_conversion_status) when it is done.
type ProjectRequest struct {
	Name    string
	ModelID string
	VoiceID string
	// Text is split into blocks at blank lines (paragraphs), one chapter.
	Text        string
	CallbackURL string
}

// CreateProject creates and starts converting a Studio project
// (POST /v1/studio/projects, multipart, from_content_json, auto_convert)
// and returns its project id. Errors are classified as Stream's: transient
// unless they wrap a voicehook.PermanentError.
func (s *Studio) CreateProject(ctx context.Context, req ProjectRequest) (string, error) {
	id, err := s.createProject(ctx, req)
	if err != nil {
		return "", fmt.Errorf("ElevenLabs Studio project: %w", err)
	}
	return id, nil
}

func (s *Studio) createProject(ctx context.Context, req ProjectRequest) (string, error) {
	base, err := s.base()
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(s.APIKey)
	switch {
	case key == "":
		return "", voicehook.Permanent("no ElevenLabs API key to create a Studio project with", nil)
	case strings.TrimSpace(req.Text) == "" || strings.TrimSpace(req.VoiceID) == "":
		return "", voicehook.Permanent("a Studio project needs text and a voice", nil)
	}
	content, err := json.Marshal(studioContent(req))
	if err != nil {
		return "", voicehook.Permanent("encoding from_content_json", err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range [][2]string{{"name", req.Name}, {"from_content_json", string(content)}, {"default_model_id", req.ModelID},
		{"auto_convert", "true"}, {"callback_url", req.CallbackURL}} {
		if f[1] != "" {
			if err := mw.WriteField(f[0], f[1]); err != nil {
				return "", voicehook.Permanent("building the Studio request", err)
			}
		}
	}
	if err := mw.Close(); err != nil {
		return "", voicehook.Permanent("building the Studio request", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/studio/projects", &body)
	if err != nil {
		return "", voicehook.Permanent("building the Studio request", err)
	}
	hreq.Header.Set("Content-Type", mw.FormDataContentType())
	hreq.Header.Set("xi-api-key", key)
	resp, err := s.client().Do(hreq)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		apiErr := parseAPIError(resp, key)
		if apiErr.Permanent() {
			return "", voicehook.Permanent(refusal(apiErr), apiErr)
		}
		return "", apiErr
	}
	var reply struct {
		Project struct {
			ProjectID string `json:"project_id"`
		} `json:"project"`
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("reading the reply: %w", err)
	}
	if err := json.Unmarshal(raw, &reply); err != nil || reply.Project.ProjectID == "" {
		return "", fmt.Errorf("%w: no project id in %q", ErrMalformedReply, clean(string(raw), 200))
	}
	return reply.Project.ProjectID, nil
}

// studioContent is from_content_json: one chapter whose blocks are the
// text's paragraphs, each one tts_node in the request's voice.
func studioContent(req ProjectRequest) []map[string]any {
	var blocks []map[string]any
	for _, para := range strings.Split(strings.ReplaceAll(req.Text, "\r\n", "\n"), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			blocks = append(blocks, map[string]any{"sub_type": "p",
				"nodes": []map[string]string{{"type": "tts_node", "voice_id": req.VoiceID, "text": para}}})
		}
	}
	return []map[string]any{{"name": req.Name, "blocks": blocks}}
}
