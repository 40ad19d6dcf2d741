package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
	"github.com/voicehook/voicehook/internal/audiotest"
)

const demoSecret = "wsec_demo_secret"

// cmdDemo shows one voiceover from job to stored audio with nothing but this
// binary: a real server on loopback, a stand-in audio source, and a signed
// callback as ElevenLabs sends it. With --serve the server stays up
// afterwards, so the user can open the pages the demo filled.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo [flags]", "Run a self-contained demo in a temp data dir: no network, no accounts.")
	fs.SetOutput(stderr)
	keep := fs.Bool("keep", false, "keep the temp data dir afterwards")
	verbose := fs.Bool("verbose", false, "show the server's log")
	serve := fs.Bool("serve", false, "keep the demo's server running afterwards, until Ctrl-C, to look around its pages")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "voicehook-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }

	// The stand-in for wherever ElevenLabs puts the generated audio.
	audio := audiotest.MP3(3 * time.Second)
	srcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	src := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(audio)
	})}
	go func() { _ = src.Serve(srcLn) }()
	defer src.Close()
	audioURL := "http://" + srcLn.Addr().String() + "/voiceover.mp3"

	level := "error"
	if *verbose {
		level = "info"
	}
	log, err := newLogger("text", level, stderr)
	if err != nil {
		return err
	}
	// The stand-in for ElevenLabs text to speech: real MP3 and an alignment.
	tts := elevenlabstest.StartTTS("demo_api_key")
	defer tts.Close()

	var cfg config
	cfg.register(newFlagSet("demo-serve", ""))
	cfg.Addr, cfg.DataDir, cfg.ElevenLabsSecret = "127.0.0.1:0", dir, demoSecret
	cfg.ElevenLabsAPIKey, cfg.ElevenLabsAPIURL = tts.APIKey, tts.URL
	// Voiceover QA with the emulator's speech to text, which mishears two
	// words of the generated voiceover so the demo shows a flagged check.
	cfg.QA, cfg.QAMode = "stt", "sync"
	tts.SetMishearing(elevenlabstest.Mishearing{Substitute: map[string]string{"stored": "snored", "captioned": "captained"}})
	cfg.FetchAllowPriv = true // the stand-in audio source is on loopback
	cfg.RetryBase = 200 * time.Millisecond
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, ln, log)
	if err != nil {
		ln.Close()
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.run(sctx) }()
	defer func() { stop(); <-done }()
	base := a.baseURL
	deleted := ""
	if !*keep {
		deleted = " (deleted at exit; --keep keeps it)"
	}
	say("voicehook demo — server on %s, data dir %s%s", base, dir, deleted)

	const segment = "demo-segment-1"
	var job struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		CallbackURL string `json:"callback_url"`
	}
	if err := demoCall(ctx, http.MethodPost, base+"/api/jobs", nil, map[string]string{"segment_id": segment, "type": "voiceover_generation"}, &job); err != nil {
		return err
	}
	say("1. job %s created for segment %s: status %s", job.ID, segment, job.Status)

	body := fmt.Appendf(nil, `{"status":"completed","output":{"url":%q}}`, audioURL)
	hook := job.CallbackURL // it carries the segment's token
	headers := map[string]string{elevenlabs.HeaderName: elevenlabs.Sign(demoSecret, time.Now(), body)}
	var ack map[string]any
	if err := demoCall(ctx, http.MethodPost, hook, headers, json.RawMessage(body), &ack); err != nil {
		return err
	}
	say("2. signed callback delivered: %v (acknowledged after it was committed)", compactJSON(ack))
	if err := demoCall(ctx, http.MethodPost, hook, headers, json.RawMessage(body), &ack); err != nil {
		return err
	}
	say("   the same delivery again:    %v (not processed twice)", compactJSON(ack))

	var seg struct {
		Status     string `json:"status"`
		Voiceover  string `json:"voiceover"`
		SHA256     string `json:"sha256"`
		Bytes      int64  `json:"bytes"`
		DurationMS int64  `json:"duration_ms"`
	}
	// The statuses the segment went through, said once it settles: one
	// step 3, however many polls it took.
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for seg.Status != "voiceover_ready" && seg.Status != "voiceover_failed" {
		if time.Now().After(deadline) {
			return fmt.Errorf("segment still %q after 30s", seg.Status)
		}
		if err := demoCall(ctx, http.MethodGet, base+"/api/segments/"+segment, nil, nil, &seg); err != nil {
			return err
		}
		if len(seen) == 0 || seen[len(seen)-1] != seg.Status {
			seen = append(seen, seg.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	say("3. segment %s: %s", segment, strings.Join(seen, " → "))
	if seg.Status != "voiceover_ready" {
		return fmt.Errorf("segment ended %s", seg.Status)
	}
	if err := demoCall(ctx, http.MethodGet, base+"/api/jobs/"+job.ID, nil, nil, &job); err != nil {
		return err
	}
	key := strings.TrimPrefix(seg.Voiceover, base+"/media/")
	path := filepath.Join(dir, "media", filepath.FromSlash(key))
	say("4. job %s: %s", job.ID, job.Status)
	say("   voiceover:  %s", seg.Voiceover)
	say("   stored at:  %s%s", path, deleted)
	say("   size:       %d bytes, duration %.2fs, sha256 %s", seg.Bytes, float64(seg.DurationMS)/1000, seg.SHA256)

	if err := demoGenerate(ctx, base, say); err != nil {
		return err
	}
	say("\nNext: run the real server with `go run ./cmd/voicehook serve --elevenlabs-secret <your wsec_… secret>`")
	if *keep {
		say("The demo's data dir is kept at %s", dir)
	}
	if *serve {
		// No admin token: the pages answer this machine only, as serve's do
		// without --admin-token.
		say("\nThe demo server keeps running; Ctrl-C stops it.")
		say("pages: %s/", base)
		<-ctx.Done()
		say("stopping the demo server")
	}
	return nil
}

// demoGenerate shows the second way a job finishes: voicehook generates the
// voiceover itself, with captions.
func demoGenerate(ctx context.Context, base string, say func(string, ...any)) error {
	const segment, text = "demo-segment-2", "Welcome to the demo. This voiceover was generated, stored and captioned by voicehook."
	var job struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		Generation *struct {
			RequestID  string `json:"request_id"`
			Characters int    `json:"characters"`
		} `json:"generation"`
	}
	req := map[string]string{"segment_id": segment, "type": "voiceover_generation", "text": text, "voice_id": "demo_voice"}
	if err := demoCall(ctx, http.MethodPost, base+"/api/jobs", nil, req, &job); err != nil {
		return err
	}
	say("\n5. job %s created with text for segment %s: voicehook generates it (no webhook involved)", job.ID, segment)
	deadline := time.Now().Add(30 * time.Second)
	for job.Status == "processing" {
		if time.Now().After(deadline) {
			return fmt.Errorf("generated job still processing after 30s")
		}
		time.Sleep(50 * time.Millisecond)
		if err := demoCall(ctx, http.MethodGet, base+"/api/jobs/"+job.ID, nil, nil, &job); err != nil {
			return err
		}
	}
	if job.Status != "completed" || job.Generation == nil {
		return fmt.Errorf("generated job ended %s", job.Status)
	}
	var seg struct {
		Voiceover  string `json:"voiceover"`
		Captions   string `json:"captions"`
		DurationMS int64  `json:"duration_ms"`
	}
	if err := demoCall(ctx, http.MethodGet, base+"/api/segments/"+segment, nil, nil, &seg); err != nil {
		return err
	}
	say("6. job %s: %s — ElevenLabs request %s, %d characters", job.ID, job.Status, job.Generation.RequestID, job.Generation.Characters)
	say("   voiceover:  %s (%.2fs)", seg.Voiceover, float64(seg.DurationMS)/1000)
	say("   captions:   %s", seg.Captions)
	say("               %s/api/segments/%s/captions.vtt and .srt", base, segment)
	return demoQA(ctx, base, segment, job.ID, say)
}

// demoQA waits for the generated voiceover's QA check: speech to text
// transcribed it and the transcript was compared with the script.
func demoQA(ctx context.Context, base, segment, jobID string, say func(string, ...any)) error {
	var seg struct {
		QAStatus      string   `json:"qa_status"`
		QAWER         *float64 `json:"qa_wer"`
		QAJob         string   `json:"qa_job"`
		QADifferences []struct {
			Kind     string  `json:"kind"`
			Expected string  `json:"expected"`
			Heard    string  `json:"heard"`
			At       float64 `json:"at"`
		} `json:"qa_differences"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for seg.QAJob != jobID || (seg.QAStatus != "passed" && seg.QAStatus != "flagged") {
		if time.Now().After(deadline) {
			return fmt.Errorf("no QA verdict on the generated voiceover after 30s (qa_status %q)", seg.QAStatus)
		}
		time.Sleep(50 * time.Millisecond)
		if err := demoCall(ctx, http.MethodGet, base+"/api/segments/"+segment, nil, nil, &seg); err != nil {
			return err
		}
	}
	say("\n7. QA: speech to text transcribed the voiceover and compared it with the script: %s, word error rate %.1f%%", seg.QAStatus, *seg.QAWER*100)
	for _, d := range seg.QADifferences {
		say("   %s at %.2fs: %q heard as %q", d.Kind, d.At, d.Expected, d.Heard)
	}
	say("   side by side, with each difference playable: %s/segments/%s", base, segment)
	return nil
}

func demoCall(ctx context.Context, method, u string, headers map[string]string, in, out any) error {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return json.Unmarshal(raw, out)
}

func compactJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
