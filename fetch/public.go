package fetch

import (
	"net/netip"
	"net/url"
	"strings"
)

// PublicHTTPS reports whether an outside service can be expected to fetch
// rawURL itself: an https URL whose host is a name that is not obviously
// internal, or a public IP address. Voiceover QA then hands speech to text
// the URL instead of uploading the file. It is a pure function and looks
// nothing up: a name that resolves to a private address passes, and the
// service's fetch fails, which QA reports.
func PublicHTTPS(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return CheckAddr(ip) == nil
	}
	if host == "" || !strings.Contains(host, ".") || checkHost(host) != nil {
		return false
	}
	for _, suffix := range []string{".localhost", ".local", ".internal", ".lan", ".home.arpa", ".test", ".invalid", ".example"} {
		if strings.HasSuffix("."+host, suffix) {
			return false
		}
	}
	return true
}
