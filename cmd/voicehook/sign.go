package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/voicehook/voicehook/elevenlabs"
)

func cmdSign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sign --secret S [--file BODY] [--send URL]",
		"Sign a body as ElevenLabs does and print the ElevenLabs-Signature header value.\nWith --send, POST the signed body to URL and print the reply.")
	fs.SetOutput(stderr)
	secret := fs.String("secret", "", "the webhook secret (default: first of VOICEHOOK_ELEVENLABS_SECRET)")
	file := fs.String("file", "-", "the body to sign; - reads standard input")
	send := fs.String("send", "", "POST the signed body to this URL (e.g. http://127.0.0.1:8080/webhooks/elevenlabs?segment_id=seg-1)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = strings.TrimSpace(strings.Split(os.Getenv("VOICEHOOK_ELEVENLABS_SECRET"), ",")[0])
	}
	if *secret == "" {
		return usageErrorf("sign", "--secret is required (or VOICEHOOK_ELEVENLABS_SECRET)")
	}
	var body []byte
	var err error
	if *file == "-" {
		body, err = io.ReadAll(os.Stdin)
	} else {
		body, err = os.ReadFile(*file)
	}
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	header := elevenlabs.Sign(*secret, time.Now(), body)
	if *send == "" {
		fmt.Fprintln(stdout, header)
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *send, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(elevenlabs.HeaderName, header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	fmt.Fprintf(stdout, "%d %s\n", resp.StatusCode, strings.TrimSpace(string(reply)))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %d", resp.StatusCode)
	}
	return nil
}
