package elevenlabstest

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
)

// Hit is one request the emulator received, as RequestLog reports it.
type Hit struct {
	Method string
	// Host is the Host header: which of the emulator's names (URL, AltURL,
	// localhost:…) the client addressed.
	Host string
	Path string
	// APIKey says whether an xi-api-key header came with the request.
	APIKey bool
}

// redirects is an Emulator's redirect state: pending plans and the chains
// being served. It lives beside the Emulator so emulator.go only consults
// it.
type redirects struct {
	mu     sync.Mutex
	plans  []redirectPlan
	chains map[string]chain // token → chain
	hits   []Hit
	alt    *httptest.Server
}

type redirectPlan struct {
	status int
	hops   []string
}

type chain struct {
	redirectPlan
	audio []byte
}

var redirectStates sync.Map // *Emulator → *redirects

func (e *Emulator) redirects() *redirects {
	r, _ := redirectStates.LoadOrStore(e, &redirects{chains: map[string]chain{}})
	return r.(*redirects)
}

// startAlt serves the same emulator on a second loopback port (AltURL), so
// a redirect can change host:port without leaving 127.0.0.1.
func (e *Emulator) startAlt(h http.Handler) {
	rs := e.redirects()
	rs.alt = httptest.NewServer(h)
	e.AltURL = rs.alt.URL
}

func (e *Emulator) closeAlt() {
	if rs := e.redirects(); rs.alt != nil {
		rs.alt.Close()
	}
	redirectStates.Delete(e)
}

// RedirectNext makes the next stream request that would have served audio
// (key, body and snapshot all valid) answer with a chain of len(hops)
// redirects of the given status (301, 302, 303, 307 or 308) instead: the
// first to hops[0], the next to hops[1], and so on, each a base URL such as
// URL, AltURL or http://localhost:<port>. The last hop serves the audio
// without asking for a key, as a CDN link that carries its own signature
// would. Each hop's path is /cdn/<token>/<n>, answered to any method, so
// both a 302 (the client switches to GET) and a 307 (it resends the POST)
// work.
func (e *Emulator) RedirectNext(status int, hops ...string) {
	rs := e.redirects()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.plans = append(rs.plans, redirectPlan{status: status, hops: append([]string(nil), hops...)})
}

// RequestLog lists every request received (on URL and AltURL), oldest
// first, with the Host it was addressed to and whether it carried the key.
func (e *Emulator) RequestLog() []Hit {
	rs := e.redirects()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]Hit(nil), rs.hits...)
}

func (e *Emulator) logHit(r *http.Request) {
	rs := e.redirects()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.hits = append(rs.hits, Hit{Method: r.Method, Host: r.Host, Path: r.URL.Path, APIKey: r.Header.Get("xi-api-key") != ""})
}

// startRedirect answers a stream request with the first hop of a pending
// plan, if there is one, and reports whether it did.
func (e *Emulator) startRedirect(w http.ResponseWriter, r *http.Request, audio []byte) bool {
	rs := e.redirects()
	rs.mu.Lock()
	if len(rs.plans) == 0 {
		rs.mu.Unlock()
		return false
	}
	plan := rs.plans[0]
	rs.plans = rs.plans[1:]
	token := rand.Text()
	rs.chains[token] = chain{redirectPlan: plan, audio: append([]byte(nil), audio...)}
	rs.mu.Unlock()
	redirectHop(w, r, plan, token, 0)
	return true
}

// serveCDN answers /cdn/{token}/{n}: the next redirect of the chain, or
// the audio once every hop has been taken.
func (e *Emulator) serveCDN(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	n, err := strconv.Atoi(r.PathValue("n"))
	rs := e.redirects()
	rs.mu.Lock()
	c, ok := rs.chains[token]
	rs.mu.Unlock()
	if !ok || err != nil || n < 1 || n > len(c.hops) {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	if n < len(c.hops) {
		redirectHop(w, r, c.redirectPlan, token, n)
		return
	}
	w.Header().Set("Content-Type", "audio/mpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(c.audio)))
	w.WriteHeader(http.StatusOK)
	w.Write(c.audio)
}

func redirectHop(w http.ResponseWriter, r *http.Request, p redirectPlan, token string, i int) {
	http.Redirect(w, r, p.hops[i]+"/cdn/"+token+"/"+strconv.Itoa(i+1), p.status)
}
