package elevenlabs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/voicehook/voicehook"
)

// MaxRedirects is how many redirects Stream follows before giving up. The
// stream endpoint may hand the audio off to another host; ElevenLabs' SDKs
// follow such redirects (httpx and fetch do by default), so voicehook does
// too, up to this many.
const MaxRedirects = 5

// errRefusedHop marks a connection that Studio.CheckAddr refused.
var errRefusedHop = errors.New("connection refused by the address policy")

// origin is a URL's scheme and host with the port made explicit, so that
// http://h and http://h:80 are one origin and https://h another.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// keepsKey reports whether a redirect to next, after the requests in via,
// may carry the xi-api-key: only while every request of the chain, next
// included, stays on the first request's origin. Go's client forwards
// custom headers to wherever a redirect points (it strips only
// Authorization and cookies), and rebuilds each hop's headers from the first
// request, so a chain that left the API and came back would get the key
// again; this says no to both. It is a pure function.
func keepsKey(next *url.URL, via []*http.Request) bool {
	first := origin(via[0].URL)
	if origin(next) != first {
		return false
	}
	for _, r := range via[1:] {
		if origin(r.URL) != first {
			return false
		}
	}
	return true
}

// checkRedirect follows at most MaxRedirects redirects, each to an http(s)
// URL, with the key only where keepsKey allows. The address of every hop
// is judged when it is dialled (see transport).
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return voicehook.Permanent(fmt.Sprintf("ElevenLabs' Studio stream went through more than %d redirects", MaxRedirects), nil)
	}
	if s := strings.ToLower(req.URL.Scheme); (s != "http" && s != "https") || req.URL.Host == "" {
		return voicehook.Permanent(fmt.Sprintf("ElevenLabs redirected the Studio stream to a URL that is not http(s) (%s)", hopName(req.URL)), nil)
	}
	if !keepsKey(req.URL, via) {
		req.Header.Del("xi-api-key")
	}
	// The next host has no business knowing the previous URL.
	req.Header.Del("Referer")
	return nil
}

// hopName names a URL in an error by scheme and host only: a redirect
// target may carry a signature in its path or query.
func hopName(u *url.URL) string {
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

// controlFor makes check a net.Dialer Control hook: it runs on the address
// actually dialled, after the name was resolved, so DNS rebinding gains
// nothing. It is a pure function of its arguments.
func controlFor(check func(netip.Addr) error) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot parse dialled address %q", errRefusedHop, address)
		}
		if err := check(ap.Addr()); err != nil {
			return fmt.Errorf("%w: %w", errRefusedHop, err)
		}
		return nil
	}
}

// transport is the Studio client's transport when CheckAddr is set. The
// host of BaseURL (and the proxy the environment names for it) is the
// operator's choice and is dialled as before; any other host, which only a
// redirect can lead to, goes direct (a proxy would hide the real address)
// through a dialer that judges the address with check. One transport
// serves the first request and every hop, so no hop escapes the rule.
func transport(base *url.URL, check func(netip.Addr) error) *http.Transport {
	trusted := map[string]bool{hostPort(base): true}
	baseProxy, _ := http.ProxyFromEnvironment(&http.Request{URL: base})
	if baseProxy != nil {
		trusted[hostPort(baseProxy)] = true
	}
	plain := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	checked := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: controlFor(check)}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = func(req *http.Request) (*url.URL, error) {
		if origin(req.URL) == origin(base) {
			return baseProxy, nil
		}
		return nil, nil
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if trusted[strings.ToLower(addr)] {
			return plain.DialContext(ctx, network, addr)
		}
		return checked.DialContext(ctx, network, addr)
	}
	return t
}

// hostPort is u's host:port as the transport dials it (default port
// filled in, host lowercased).
func hostPort(u *url.URL) string {
	o := origin(u)
	return o[strings.Index(o, "://")+3:]
}

// requestError classifies an error from sending the stream request or
// following its redirects. *url.Error is taken apart when the failing
// request is a hop: its message would quote the hop's whole URL.
func requestError(err error, first *url.URL) error {
	var pe *voicehook.PermanentError
	if errors.As(err, &pe) {
		return pe // from checkRedirect; says all it needs
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	hop, perr := url.Parse(ue.URL)
	if perr != nil || *hop == *first {
		// The first request (never judged: see transport). Its URL holds
		// ids, never the key.
		return err
	}
	if errors.Is(err, errRefusedHop) {
		return voicehook.Permanent(fmt.Sprintf("ElevenLabs redirected the Studio stream to %s, a refused address", hopName(hop)), ue.Err)
	}
	// Network trouble at a hop: worth a retry, like at the API itself.
	return fmt.Errorf("following a redirect of the Studio stream to %s: %w", hopName(hop), ue.Err)
}
