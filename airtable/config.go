package airtable

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
)

// DefaultAPIURL is Airtable's API.
const DefaultAPIURL = "https://api.airtable.com"

// Config is everything Records needs. Zero durations and rates take the
// defaults in withDefaults; table and field names take the seed's through
// RegisterFlags or DefaultConfig.
type Config struct {
	Token  string
	Base   string
	APIURL string
	Tables Tables
	Fields Fields

	// RequestsPerSecond is voicehook's own limit for the base, shared by
	// every worker in the process. Airtable allows 5; the default 4 keeps
	// clear of it even when requests bunch up on the way. Replicas each
	// have their own limiter, so divide it among them.
	RequestsPerSecond float64
	// Silence is how long the base stays silent after a 429 (Airtable asks
	// for 30 s), plus up to a tenth of it at random so replicas do not
	// return together.
	Silence time.Duration
	// BatchWindow is how long a batch waits for more company after the
	// last read or write joined it, unless it is full: workers that one
	// reply released arrive together, within a few milliseconds.
	BatchWindow time.Duration
	// BatchMaxWait bounds how long a read or write waits for its batch to
	// fill while fuller batches take the base's requests. Zero means the
	// time of 8 requests at the rate of the moment (2 s at 4/s): long
	// enough for the workers of a batch served ahead to reach the waiting
	// one's step and join it, so that concurrent events fall into step
	// and share every request.
	BatchMaxWait time.Duration
	// Retries and RetryBackoff: a GET or PATCH (safe to repeat) is retried
	// this many times after a 5xx or network error, first after
	// RetryBackoff, doubling. Zero means the default, 2; negative, none.
	Retries      int
	RetryBackoff time.Duration
	// MirrorRetry is how often event mirrors that failed (Airtable down,
	// rate-limited) are written again, so the mirror catches up.
	MirrorRetry time.Duration
	// RequestTimeout bounds one HTTP request.
	RequestTimeout time.Duration

	HTTPClient *http.Client
	Clock      voicehook.Clock
	Logger     *slog.Logger
}

// Tables names the three tables.
type Tables struct {
	Jobs     string
	Segments string
	Events   string
}

// Fields names the fields voicehook reads and writes. Optional ones are
// written only when named.
type Fields struct {
	// Jobs
	JobRelatedSegment string
	JobType           string
	JobStatus         string
	JobTimestamps     string
	JobErrorDetails   string
	JobExternalID     string // optional
	// Segments
	SegmentVoiceover string
	SegmentStatus    string
	// SegmentJobs is the inverse of JobRelatedSegment: the Jobs linked
	// back to the segment. Airtable creates it with the link.
	SegmentJobs       string
	SegmentDurationMS string // optional
	SegmentSHA256     string // optional
	SegmentBytes      string // optional
	SegmentScript     string // optional: the text a generation job speaks
	SegmentVoiceID    string // optional: the voice it speaks with
	// Voiceover QA (--qa stt), all optional: the verdict (passed,
	// flagged, unchecked), the word error rate as a fraction, and the
	// notes with each difference and its time in the audio.
	SegmentQAStatus string
	SegmentQAWER    string
	SegmentQANotes  string
	// Webhook Events
	EventID           string
	EventService      string
	EventEndpoint     string
	EventRawPayload   string
	EventProcessed    string
	EventSuccess      string
	EventTimestamp    string
	EventRelatedJob   string
	EventErrorDetails string
}

// DefaultConfig is the seed's base: its tables and field names, and the
// real API.
func DefaultConfig() Config {
	var c Config
	c.APIURL = DefaultAPIURL
	c.Tables = Tables{Jobs: "Jobs", Segments: "Segments", Events: "Webhook Events"}
	for _, s := range fieldSpecs {
		*s.ptr(&c.Fields) = s.def
	}
	return c
}

func (c Config) withDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if c.RequestsPerSecond <= 0 {
		c.RequestsPerSecond = 4
	}
	if c.Silence <= 0 {
		c.Silence = 30 * time.Second
	}
	if c.BatchWindow <= 0 {
		c.BatchWindow = 25 * time.Millisecond
	}
	if c.BatchMaxWait > 0 {
		c.BatchMaxWait = max(c.BatchMaxWait, c.BatchWindow)
	}
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = 2
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 500 * time.Millisecond
	}
	if c.MirrorRetry <= 0 {
		c.MirrorRetry = 10 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.RequestTimeout}
	}
	if c.Clock == nil {
		c.Clock = voicehook.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Problems lists what is missing or malformed, as flag names a user can
// act on. Nothing here contacts Airtable; doctor does.
func (c Config) Problems() []string {
	var errs []string
	if strings.TrimSpace(c.Token) == "" {
		errs = append(errs, "--records airtable needs --airtable-token (a personal access token with data.records:read and data.records:write on the base)")
	}
	switch base := strings.TrimSpace(c.Base); {
	case base == "":
		errs = append(errs, "--records airtable needs --airtable-base (the base id, appXXXXXXXXXXXXXX, from the base's URL)")
	case !strings.HasPrefix(base, "app") || strings.ContainsAny(base, "/?# "):
		errs = append(errs, fmt.Sprintf("--airtable-base %q: want a base id such as appXXXXXXXXXXXXXX (from the base's URL)", base))
	}
	if u, err := url.Parse(c.APIURL); c.APIURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		errs = append(errs, fmt.Sprintf("--airtable-api-url %q: want an http(s) URL such as %s", c.APIURL, DefaultAPIURL))
	}
	for _, t := range tableSpecs {
		if strings.TrimSpace(*t.ptr(&c.Tables)) == "" {
			errs = append(errs, fmt.Sprintf("--airtable-table-%s must not be empty", t.flag))
		}
	}
	for _, s := range fieldSpecs {
		if !s.optional && strings.TrimSpace(*s.ptr(&c.Fields)) == "" {
			errs = append(errs, fmt.Sprintf("--airtable-field-%s must not be empty (the seed's field is %q)", s.flag, s.def))
		}
	}
	return errs
}
