package elevenlabstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/internal/audiotest"
)

// StudioProject is a project created on the emulator with
// POST /v1/studio/projects.
type StudioProject struct {
	ProjectID, Name, DefaultModelID string
	// ContentJSON is from_content_json as sent.
	ContentJSON string
	AutoConvert bool
	CallbackURL string
	// Set when auto_convert was true: the snapshot the conversion made
	// (its audio is served by the stream endpoint once converted).
	ProjectSnapshotID string
	// Converted is set once the snapshot's audio is registered;
	// CallbackStatus is the callback's HTTP answer, CallbackError why it
	// failed to get one.
	Converted      bool
	CallbackStatus int
	CallbackError  string
}

// DefaultConversionDelay is how long an emulated Studio conversion takes.
const DefaultConversionDelay = 20 * time.Millisecond

// studioCreation is an Emulator's project-creation state. It lives beside
// the Emulator rather than in it so that emulator.go only registers the
// route.
type studioCreation struct {
	mu        sync.Mutex
	delay     time.Duration
	projects  []StudioProject
	failNext  []string // error_details of conversions to fail
	seq       int
	callbacks sync.WaitGroup
}

var studioCreations sync.Map // *Emulator → *studioCreation

func (e *Emulator) studio() *studioCreation {
	s, _ := studioCreations.LoadOrStore(e, &studioCreation{delay: DefaultConversionDelay})
	return s.(*studioCreation)
}

// routeStudioCreate registers POST /v1/studio/projects.
func (e *Emulator) routeStudioCreate(mux *http.ServeMux) {
	e.studio()
	mux.HandleFunc("POST /v1/studio/projects", e.serveCreateProject)
}

// SetConversionDelay sets how long auto_convert conversions take before
// their audio is registered and the callback sent.
func (e *Emulator) SetConversionDelay(d time.Duration) {
	s := e.studio()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// FailConversionNext makes the next auto_convert conversion fail: its
// callback reports conversion_status "error" with errorDetails, and no
// audio is registered.
func (e *Emulator) FailConversionNext(errorDetails string) {
	s := e.studio()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, errorDetails)
}

// Projects returns the projects created so far, in order.
func (e *Emulator) Projects() []StudioProject {
	s := e.studio()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StudioProject(nil), s.projects...)
}

// WaitConversions waits for every conversion started so far to finish,
// callback included.
func (e *Emulator) WaitConversions() { e.studio().callbacks.Wait() }

// studioContent is from_content_json: chapters of blocks of nodes.
type studioContent []struct {
	Name   string `json:"name"`
	Blocks []struct {
		Nodes []struct {
			Type    string `json:"type"`
			VoiceID string `json:"voice_id"`
			Text    string `json:"text"`
		} `json:"nodes"`
	} `json:"blocks"`
}

func (e *Emulator) serveCreateProject(w http.ResponseWriter, r *http.Request) {
	if !authorized(w, r, e.APIKey) {
		return
	}
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		writeValidation(w, []any{"body"}, "emulator: the body must be multipart/form-data: "+err.Error(), "value_error")
		return
	}
	p := StudioProject{
		Name:           r.FormValue("name"),
		DefaultModelID: r.FormValue("default_model_id"),
		ContentJSON:    r.FormValue("from_content_json"),
		CallbackURL:    r.FormValue("callback_url"),
	}
	if p.Name == "" {
		writeValidation(w, []any{"body", "name"}, "field required", "value_error.missing")
		return
	}
	if v := r.FormValue("auto_convert"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeValidation(w, []any{"body", "auto_convert"}, "value could not be parsed to a boolean", "type_error.bool")
			return
		}
		p.AutoConvert = b
	}
	var text strings.Builder
	if p.ContentJSON != "" {
		var content studioContent
		if err := json.Unmarshal([]byte(p.ContentJSON), &content); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_content", "from_content_json is not valid: "+err.Error())
			return
		}
		for _, ch := range content {
			for _, b := range ch.Blocks {
				for _, n := range b.Nodes {
					text.WriteString(n.Text)
				}
			}
		}
	}
	if p.CallbackURL != "" {
		if err := loopbackURL(p.CallbackURL); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_callback_url", "emulator: "+err.Error())
			return
		}
	}

	s := e.studio()
	s.mu.Lock()
	s.seq++
	p.ProjectID = fmt.Sprintf("proj_%d", s.seq)
	fail, failed := "", false
	if p.AutoConvert {
		p.ProjectSnapshotID = fmt.Sprintf("psnap_%d", s.seq)
		if len(s.failNext) > 0 {
			fail, s.failNext, failed = s.failNext[0], s.failNext[1:], true
		}
		s.callbacks.Add(1)
	}
	index := len(s.projects)
	s.projects = append(s.projects, p)
	delay := s.delay
	s.mu.Unlock()

	if p.AutoConvert {
		go e.convert(s, index, p, text.String(), delay, failed, fail)
	}
	state := "default"
	if p.AutoConvert {
		state = "converting"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"project": map[string]any{
		"project_id":        p.ProjectID,
		"name":              p.Name,
		"create_date_unix":  time.Now().Unix(),
		"default_model_id":  p.DefaultModelID,
		"state":             state,
		"can_be_downloaded": false,
	}})
}

// convert plays a Studio conversion: after delay it registers the
// snapshot's audio (SpeechFrames of all nodes' text together) and
// posts project_conversion_status to the callback URL, if there is one.
func (e *Emulator) convert(s *studioCreation, index int, p StudioProject, text string, delay time.Duration, failed bool, details string) {
	defer s.callbacks.Done()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.done:
		return
	}
	snap := voicehook.StudioSnapshot{ProjectID: p.ProjectID, ProjectSnapshotID: p.ProjectSnapshotID}
	data := map[string]any{
		"request_id":          "req_" + p.ProjectSnapshotID,
		"project_id":          p.ProjectID,
		"project_snapshot_id": p.ProjectSnapshotID,
		"conversion_status":   "success",
	}
	if failed {
		data["conversion_status"] = "error"
		data["error_details"] = details
	} else {
		e.Register(snap, audiotest.MP3Frames(SpeechFrames(text)))
	}
	s.mu.Lock()
	s.projects[index].Converted = !failed
	s.mu.Unlock()
	if p.CallbackURL == "" {
		return
	}
	body, _ := json.Marshal(map[string]any{
		"type":            "project_conversion_status",
		"event_timestamp": time.Now().Unix(),
		"data":            data,
	})
	status, err := e.postCallback(p.CallbackURL, body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[index].CallbackStatus = status
	if err != nil {
		s.projects[index].CallbackError = err.Error()
	}
}

// postCallback delivers a callback, unsigned as Studio's are, to a
// loopback address only; it gives up when the emulator closes.
func (e *Emulator) postCallback(target string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-e.done:
			cancel()
		case <-stop:
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := loopbackClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// loopbackClient dials loopback addresses only and follows no redirects:
// the emulator must never reach outside the machine, whatever URL a test
// (or a bug) hands it.
var loopbackClient = &http.Client{
	Transport: &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout: 5 * time.Second,
			Control: func(network, address string, _ syscall.RawConn) error {
				host, _, err := net.SplitHostPort(address)
				if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
					return fmt.Errorf("emulator: refusing to dial %s: not loopback", address)
				}
				return nil
			},
		}).DialContext,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// loopbackURL accepts an http(s) URL whose host is a loopback IP or
// localhost.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("callback_url %q is not an http(s) URL", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return nil
	}
	return errors.New("callback_url " + strconv.Quote(raw) + " is not on a loopback address; the emulator calls nothing else")
}
