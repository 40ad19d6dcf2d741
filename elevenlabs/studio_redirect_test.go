package elevenlabs_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/elevenlabs"
	"github.com/voicehook/voicehook/elevenlabs/elevenlabstest"
	"github.com/voicehook/voicehook/fetch"
)

// loopbackOnly is the address policy of these tests: it lets the client
// reach the emulator's other names and ports and nothing else, so a bug in
// the redirect handling can never send traffic off the machine.
func loopbackOnly(a netip.Addr) error {
	if a.Unmap() == netip.MustParseAddr("127.0.0.1") || a == netip.IPv6Loopback() {
		return nil
	}
	return fmt.Errorf("test policy: %s is not loopback", a)
}

// otherHosts are two names for the emulator that are not its URL's
// host:port: the alternate port, and the same port as "localhost".
func otherHosts(t *testing.T, em *elevenlabstest.Emulator) (alt, local string) {
	t.Helper()
	u, err := url.Parse(em.URL)
	if err != nil {
		t.Fatal(err)
	}
	return em.AltURL, "http://localhost:" + u.Port()
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestStudioFollowsRedirects: one to five redirects, kept POSTs (307/308)
// and switched GETs (301/302/303), lead to the audio; the key goes only to
// the API's own host and never after the chain has left it.
func TestStudioFollowsRedirects(t *testing.T) {
	t.Parallel()
	for n := 1; n <= elevenlabs.MaxRedirects; n++ {
		for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			t.Run(fmt.Sprintf("%d×%d", n, status), func(t *testing.T) {
				t.Parallel()
				em, st := newEmulator(t)
				st.CheckAddr = loopbackOnly
				alt, local := otherHosts(t, em)
				// Away from the API, and back to it at the end: the key
				// must not come back either.
				hops := []string{alt, local, em.URL, alt, em.URL}[:n]
				em.RedirectNext(status, hops...)
				rc, err := st.Stream(t.Context(), projectSnap)
				if err != nil {
					t.Fatalf("Stream: %v", err)
				}
				if got := readAll(t, rc); string(got) != string(fakeMP3) {
					t.Errorf("got %q, want the snapshot's audio", got)
				}
				log := em.RequestLog()
				if len(log) != n+1 {
					t.Fatalf("emulator saw %d requests, want %d: %+v", len(log), n+1, log)
				}
				if first := log[0]; !first.APIKey || first.Host != hostOf(t, em.URL) || first.Method != http.MethodPost {
					t.Errorf("first request = %+v, want a POST with the key to %s", first, hostOf(t, em.URL))
				}
				for i, hit := range log[1:] {
					if want := hostOf(t, hops[i]); hit.Host != want {
						t.Errorf("hop %d went to %s, want %s", i+1, hit.Host, want)
					}
					if hit.APIKey {
						t.Errorf("hop %d (%s, after leaving the API's host) carried the key", i+1, hit.Host)
					}
					wantMethod := http.MethodGet
					if status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect {
						wantMethod = http.MethodPost
					}
					if hit.Method != wantMethod {
						t.Errorf("hop %d method = %s, want %s", i+1, hit.Method, wantMethod)
					}
				}
			})
		}
	}
}

// TestStudioRedirectKeyStaysOnHost: a redirect within the API's host keeps
// the key (it is the same service); one to another host:port, or to the
// same port under another name, drops it.
func TestStudioRedirectKeyStaysOnHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		hop     func(em *elevenlabstest.Emulator) string
		wantKey bool
	}{
		{"same host", func(em *elevenlabstest.Emulator) string { return em.URL }, true},
		{"other port", func(em *elevenlabstest.Emulator) string { alt, _ := otherHosts(t, em); return alt }, false},
		{"other name, same port", func(em *elevenlabstest.Emulator) string { _, local := otherHosts(t, em); return local }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			em, st := newEmulator(t)
			st.CheckAddr = loopbackOnly
			em.RedirectNext(http.StatusFound, tc.hop(em))
			rc, err := st.Stream(t.Context(), projectSnap)
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			rc.Close()
			var got []bool
			for _, h := range em.RequestLog() {
				got = append(got, h.APIKey)
			}
			if diff := cmp.Diff([]bool{true, tc.wantKey}, got); diff != "" {
				t.Errorf("key sent per request (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStudioTooManyRedirects: the sixth redirect is not followed, and the
// error says why, permanently (the same chain would come again).
func TestStudioTooManyRedirects(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)
	st.CheckAddr = loopbackOnly
	alt, _ := otherHosts(t, em)
	em.RedirectNext(http.StatusFound, alt, alt, alt, alt, alt, alt)
	_, err := st.Stream(t.Context(), projectSnap)
	if err == nil || !voicehook.IsPermanent(err) || !strings.Contains(err.Error(), "more than 5 redirects") {
		t.Fatalf("err = %v, want permanent 'more than 5 redirects'", err)
	}
	if !strings.HasPrefix(err.Error(), "streaming studio snapshot: ") || strings.Contains(err.Error(), "/cdn/") {
		t.Errorf("err = %q: want context, and no hop URL (it may carry a signature)", err)
	}
	if n := len(em.RequestLog()); n != 6 {
		t.Errorf("emulator saw %d requests, want 6 (the stream and five hops)", n)
	}
}

// TestStudioRedirectToRefusedAddress: with voicehook's download policy
// (fetch.CheckAddr, which refuses loopback), a hop to another host on
// 127.0.0.1 is refused before it is dialled, while the configured API on
// 127.0.0.1 itself is not judged.
func TestStudioRedirectToRefusedAddress(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"other port", "other name"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			em, st := newEmulator(t)
			st.CheckAddr = fetch.CheckAddr
			alt, local := otherHosts(t, em)
			hop := alt
			if name == "other name" {
				hop = local
			}
			em.RedirectNext(http.StatusTemporaryRedirect, hop)
			_, err := st.Stream(t.Context(), projectSnap)
			if err == nil || !voicehook.IsPermanent(err) || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), "loopback") {
				t.Fatalf("err = %v, want a permanent refusal naming the loopback address", err)
			}
			if strings.Contains(err.Error(), testAPIKey) {
				t.Errorf("err %q leaks the key", err)
			}
			if n := len(em.RequestLog()); n != 1 {
				t.Errorf("emulator saw %d requests, want only the stream request", n)
			}
		})
	}
}

// TestStudioRedirectToOtherScheme: a hop that is not http(s) is refused
// with a clear, permanent error.
func TestStudioRedirectToOtherScheme(t *testing.T) {
	t.Parallel()
	em, st := newEmulator(t)
	st.CheckAddr = loopbackOnly
	em.RedirectNext(http.StatusFound, "ftp://127.0.0.1:21")
	_, err := st.Stream(t.Context(), projectSnap)
	if err == nil || !voicehook.IsPermanent(err) || !strings.Contains(err.Error(), "ftp") {
		t.Fatalf("err = %v, want permanent refusal of the ftp hop", err)
	}
}
