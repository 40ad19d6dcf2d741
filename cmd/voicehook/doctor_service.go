package main

// doctor's checks of how voicehook meets the outside: the ElevenLabs
// webhook secret, the ElevenLabs API key, and the public URL that
// callbacks and media links are built on. A public URL that is not https
// or not reachable is a warning, not a failure: doctor usually runs before
// the server it would reach, and a private pipeline may be fine on http.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// warning is a check's result that deserves attention but does not fail
// doctor.
type warning string

func (w warning) Error() string { return string(w) }

// serviceChecks are the checks of this file, in order.
func (d *doctor) serviceChecks() []doctorCheck {
	checks := []doctorCheck{{name: "elevenlabs secret", run: d.checkSecret}}
	if d.cfg.ElevenLabsAPIKey != "" {
		checks = append(checks, doctorCheck{name: "elevenlabs api key", run: func(ctx context.Context) (string, error) {
			return checkAPIKey(ctx, http.DefaultClient, d.cfg.ElevenLabsAPIURL, d.cfg.ElevenLabsAPIKey)
		}})
	}
	p := publicURLPolicy(d.cfg.PublicURL, d.cfg.Addr)
	checks = append(checks, doctorCheck{name: "public url", run: func(context.Context) (string, error) {
		switch {
		case p.fail != "":
			return "", errors.New(p.fail)
		case p.warn != "":
			return "", warning(p.warn)
		}
		return p.ok, nil
	}})
	if p.dial {
		checks = append(checks, doctorCheck{name: "public url reachable", run: func(ctx context.Context) (string, error) {
			return checkReachable(ctx, http.DefaultClient, strings.TrimSuffix(d.cfg.PublicURL, "/"))
		}})
	}
	return checks
}

func (d *doctor) checkSecret(context.Context) (string, error) {
	switch n := len(d.cfg.secrets()); n {
	case 0:
		return "", errors.New("--elevenlabs-secret is not set, so every signed ElevenLabs webhook would be refused: " +
			"set it to your ElevenLabs workspace webhook's secret (wsec_…)")
	case 1:
		return "1 secret; signed deliveries are verified with it", nil
	default:
		return fmt.Sprintf("%d secrets (rotation); a delivery signed with any of them is accepted", n), nil
	}
}

// urlPolicy is what doctor says of --public-url without dialling it: one
// of ok, warn or fail, and whether it is worth dialling.
type urlPolicy struct {
	ok, warn, fail string
	dial           bool
}

// publicURLPolicy judges --public-url (raw) for a server listening on addr.
func publicURLPolicy(raw, addr string) urlPolicy {
	if raw == "" {
		c := config{Addr: addr}
		return urlPolicy{warn: "--public-url is not set: callback and media URLs will say " + c.publicURL(addr) +
			", which only this machine reaches; set it to the https address ElevenLabs and your pipeline reach this server at"}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return urlPolicy{fail: fmt.Sprintf("--public-url %q: want an absolute URL such as https://voicehook.example.com", raw)}
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return urlPolicy{fail: fmt.Sprintf("--public-url %q: want no query or fragment", raw)}
	}
	clean := strings.TrimSuffix(raw, "/")
	if u.Scheme != "https" {
		return urlPolicy{warn: clean + " is not https: callback URLs carry their segment's token, and media links the audio, " +
			"in the clear; put voicehook behind an https address (a TLS proxy)", dial: true}
	}
	return urlPolicy{ok: clean, dial: true}
}

// checkReachable asks base/healthz, as anyone reaching this server would,
// and expects voicehook's answer. Failing to reach it is a warning.
func checkReachable(ctx context.Context, client *http.Client, base string) (string, error) {
	target := base + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", target, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is said already
		}
		return "", warning(fmt.Sprintf("GET %s failed from this machine: %v "+
			"(run doctor while voicehook serve runs to check that this address reaches it)", target, err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var health struct {
		Status string `json:"status"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &health) != nil || health.Status != "ok" {
		return "", warning(fmt.Sprintf("GET %s answered %d %q, not as voicehook does: "+
			"does this address (or the proxy in front of it) lead to this server?", target, resp.StatusCode, oneLine(string(body), 80)))
	}
	return fmt.Sprintf("GET %s answered as voicehook does, from this machine", target), nil
}

// checkAPIKey asks ElevenLabs whose key it is (GET /v1/user): the one
// request that proves a key without spending characters.
func checkAPIKey(ctx context.Context, client *http.Client, apiURL, key string) (string, error) {
	base := strings.TrimSuffix(apiURL, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/user", nil)
	if err != nil {
		return "", fmt.Errorf("--elevenlabs-api-url %q: %w", apiURL, err)
	}
	req.Header.Set("xi-api-key", key)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("asking ElevenLabs about the key: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		var user struct {
			Subscription *struct {
				Tier           string `json:"tier"`
				CharacterCount int64  `json:"character_count"`
				CharacterLimit int64  `json:"character_limit"`
			} `json:"subscription"`
		}
		if json.Unmarshal(body, &user) == nil && user.Subscription != nil && user.Subscription.Tier != "" {
			s := user.Subscription
			return fmt.Sprintf("accepted by %s (plan %s, %d of %d characters used)", base, s.Tier, s.CharacterCount, s.CharacterLimit), nil
		}
		return "accepted by " + base, nil
	}
	code, msg := apiErrorDetail(body)
	switch {
	case code == "missing_permissions":
		// A key restricted to what voicehook uses (text to speech, speech
		// to text, Studio) may not read the user: it is still accepted.
		return fmt.Sprintf("accepted by %s (the key may not read its account, which voicehook does not need)", base), nil
	case resp.StatusCode == http.StatusUnauthorized:
		what := ""
		if code != "" || msg != "" {
			what = fmt.Sprintf(" (%s: %s)", code, msg)
		}
		return "", fmt.Errorf("the ElevenLabs API key is refused%s: set --elevenlabs-api-key to a key of your ElevenLabs account", what)
	}
	return "", fmt.Errorf("GET %s/v1/user answered %d: %s", base, resp.StatusCode, oneLine(string(body), 200))
}

// apiErrorDetail reads ElevenLabs' {"detail":{"status","message"}}.
func apiErrorDetail(body []byte) (code, message string) {
	var env struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", ""
	}
	var d struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if json.Unmarshal(env.Detail, &d) == nil {
		return d.Status, d.Message
	}
	var s string
	_ = json.Unmarshal(env.Detail, &s)
	return "", s
}
