package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
)

// TestDoctorFailsWithoutSecret runs the binary: without
// --elevenlabs-secret every signed webhook would be refused, so doctor
// fails (exit 1) and says what to set.
func TestDoctorFailsWithoutSecret(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := binRun(t, nil, "doctor", "--data-dir", filepath.Join(t.TempDir(), "d"))
	want := "FAIL elevenlabs secret: --elevenlabs-secret is not set, so every signed ElevenLabs webhook would be refused: " +
		"set it to your ElevenLabs workspace webhook's secret (wsec_…)"
	if code != 1 || !strings.Contains(stdout, want+"\n") || stderr != "voicehook: doctor: 1 of 4 checks failed\n" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "WARN public url: --public-url is not set") {
		t.Fatalf("no warning about the public URL:\n%s", stdout)
	}
}

// TestDoctorSecrets: one secret, or several while rotating.
func TestDoctorSecrets(t *testing.T) {
	t.Parallel()
	lines, _, err := doctorRun(t, "--data-dir", t.TempDir(), "--elevenlabs-secret", "wsec_a, wsec_b")
	if err != nil || lines[2] != "ok   elevenlabs secret: 2 secrets (rotation); a delivery signed with any of them is accepted" {
		t.Fatalf("doctor = %v\n%s", err, strings.Join(lines, "\n"))
	}
}

// TestPublicURLPolicy: what doctor says of --public-url before dialling it.
func TestPublicURLPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in       string
		ok, warn string
		fail     string
		dial     bool
	}{
		{in: "", warn: "--public-url is not set: callback and media URLs will say http://localhost:8080, which only this machine reaches; " +
			"set it to the https address ElevenLabs and your pipeline reach this server at"},
		{in: "https://voice.example.com/", ok: "https://voice.example.com", dial: true},
		{in: "https://voice.example.com/hooks", ok: "https://voice.example.com/hooks", dial: true},
		{in: "http://voice.example.com", warn: "http://voice.example.com is not https: callback URLs carry their segment's token, " +
			"and media links the audio, in the clear; put voicehook behind an https address (a TLS proxy)", dial: true},
		{in: "voice.example.com", fail: `--public-url "voice.example.com": want an absolute URL such as https://voicehook.example.com`},
		{in: "ftp://voice.example.com", fail: `--public-url "ftp://voice.example.com": want an absolute URL such as https://voicehook.example.com`},
		{in: "https://", fail: `--public-url "https://": want an absolute URL such as https://voicehook.example.com`},
		{in: "https://voice.example.com?x=1", fail: `--public-url "https://voice.example.com?x=1": want no query or fragment`},
	}
	for _, c := range cases {
		p := publicURLPolicy(c.in, ":8080")
		got := []any{p.ok, p.warn, p.fail, p.dial}
		if diff := cmp.Diff([]any{c.ok, c.warn, c.fail, c.dial}, got); diff != "" {
			t.Errorf("publicURLPolicy(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}

// TestPublicURLReach dials only loopback test servers: one answering as
// voicehook does, one answering something else, a closed port, and an
// https one.
func TestPublicURLReach(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
	t.Cleanup(other.Close)
	closed := closedPort(t)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"status":"ok"}`) }))
	t.Cleanup(tlsSrv.Close)
	voice := healthz(t)

	cases := []struct {
		base   string
		client *http.Client
		ok     string
		warn   string
	}{
		{voice, http.DefaultClient, "GET " + voice + "/healthz answered as voicehook does, from this machine", ""},
		{tlsSrv.URL, tlsSrv.Client(), "GET " + tlsSrv.URL + "/healthz answered as voicehook does, from this machine", ""},
		{other.URL, http.DefaultClient, "", "GET " + other.URL + `/healthz answered 200 "hello", not as voicehook does: ` +
			"does this address (or the proxy in front of it) lead to this server?"},
		{closed, http.DefaultClient, "", "GET " + closed + "/healthz failed from this machine: dial tcp " + strings.TrimPrefix(closed, "http://") +
			": connect: connection refused (run doctor while voicehook serve runs to check that this address reaches it)"},
	}
	for _, c := range cases {
		ok, err := checkReachable(context.Background(), c.client, c.base)
		var warn string
		if err != nil {
			w, isWarning := err.(warning)
			if !isWarning {
				t.Errorf("%s: error %v is not a warning", c.base, err)
			}
			warn = string(w)
		}
		if diff := cmp.Diff([]string{c.ok, c.warn}, []string{ok, warn}); diff != "" {
			t.Errorf("checkReachable(%s) (-want +got):\n%s", c.base, diff)
		}
	}
}

// closedPort is a loopback URL nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestDoctorElevenLabsAPIKey: with an API key set, doctor asks ElevenLabs
// (here its emulator, or a stand-in) whose key it is: accepted, refused,
// accepted without the right to read the user, or an outage.
func TestDoctorElevenLabsAPIKey(t *testing.T) {
	t.Parallel()
	emu := elevenlabstest.StartTTS("sk_right")
	t.Cleanup(emu.Close)
	restricted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"detail":{"status":"missing_permissions","message":"The API key you used is missing the permission user_read to execute this operation."}}`)
	}))
	t.Cleanup(restricted.Close)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream gone", http.StatusBadGateway)
	}))
	t.Cleanup(down.Close)

	cases := []struct {
		name, url, key, want string
		fails                bool
	}{
		{"accepted", emu.URL, "sk_right", "ok   elevenlabs api key: accepted by " + emu.URL + " (plan free, 0 of 10000 characters used)", false},
		{"refused", emu.URL, "sk_wrong", "FAIL elevenlabs api key: the ElevenLabs API key is refused (invalid_api_key: Invalid API key): " +
			"set --elevenlabs-api-key to a key of your ElevenLabs account", true},
		{"no user_read", restricted.URL, "sk_scoped", "ok   elevenlabs api key: accepted by " + restricted.URL +
			" (the key may not read its account, which voicehook does not need)", false},
		{"outage", down.URL, "sk_right", "FAIL elevenlabs api key: GET " + down.URL + "/v1/user answered 502: upstream gone", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			lines, _, err := doctorRun(t, "--data-dir", t.TempDir(), "--elevenlabs-secret", testSecret,
				"--elevenlabs-api-key", c.key, "--elevenlabs-api-url", c.url)
			if len(lines) != 5 || lines[3] != c.want {
				t.Fatalf("lines:\n%s\nwant line 4:\n%s", strings.Join(lines, "\n"), c.want)
			}
			if (err != nil) != c.fails {
				t.Fatalf("doctor error %v, want failure %v", err, c.fails)
			}
		})
	}
}
