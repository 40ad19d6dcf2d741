package fetch

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// checkDial is a net.Dialer Control hook: it runs for every connection
// attempt after the host name has been resolved and before the connection is
// made, on the address actually dialled. Checking there, rather than
// resolving the name up front, leaves nothing for DNS rebinding (a name that
// resolves to a public address for the check and a private one for the
// dial) and covers every redirect hop and every address Happy Eyeballs
// tries, with one rule.
func checkDial(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q", ErrForbiddenAddress, address)
	}
	return CheckAddr(ap.Addr())
}

// newClient builds the HTTP client of one download. A fresh transport per
// download costs a connection setup but shares no state between downloads
// with different settings; audio downloads are few and large.
func (f *Fetcher) newClient(maxRedirects int) *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	switch {
	case f.dialCheck != nil:
		dialer.Control = f.dialCheck
	case !f.AllowPrivate:
		dialer.Control = checkDial
	}
	transport := &http.Transport{
		// No proxy, ever: the dialer would then connect to the proxy, the
		// address check would judge the proxy's address, and the proxy would
		// reach whatever the URL names.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    15 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		IdleConnTimeout:        30 * time.Second,
	}
	var rt http.RoundTripper = transport
	if f.WrapTransport != nil {
		rt = f.WrapTransport(transport)
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: checkRedirect(maxRedirects),
	}
}
