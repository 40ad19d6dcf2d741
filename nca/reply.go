package nca

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/voicehook/voicehook"
)

// envelope is the wrapper NCA puts around every reply (app.py,
// queue_task): {"code","endpoint","id","job_id","response","message",
// "pid","queue_id","run_time","queue_time","total_time","queue_length",
// "build_number"}. Only the fields voicehook reads are declared.
type envelope struct {
	Code     int             `json:"code"`
	JobID    string          `json:"job_id"`
	Response json.RawMessage `json:"response"`
	// Message is "success", or the error text when code is not 200 (a
	// string, but NCA's Cloud Run path puts an object there).
	Message json.RawMessage `json:"message"`
}

// uploadResult is the "response" of POST /v1/s3/upload
// (services/v1/s3/upload.py, stream_upload_to_s3).
type uploadResult struct {
	FileURL string `json:"file_url"`
	// URL is where builds before the rename (and NCA's own docs/s3/upload.md)
	// put the link.
	URL      string `json:"url"`
	Filename string `json:"filename"`
	Bucket   string `json:"bucket"`
	Public   *bool  `json:"public"`
}

// parseUpload reads a 200 reply from /v1/s3/upload. Anything it cannot
// use is transient (a proxy page, a half-written body); a link that would
// expire or is not public is permanent, since asking again gets the same.
func (s *Storage) parseUpload(body []byte) (*url.URL, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("nca: upload reply is not NCA's JSON envelope (%v): %s", err, s.snippet(body))
	}
	if env.Code != http.StatusOK {
		return nil, fmt.Errorf("nca: upload reply has code %d: %s", env.Code, s.snippet(body))
	}
	var res uploadResult
	if err := json.Unmarshal(env.Response, &res); err != nil {
		return nil, fmt.Errorf("nca: upload reply's response is not an object (%v): %s", err, s.snippet(body))
	}
	raw := res.FileURL
	if raw == "" {
		raw = res.URL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("nca: upload reply has no usable file_url: %s", s.snippet(body))
	}
	if p := presignParam(u); p != "" {
		return nil, voicehook.Permanent(fmt.Sprintf(
			"nca: NCA returned a presigned link (%s://%s%s carries %s) that expires within hours; voicehook stores permanent links only: "+
				"make NCA upload publicly (public:true is sent; its bucket must accept public-read ACLs)", u.Scheme, u.Host, u.Path, p), nil)
	}
	if res.Public != nil && !*res.Public {
		return nil, voicehook.Permanent(
			"nca: NCA stored the file privately although public:true was sent; voicehook stores permanent public links only: "+
				"update NCA or allow public-read ACLs on its bucket", nil)
	}
	return u, nil
}

// presignParams are query parameters that mark a link as presigned, and so
// as expiring: AWS SigV4 and SigV2, Google Cloud Storage, Azure SAS.
var presignParams = []string{
	"x-amz-signature", "x-amz-expires", "x-amz-credential",
	"signature", "x-goog-signature", "x-goog-expires", "sig",
}

// presignParam returns the first presigning parameter in u's query, or "".
func presignParam(u *url.URL) string {
	for k := range u.Query() {
		for _, p := range presignParams {
			if strings.EqualFold(k, p) {
				return k
			}
		}
	}
	return ""
}

// statusError maps a non-200 answer from NCA's API. NCA answers 401
// {"message":"Unauthorized"} for a wrong key (services/authentication.py),
// 400 {"message":"Invalid payload: …"} for a bad body (app_utils.py,
// validate_payload), 500 with its envelope when the copy failed (its
// download of file_url or its S3 upload; a bucket with ACLs disabled is
// recognised, see aclsDisabled), 429 when its queue is full.
func (s *Storage) statusError(what string, resp *http.Response, body []byte) error {
	msg := s.message(body)
	switch sc := resp.StatusCode; {
	case sc == http.StatusUnauthorized:
		return voicehook.Permanent("nca: NCA API key rejected: set --nca-api-key to NCA's API_KEY", fmt.Errorf("%s: HTTP %d", what, sc))
	case sc == http.StatusBadRequest:
		return voicehook.Permanent("nca: NCA refused the request", fmt.Errorf("%s: HTTP 400: %s", what, msg))
	case sc == http.StatusInternalServerError && aclsDisabled(msg):
		return voicehook.Permanent(aclsDisabledReason, fmt.Errorf("%s: HTTP 500: %s", what, msg))
	case sc == http.StatusInternalServerError:
		return fmt.Errorf("nca: %s: NCA could not copy the staged file (HTTP 500): %s", what, msg)
	case sc >= 300 && sc < 400:
		return voicehook.Permanent(fmt.Sprintf("nca: NCA Toolkit at %s answered a redirect to %q: set --nca-url to the final address", s.base, resp.Header.Get("Location")), nil)
	case sc == http.StatusNotFound || sc == http.StatusMethodNotAllowed:
		return voicehook.Permanent(fmt.Sprintf("nca: %s answered HTTP %d: check that --nca-url points at an NCA Toolkit with S3 storage (%s)", what, sc, s.base), nil)
	case sc == http.StatusRequestTimeout || sc == http.StatusTooManyRequests || sc >= 500:
		return fmt.Errorf("nca: %s: HTTP %d: %s", what, sc, msg)
	case sc == http.StatusAccepted:
		// NCA queues a request only when it names a webhook_url, which
		// voicehook never sends.
		return fmt.Errorf("nca: %s: NCA queued the request instead of running it (HTTP 202): %s", what, msg)
	default:
		return voicehook.Permanent(fmt.Sprintf("nca: %s answered HTTP %d", what, sc), fmt.Errorf("%s", msg))
	}
}

// message is the "message" of an NCA reply when it is a string, else a
// snippet of the body.
func (s *Storage) message(body []byte) string {
	var m struct {
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil {
		var str string
		if json.Unmarshal(m.Message, &str) == nil && str != "" {
			return s.redact(str)
		}
	}
	return s.snippet(body)
}

// snippet is the start of body, fit for an error message.
func (s *Storage) snippet(body []byte) string {
	const max = 200
	t := strings.ToValidUTF8(string(body), "?")
	if len(t) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(t[cut]) {
			cut--
		}
		t = t[:cut] + "…"
	}
	t = strings.Join(strings.Fields(t), " ")
	if t == "" {
		return "(empty body)"
	}
	return s.redact(t)
}

// redact removes the API key should a reply ever echo it.
func (s *Storage) redact(t string) string {
	return strings.ReplaceAll(t, s.apiKey, "[redacted]")
}
