package elevenlabs_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
)

func TestCreateProject(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.Start("key")
	t.Cleanup(em.Close)
	em.SetConversionDelay(0)
	s := &elevenlabs.Studio{BaseURL: em.URL, APIKey: "key"}
	id, err := s.CreateProject(context.Background(), elevenlabs.ProjectRequest{Name: "book", ModelID: "eleven_v3", VoiceID: "v1",
		Text: "One.\n\n\nTwo, still.\r\n\r\nThree."})
	if err != nil {
		t.Fatal(err)
	}
	em.WaitConversions()
	ps := em.Projects()
	if len(ps) != 1 || ps[0].ProjectID != id || !ps[0].AutoConvert || ps[0].DefaultModelID != "eleven_v3" {
		t.Fatalf("projects %+v, id %q", ps, id)
	}
	var content []struct {
		Blocks []struct {
			Nodes []struct{ Type, VoiceID, Text string } `json:"nodes"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(ps[0].ContentJSON), &content); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range content[0].Blocks {
		for _, n := range b.Nodes {
			got = append(got, n.Type+"/"+n.Text)
		}
	}
	if diff := cmp.Diff([]string{"tts_node/One.", "tts_node/Two, still.", "tts_node/Three."}, got); diff != "" {
		t.Errorf("one block per paragraph (-want +got):\n%s", diff)
	}
}

func TestCreateProjectRefused(t *testing.T) {
	t.Parallel()
	em := elevenlabstest.Start("key")
	t.Cleanup(em.Close)
	s := &elevenlabs.Studio{BaseURL: em.URL, APIKey: "wrong"}
	_, err := s.CreateProject(context.Background(), elevenlabs.ProjectRequest{Name: "book", VoiceID: "v1", Text: "Hi."})
	var apiErr *elevenlabs.APIError
	if !voicehook.IsPermanent(err) || !errors.As(err, &apiErr) || apiErr.Code != "invalid_api_key" {
		t.Fatalf("err = %v, want a permanent invalid_api_key", err)
	}
	if len(em.Projects()) != 0 {
		t.Error("a project was created with a refused key")
	}
}
