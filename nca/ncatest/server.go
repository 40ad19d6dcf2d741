// Package ncatest is an in-process emulator of the NCA Toolkit's storage
// API for tests, faithful to what the toolkit does
// (github.com/stephengpope/no-code-architects-toolkit, build 209):
//
//   - every API call checks X-API-Key and answers 401 {"message":"Unauthorized"};
//   - POST /v1/s3/upload validates its JSON (400 {"message":"Invalid payload: …"}),
//     opens the S3 upload with an ACL (public-read or private), which a
//     bucket with ACLs disabled refuses (SetACLsDisabled: 500 with boto3's
//     AccessControlListNotSupported message, nothing downloaded), then
//     downloads file_url itself and answers 500 with its envelope when that
//     fails; the file is kept in memory under filename, the S3 key as given
//     (slashes included), and served at <URL>/files/<bucket>/<quote(filename)>
//     (GET with Range, and HEAD; the path is the key, never cleaned); with
//     public false the link is presigned and expires after an hour;
//   - GET /v1/toolkit/authenticate answers 200, or 401 in the envelope.
//
// It only ever downloads from 127.0.0.1 or ::1, so tests cannot send traffic
// off the machine through it.
//
// One deliberate fidelity point: filename is optional, as in NCA's schema
// (only file_url is required); without it the name comes from file_url.
package ncatest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Routes, as counted by Requests.
const (
	RouteUpload       = "POST /v1/s3/upload"
	RouteAuthenticate = "GET /v1/toolkit/authenticate"
	RouteFileGET      = "GET /files/"
	RouteFileHEAD     = "HEAD /files/"
)

// Mode makes successful uploads answer in a broken or surprising way.
type Mode int

const (
	// Normal answers as NCA does.
	Normal Mode = iota
	// MalformedJSON answers HTTP 200 with a body cut off mid-JSON.
	MalformedJSON
	// EnvelopeError answers HTTP 200 with an envelope whose code is 500.
	EnvelopeError
	// IgnorePublic stores every file privately and returns a presigned link
	// with "public": false, whatever the request asked.
	IgnorePublic
	// PresignedPublic claims "public": true but returns a presigned link.
	PresignedPublic
	// LegacyURLField names the link "url" instead of "file_url", as older
	// builds and NCA's docs/s3/upload.md do.
	LegacyURLField
)

// ACLNotSupported is the message NCA answers (HTTP 500, in its envelope)
// when its bucket has ACLs disabled: S3 refuses the ACL of
// CreateMultipartUpload with 400 AccessControlListNotSupported and boto3's
// ClientError reads so (services/v1/s3/upload.py passes it on as str(e)).
const ACLNotSupported = "An error occurred (AccessControlListNotSupported) when calling the CreateMultipartUpload operation: The bucket does not allow ACLs"

// PresignTTL is how long NCA's presigned links last (ExpiresIn=3600).
const PresignTTL = time.Hour

// Upload is one accepted POST /v1/s3/upload body.
type Upload struct {
	FileURL  string `json:"file_url"`
	Filename string `json:"filename"`
	Public   bool   `json:"public"`
}

type file struct {
	data   []byte
	public bool
}

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to configure clients with, like
	// http://127.0.0.1:PORT.
	URL string
	// APIKey is the key every API call must carry.
	APIKey string
	// Bucket is the bucket name in replies and file links.
	Bucket string

	srv     *httptest.Server
	fetcher *http.Client
	signKey []byte

	mu         sync.Mutex
	files      map[string]file
	uploads    []Upload
	counts     map[string]int
	failN      int
	failStatus int
	mode       Mode
	truncate   int64
	delay      time.Duration
	noHEAD     bool
	aclsOff    bool
	now        func() time.Time
}

// NewServer starts an emulator on 127.0.0.1 that accepts apiKey. Close it
// when done.
func NewServer(apiKey string) *Server {
	s := &Server{
		APIKey:  apiKey,
		Bucket:  "nca-test-bucket",
		signKey: []byte(rand.Text()),
		files:   map[string]file{},
		counts:  map[string]int{},
		now:     time.Now,
	}
	s.fetcher = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy: nil, // never through a proxy: loopback only
			DialContext: (&net.Dialer{
				Timeout: 5 * time.Second,
				Control: loopbackOnly,
			}).DialContext,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !isLoopbackURL(req.URL) {
				return fmt.Errorf("ncatest: refusing redirect to non-loopback %s", req.URL.Host)
			}
			if len(via) >= 10 {
				return fmt.Errorf("stopped after 10 redirects")
			}
			return nil
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/s3/upload", s.handleUpload)
	mux.HandleFunc("/v1/toolkit/authenticate", s.handleAuthenticate)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// File links bypass the mux, which would clean "a//b" or "a/./b"
		// into another path: an S3 object key is taken literally.
		if strings.HasPrefix(r.URL.Path, "/files/") {
			s.handleFile(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.srv.Close()
	s.fetcher.CloseIdleConnections()
}

// FailNext makes the next n API calls (upload or authenticate) answer
// status the way NCA or a proxy in front of it would: 401 and 400 with
// NCA's {"message"} body, 429 and 500 with its envelope, 502–504 with a
// proxy's HTML page.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// SetMode changes how successful uploads are answered.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetTruncate makes stored files be served n bytes short, as a store that
// lost the end of an upload would.
func (s *Server) SetTruncate(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate = n
}

// SetDelay makes API calls wait d before answering (or until the client
// gives up), to test timeouts.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetHEADUnsupported makes file links answer HEAD with 405, as some object
// stores and CDNs do.
func (s *Server) SetHEADUnsupported(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noHEAD = on
}

// SetACLsDisabled makes the bucket behave as one whose Object Ownership is
// "Bucket owner enforced" (ACLs disabled, the default for new AWS buckets
// since April 2023): every upload answers 500 with ACLNotSupported, since
// NCA always sets an ACL (public-read, or private).
func (s *Server) SetACLsDisabled(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aclsOff = on
}

// SetClock sets the clock presigned links are stamped and checked with.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Requests returns how many requests a route has received (see the Route
// constants), counting failed ones.
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[route]
}

// Uploads returns the accepted upload requests, oldest first.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Upload(nil), s.uploads...)
}

// File returns the bytes stored under filename.
func (s *Server) File(filename string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[filename]
	return bytes.Clone(f.data), ok
}

// FileURL is the public link of filename, as NCA builds it:
// {S3_ENDPOINT_URL}/{bucket}/{quote(filename)}.
func (s *Server) FileURL(filename string) string {
	return s.URL + "/files/" + url.PathEscape(s.Bucket) + "/" + escapePath(filename)
}

func (s *Server) count(route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[route]++
}

// injected answers the request with the pending FailNext failure, if any.
func (s *Server) injected(w http.ResponseWriter, endpoint string) bool {
	s.mu.Lock()
	if s.failN == 0 {
		s.mu.Unlock()
		return false
	}
	s.failN--
	status := s.failStatus
	s.mu.Unlock()
	switch {
	case status == http.StatusUnauthorized:
		writeJSON(w, status, map[string]any{"message": "Unauthorized"})
	case status == http.StatusBadRequest:
		writeJSON(w, status, map[string]any{"message": "Invalid payload: injected failure"})
	case status >= 502 && status <= 504:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
	case status == http.StatusTooManyRequests:
		writeJSON(w, status, s.envelope(endpoint, status, nil, "MAX_QUEUE_LENGTH (10) reached"))
	default:
		writeJSON(w, status, s.envelope(endpoint, status, nil, "injected failure"))
	}
	return true
}

// wait applies SetDelay; it reports false if the client gave up first.
func (s *Server) wait(ctx context.Context) bool {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// envelope is NCA's reply wrapper (app.py, queue_task).
func (s *Server) envelope(endpoint string, code int, response any, message string) map[string]any {
	if code == http.StatusOK {
		message = "success"
	}
	return map[string]any{
		"endpoint":     endpoint,
		"code":         code,
		"id":           nil,
		"job_id":       newUUID(),
		"response":     response,
		"message":      message,
		"run_time":     0.1,
		"queue_time":   0,
		"total_time":   0.1,
		"pid":          123,
		"queue_id":     456,
		"queue_length": 0,
		"build_number": "209",
	}
}

func (s *Server) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	s.count(r.Method + " /v1/toolkit/authenticate")
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	if !s.wait(r.Context()) || s.injected(w, "/authenticate") {
		return
	}
	// The route checks the key itself and answers in the envelope
	// (routes/v1/toolkit/authenticate.py).
	if r.Header.Get("X-API-Key") != s.APIKey {
		writeJSON(w, http.StatusUnauthorized, s.envelope("/authenticate", http.StatusUnauthorized, nil, "Unauthorized"))
		return
	}
	writeJSON(w, http.StatusOK, s.envelope("/authenticate", http.StatusOK, "Authorized", ""))
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	const endpoint = "/v1/s3/upload"
	s.count(r.Method + " " + endpoint)
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	// Read the body before any delay: the server only notices a client
	// that gave up once the body has been consumed.
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	if !s.wait(r.Context()) || s.injected(w, endpoint) {
		return
	}
	if r.Header.Get("X-API-Key") != s.APIKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
		return
	}
	req, problem := parseUpload(r.Header.Get("Content-Type"), body)
	if problem != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": problem})
		return
	}
	s.mu.Lock()
	aclsOff := s.aclsOff
	s.mu.Unlock()
	if aclsOff {
		// stream_upload_to_s3 calls create_multipart_upload(ACL=…) before
		// it downloads anything, and S3 accepts no ACL there but
		// bucket-owner-full-control.
		writeJSON(w, http.StatusInternalServerError, s.envelope(endpoint, http.StatusInternalServerError, nil, ACLNotSupported))
		return
	}

	data, err := s.download(r.Context(), req.FileURL)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, s.envelope(endpoint, http.StatusInternalServerError, nil, err.Error()))
		return
	}
	filename := req.Filename
	if filename == "" {
		filename = nameFromURL(req.FileURL)
	}

	s.mu.Lock()
	mode := s.mode
	public := req.Public && mode != IgnorePublic
	s.files[filename] = file{data: data, public: public}
	s.uploads = append(s.uploads, req)
	s.mu.Unlock()

	link := s.FileURL(filename)
	if !public || mode == PresignedPublic {
		link = s.presign(filename)
	}
	result := map[string]any{"file_url": link, "filename": filename, "bucket": s.Bucket, "public": public}
	switch mode {
	case MalformedJSON:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"code": 200, "response": {"file_url": "`+link[:len(link)/2])
		return
	case EnvelopeError:
		env := s.envelope(endpoint, http.StatusOK, result, "")
		env["code"], env["message"], env["response"] = 500, "worker crashed", nil
		writeJSON(w, http.StatusOK, env)
		return
	case PresignedPublic:
		result["public"] = true
	case LegacyURLField:
		result["url"] = link
		delete(result, "file_url")
	}
	writeJSON(w, http.StatusOK, s.envelope(endpoint, http.StatusOK, result, ""))
}

// parseUpload validates the body like NCA's JSON schema: file_url is a
// required string, filename an optional string, public an optional boolean.
func parseUpload(contentType string, body []byte) (Upload, string) {
	if !strings.HasPrefix(contentType, "application/json") {
		return Upload{}, "Missing JSON in request"
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil || raw == nil {
		return Upload{}, "Missing JSON in request"
	}
	var u Upload
	if v, ok := raw["file_url"]; !ok {
		return Upload{}, "Invalid payload: 'file_url' is a required property"
	} else if json.Unmarshal(v, &u.FileURL) != nil {
		return Upload{}, fmt.Sprintf("Invalid payload: %s is not of type 'string'", v)
	}
	if v, ok := raw["filename"]; ok && json.Unmarshal(v, &u.Filename) != nil {
		return Upload{}, fmt.Sprintf("Invalid payload: %s is not of type 'string'", v)
	}
	if v, ok := raw["public"]; ok && json.Unmarshal(v, &u.Public) != nil {
		return Upload{}, fmt.Sprintf("Invalid payload: %s is not of type 'boolean'", v)
	}
	return u, ""
}

// download fetches file_url the way NCA's requests.get + raise_for_status
// would, with error texts in the same spirit.
func (s *Server) download(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "":
		//lint:ignore ST1005 the message NCA's Python requests library gives, word for word
		return nil, fmt.Errorf("Invalid URL '%s': No scheme supplied", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		// requests' InvalidSchema, raised before any connection.
		//lint:ignore ST1005 the message NCA's Python requests library gives, word for word
		return nil, fmt.Errorf("No connection adapters were found for '%s'", raw)
	}
	if !isLoopbackURL(u) {
		return nil, fmt.Errorf("ncatest: refusing to download from non-loopback host %s", u.Host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.fetcher.Do(req)
	if err != nil {
		return nil, fmt.Errorf("HTTPConnectionPool: Max retries exceeded with url: %s (%v)", u.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		kind := "Client"
		if resp.StatusCode >= 500 {
			kind = "Server"
		}
		return nil, fmt.Errorf("%d %s Error: %s for url: %s", resp.StatusCode, kind, http.StatusText(resp.StatusCode), raw)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		//lint:ignore ST1005 the message NCA's Python requests library gives, word for word
		return nil, fmt.Errorf("Connection broken: %v", err)
	}
	return data, nil
}

// presign builds a SigV4-shaped link to filename that expires PresignTTL
// from now.
func (s *Server) presign(filename string) string {
	s.mu.Lock()
	now := s.now()
	s.mu.Unlock()
	date := now.UTC().Format("20060102T150405Z")
	ttl := strconv.Itoa(int(PresignTTL / time.Second))
	q := url.Values{
		"X-Amz-Algorithm":     {"AWS4-HMAC-SHA256"},
		"X-Amz-Credential":    {"NCATESTKEY/" + date[:8] + "/us-east-1/s3/aws4_request"},
		"X-Amz-Date":          {date},
		"X-Amz-Expires":       {ttl},
		"X-Amz-SignedHeaders": {"host"},
		"X-Amz-Signature":     {s.sign(filename, date, ttl)},
	}
	return s.FileURL(filename) + "?" + q.Encode()
}

func (s *Server) sign(filename, date, ttl string) string {
	mac := hmac.New(sha256.New, s.signKey)
	mac.Write([]byte(filename + "\n" + date + "\n" + ttl))
	return hex.EncodeToString(mac.Sum(nil))
}

// handleFile serves /files/<bucket>/<filename> like a public-read S3 object:
// Range and HEAD supported, private objects only with a valid, unexpired
// presigned query.
func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	s.count(r.Method + " /files/")
	s.mu.Lock()
	noHEAD, truncate, now := s.noHEAD, s.truncate, s.now()
	s.mu.Unlock()
	switch {
	case r.Method == http.MethodHead && noHEAD:
		methodNotAllowed(w, "GET")
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/files/")
	bucket, filename, ok := strings.Cut(rest, "/")
	s.mu.Lock()
	f, found := s.files[filename]
	s.mu.Unlock()
	if !ok || bucket != s.Bucket || !found {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if !f.public {
		if msg := s.checkPresigned(filename, r.URL.Query(), now); msg != "" {
			s3Error(w, http.StatusForbidden, "AccessDenied", msg)
			return
		}
	}
	data := f.data
	if truncate > 0 {
		data = data[:max(0, int64(len(data))-truncate)]
	}
	// NCA uploads without a ContentType, so S3 serves its default.
	w.Header().Set("Content-Type", "binary/octet-stream")
	http.ServeContent(w, r, filename, time.Time{}, bytes.NewReader(data))
}

func (s *Server) checkPresigned(filename string, q url.Values, now time.Time) string {
	date, ttl, sig := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"), q.Get("X-Amz-Signature")
	if sig == "" {
		return "Access Denied"
	}
	if !hmac.Equal([]byte(sig), []byte(s.sign(filename, date, ttl))) {
		return "The request signature we calculated does not match the signature you provided."
	}
	at, err := time.Parse("20060102T150405Z", date)
	secs, err2 := strconv.Atoi(ttl)
	if err != nil || err2 != nil || now.After(at.Add(time.Duration(secs)*time.Second)) {
		return "Request has expired"
	}
	return ""
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// methodNotAllowed answers like Flask does.
func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusMethodNotAllowed)
	io.WriteString(w, "<!doctype html>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n")
}

// nameFromURL is NCA's get_filename_from_url: the URL path's base name.
func nameFromURL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil {
		if b := path.Base(u.Path); b != "/" && b != "." {
			return b
		}
	}
	return newUUID()
}

// escapePath is Python's urllib.parse.quote with its default safe="/":
// every byte but letters, digits, "_.-~" and "/" becomes %XX.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// isLoopback reports whether host is exactly 127.0.0.1 or ::1, the only
// addresses tests may send traffic to.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

func isLoopbackURL(u *url.URL) bool { return isLoopback(u.Hostname()) }

// loopbackOnly refuses, at connect time, any address but 127.0.0.1 and ::1.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if !isLoopback(host) {
		return fmt.Errorf("ncatest: refusing to connect to non-loopback %s", address)
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
