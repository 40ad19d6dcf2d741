package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
)

// The operator's pages: server-rendered HTML (html/template escapes every
// value; payload data never becomes template.HTML), one stylesheet and one
// small script, all embedded, nothing loaded from elsewhere.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// admin holds the pages' state: parsed templates, the CSRF key and the ack
// latency snapshots (admin_ack.go).
type admin struct {
	s     *Server
	pages map[string]*template.Template
	csrf  *csrf
	// ack is nil without metrics.
	ack *ackRing
}

// pageNames are the templates in templates/, each rendered inside layout.html.
var pageNames = []string{"overview", "events", "event", "jobs", "job", "segment", "dead", "login", "error", "qa", "search"}

func newAdmin(s *Server) *admin {
	a := &admin{s: s, pages: map[string]*template.Template{}, csrf: newCSRF(s)}
	funcs := template.FuncMap{
		"fmtTime":     fmtTime,
		"isoTime":     isoTime,
		"ago":         a.ago,
		"dur":         fmtDuration,
		"short":       short,
		"shortID":     shortID,
		"bytes":       fmtBytes,
		"statusClass": statusClass,
		"path":        url.PathEscape,
		"seconds":     func(ms int64) string { return fmt.Sprintf("%.1f s", float64(ms)/1000) },
		"qaOn":        func() bool { return s.QA != nil }, // the menu's QA link
		"plural":      plural,
		"half":        func(v float64) float64 { return v / 2 },
	}
	for _, name := range pageNames {
		a.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	if s.Metrics != nil {
		a.ack = newAckRing(s.Metrics.AckLatency)
		now := func() time.Time { // not a.now: the sampler must not hold a
			if s.Clock == nil {
				return time.Now()
			}
			return s.Clock.Now()
		}
		a.ack.sample(now()) // the baseline the first minute is counted from
		startAckSampler(a.ack, time.Minute, now)
	}
	return a
}

// adminRoutes registers the pages and their assets.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	a := newAdmin(s)
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, a.guard(h)) }
	page("GET /{$}", a.overview)
	page("GET /events", a.events)
	page("GET /events/{id}", a.event)
	page("POST /events/{id}/replay", a.replay)
	page("POST /events/{id}/retry-segment", a.retrySegment)
	page("GET /jobs", a.jobs)
	page("GET /jobs/{id}", a.job)
	page("GET /search", a.search)
	page("GET /segments/{id}", a.segment)
	page("GET /dead", a.dead)
	page("POST /dead/replay", a.replayAll)
	page("GET /qa", a.qaList)
	page("POST /qa/regenerate", a.qaRegenerate)
	page("POST /logout", a.logout)
	mux.Handle("GET /login", a.headers(http.HandlerFunc(a.loginForm)))
	mux.Handle("POST /login", a.headers(http.HandlerFunc(a.login)))
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
}

// contentSecurityPolicy allows only this server's own stylesheet, script and
// forms; audio may come from the storage's public URL.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; " +
	"media-src 'self' http: https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// headers sets the headers every page carries.
func (a *admin) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// guard lets through whom the API lets through: with --admin-token a signed
// in browser (or a bearer token), without one only loopback clients that
// address this machine by a loopback name. Others are sent to sign in.
func (a *admin) guard(next http.Handler) http.Handler {
	return a.headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := a.s
		switch {
		case s.AdminToken == "" && !isLoopback(r.RemoteAddr):
			a.renderError(w, r, http.StatusForbidden, "Loopback only",
				"Without --admin-token the admin pages answer only clients on this machine. Set --admin-token to sign in from elsewhere.")
		case s.AdminToken == "" && !loopbackHost(r.Host):
			a.renderError(w, r, http.StatusForbidden, "Unexpected host",
				"Without --admin-token the admin pages answer only at localhost or a loopback address.")
		case s.adminAllowed(r):
			next.ServeHTTP(w, r)
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		default:
			a.renderError(w, r, http.StatusUnauthorized, "Signed out", "Sign in again, then repeat what you did.")
		}
	}))
}

// session names the signed-in session a form token is bound to: its id,
// so a form token dies with the session it was made for.
func (a *admin) session(r *http.Request) string {
	if a.s.AdminToken == "" {
		return "loopback"
	}
	if sess, ok := a.s.sessionFrom(r); ok {
		return "session " + sess.id
	}
	return "none" // a bearer-token client: no form of ours to post
}

// notice is a one-line message at the top of a page.
type notice struct {
	Kind string // ok, warn, error
	Text string
}

// page is what layout.html renders; Data is the page's own.
type page struct {
	Title   string
	Nav     string
	CSRF    string
	SignOut bool
	Notice  *notice
	// Refresh, on the pages that offer auto-refresh, is its control.
	Refresh *refreshControl
	// Search is the header's search box's text.
	Search string
	Data   any
}

func (a *admin) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	p.SignOut = a.s.AdminToken != "" && name != "login"
	if p.Nav == "" && name != "login" {
		p.Nav = "-" // the menu, with no page current
	}
	if p.CSRF == "" {
		p.CSRF = a.csrf.token("form", a.session(r))
	}
	var buf bytes.Buffer
	if err := a.pages[name].Execute(&buf, p); err != nil {
		a.s.Logger.Error("rendering admin page", "page", name, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

func (a *admin) renderError(w http.ResponseWriter, r *http.Request, code int, title, msg string) {
	a.render(w, r, code, "error", page{Title: title, Data: struct {
		Code    int
		Message string
	}{code, msg}})
}

// storeError shows a store failure as a page: not found, or unavailable.
func (a *admin) storeError(w http.ResponseWriter, r *http.Request, err error, what string) {
	if isNotFound(err) {
		a.renderError(w, r, http.StatusNotFound, "Not found", "No "+what+" by that id.")
		return
	}
	a.s.Logger.Error("admin page: store error", "what", what, "err", err)
	a.renderError(w, r, http.StatusServiceUnavailable, "Store unavailable",
		"The store did not answer while reading the "+what+". Try again in a moment.")
}

// -------------------------------------------------------------- sign in/out

type loginData struct {
	Next  string
	Error string
}

func (a *admin) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if a.s.AdminToken == "" || a.s.adminAllowed(r) {
		// Nothing to sign in to, or signed in already.
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	a.showLogin(w, r, http.StatusOK, next, "")
}

// showLogin renders the form with a fresh login cookie and the form token
// bound to it.
func (a *admin) showLogin(w http.ResponseWriter, r *http.Request, code int, next, msg string) {
	nonce := randomToken()
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: nonce, Path: "/login", MaxAge: 3600,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.s.secureCookies(),
	})
	a.render(w, r, code, "login", page{Title: "Sign in", CSRF: a.csrf.token("login", nonce), Data: loginData{Next: next, Error: msg}})
}

func (a *admin) login(w http.ResponseWriter, r *http.Request) {
	if a.s.AdminToken == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	nonce := ""
	if c, err := r.Cookie(loginCookie); err == nil {
		nonce = c.Value
	}
	if err := a.csrf.check(w, r, "login", nonce); err != nil || nonce == "" {
		a.s.Logger.Warn("sign-in refused", "reason", "cross-site or bad form token", "remote", r.RemoteAddr)
		a.renderError(w, r, http.StatusForbidden, "Refused", "This sign-in did not come from this server's form. Open /login and try again.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	if !a.s.tokenMatches(r.PostForm.Get("token")) {
		a.s.Logger.Warn("sign-in failed: wrong admin token", "remote", r.RemoteAddr)
		a.showLogin(w, r, http.StatusUnauthorized, next, "Wrong admin token.")
		return
	}
	a.s.setSession(w)
	a.s.clearCookie(w, loginCookie, "/login")
	a.s.Logger.Info("operator signed in", "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *admin) logout(w http.ResponseWriter, r *http.Request) {
	if !a.checkForm(w, r) {
		return
	}
	// End the session on the server, not just in this browser: a copy of
	// the cookie must stop working too.
	if sess, ok := a.s.sessionFrom(r); ok {
		if err := a.s.revokeSession(r.Context(), sess); err != nil {
			a.s.Logger.Error("sign-out not recorded", "err", err)
			a.renderError(w, r, http.StatusServiceUnavailable, "Not signed out",
				"The store did not record the sign-out. Try again in a moment.")
			return
		}
	}
	a.s.clearCookie(w, sessionCookie, "/")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// checkForm checks a signed-in POST; on refusal it has answered.
func (a *admin) checkForm(w http.ResponseWriter, r *http.Request) bool {
	err := a.csrf.check(w, r, "form", a.session(r))
	if err == nil {
		return true
	}
	a.s.Logger.Warn("admin POST refused", "path", r.URL.Path, "reason", err, "remote", r.RemoteAddr,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	a.renderError(w, r, http.StatusForbidden, "Refused", capitalize(err.Error())+".")
	return false
}

// --------------------------------------------------------------- formatting

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (a *admin) now() time.Time {
	if a.s.Clock == nil {
		return time.Now()
	}
	return a.s.Clock.Now()
}

// ago says how long before now t was, coarsely ("3 min ago"), for beside
// an absolute time.
func (a *admin) ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return relTime(a.now().Sub(t))
}

// relTime says how long ago something d before now was; d < 0 is later
// than now (another replica's clock, or a time set ahead).
func relTime(d time.Duration) string {
	switch {
	case d < -30*time.Second:
		return "in " + coarse(-d)
	case d < 10*time.Second:
		return "just now"
	}
	return coarse(d) + " ago"
}

// coarse writes d in its largest unit, and the next one under ten hours.
func coarse(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 10*time.Hour && d%time.Hour >= time.Minute:
		return strconv.Itoa(int(d/time.Hour)) + " h " + strconv.Itoa(int(d%time.Hour/time.Minute)) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days"
}

// plural writes a count with its noun: "1 event", "2 events".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// short cuts s to n characters.
func short(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// shortID shows a long generated id by its kind and its end, which differ
// between ids made close in time (UUIDv7 ids share their leading time bits).
func shortID(id string) string {
	if len(id) <= 20 {
		return id
	}
	kind, _, ok := strings.Cut(id, "_")
	if !ok || len(kind) > 6 {
		return short(18, id)
	}
	return kind + "_…" + id[len(id)-12:]
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// statusClass is the CSS class of a status badge; any state type (event,
// job, segment, attempt outcome) or plain string.
func statusClass(status any) string {
	if b := voicehook.Badge(fmt.Sprint(status)); b != "" {
		return "st st-" + b
	}
	return "st"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
