package fetch

import (
	"fmt"
	"net/url"

	"github.com/voicehook/voicehook"
)

// parseAudioURL parses and checks an audio URL. Its errors never quote the
// URL: a malformed one may still carry a token.
func parseAudioURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var detail error = fmt.Errorf("cannot parse it")
		if ue, ok := err.(*url.Error); ok {
			detail = ue.Err // url.Error's own message repeats the URL
		}
		return nil, voicehook.Permanent("audio URL is not valid", detail)
	}
	if err := checkURL(u); err != nil {
		return nil, err
	}
	return u, nil
}

// checkURL refuses what Download never fetches, whether it is the URL it was
// given or one it is redirected to.
func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return voicehook.Permanent("audio URL is not http or https", fmt.Errorf("scheme %q", u.Scheme))
	}
	if u.User != nil {
		// Credentials in a URL end up in logs and proxies; voicehook does
		// not send them.
		return voicehook.Permanent("audio URL contains a user name or password",
			fmt.Errorf("%s: credentials in URLs are not sent", redact(u)))
	}
	if u.Hostname() == "" {
		return voicehook.Permanent("audio URL has no host", fmt.Errorf("%s", redact(u)))
	}
	return checkHost(u.Hostname())
}

// redact keeps only scheme://host/path of u for errors and logs: query
// strings and fragments often carry signatures or tokens, userinfo carries
// passwords.
func redact(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}
