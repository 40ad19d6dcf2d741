package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/voicehook/voicehook/airtable"
	"github.com/voicehook/voicehook/web"
)

// config is everything `voicehook serve` is told.
type config struct {
	Addr              string
	DataDir           string
	DatabaseURL       string
	ElevenLabsSecret  string
	ElevenLabsAPIKey  string
	ElevenLabsAPIURL  string
	ElevenLabsConc    int
	PublicURL         string
	AdminToken        string
	MetricsToken      string
	CallbackKey       string
	FetchAllowPriv    bool
	FetchTimeout      time.Duration
	JobMatchGrace     time.Duration
	EventRetention    time.Duration
	retentionEvery    time.Duration // how often the purge runs (tests; default hourly)
	MaxAttempts       int
	MaxBodyBytes      byteSize
	MaxCallAudioBytes byteSize
	MaxBodyMemory     byteSize
	SegmentToken      string
	MaxAudioBytes     byteSize
	TempMaxBytes      byteSize
	Records           string
	Airtable          airtable.Config
	Storage           string
	S3                s3Flags
	NCA               ncaFlags
	Workers           int
	RetryBase         time.Duration
	RetryMax          time.Duration
	JobTimeout        time.Duration
	ReplicaTimeout    time.Duration
	ShutdownTimeout   time.Duration
	DBMaxConns        int
	DBStmtTimeout     time.Duration
	DBOpTimeout       time.Duration
	AckTimeout        time.Duration
	AckTarget         time.Duration
	JobRecheck        time.Duration
	LogFormat         string
	LogLevel          string
	QA                string
	QAMode            string
	QAMaxWER          float64
	QAModel           string
	// OTelEndpoint turns tracing on (OTLP over HTTP); empty falls back to
	// OTEL_EXPORTER_OTLP_ENDPOINT, and with neither tracing is off.
	OTelEndpoint string
}

// s3Flags configure --storage s3.
type s3Flags struct {
	Endpoint  string
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	PathStyle bool
	PublicURL string
}

// ncaFlags configure --storage nca.
type ncaFlags struct {
	URL    string
	APIKey string
}

func (c *config) register(fs *flag.FlagSet) {
	c.MaxBodyBytes = 32 << 20
	c.MaxCallAudioBytes = web.DefaultMaxCallAudio
	c.MaxAudioBytes = 200 << 20
	fs.StringVar(&c.Addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&c.DataDir, "data-dir", "./voicehook-data", "directory for the SQLite store, stored audio and temp files")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "empty: SQLite in the data dir; postgres://…: PostgreSQL shared by replicas")
	fs.StringVar(&c.ElevenLabsSecret, "elevenlabs-secret", "", "webhook signing secret(s), comma-separated; every one is accepted (rotation)")
	fs.StringVar(&c.ElevenLabsAPIKey, "elevenlabs-api-key", "", "ElevenLabs API key (xi-api-key): generates voiceovers for jobs with text, fetches Studio audio")
	fs.StringVar(&c.ElevenLabsAPIURL, "elevenlabs-api-url", "https://api.elevenlabs.io", "ElevenLabs API base URL")
	fs.IntVar(&c.ElevenLabsConc, "elevenlabs-concurrency", 2, "text-to-speech requests at once, per process (your plan's limit: Free 2, Starter 3, Creator 5, Pro 10, Scale/Business 15 for multilingual models)")
	fs.StringVar(&c.PublicURL, "public-url", "", "how others reach this server, for media and callback URLs (default http://localhost:<port>)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token for /api and the admin pages; without it they answer loopback clients only")
	fs.StringVar(&c.MetricsToken, "metrics-token", "", "bearer token that opens /metrics and nothing else (--admin-token opens it too); "+
		"with neither set, /metrics is open to every client")
	fs.StringVar(&c.CallbackKey, "callback-key", "", "key for callback URL tokens (default: generated once and kept in the store)")
	fs.BoolVar(&c.FetchAllowPriv, "fetch-allow-private", false, "allow audio URLs on loopback/private addresses")
	fs.DurationVar(&c.FetchTimeout, "fetch-timeout", 2*time.Minute, "time limit for one audio download")
	fs.DurationVar(&c.JobMatchGrace, "job-match-grace", 10*time.Minute, "how long an event with no matching job keeps waiting for one")
	fs.DurationVar(&c.JobRecheck, "job-recheck", time.Minute, "with --records airtable: how often an event waiting for its job looks for it again, "+
		"10 events per 5 s at most (a job created in the base itself wakes nothing; one created through voicehook wakes its events at once)")
	fs.DurationVar(&c.EventRetention, "event-retention", 0, "delete finished events (and their attempts) this long after they last changed, e.g. 720h; 0 keeps them forever")
	fs.IntVar(&c.MaxAttempts, "max-attempts", 10, "processing attempts before an event is dead")
	fs.Var(&c.MaxBodyBytes, "max-body-bytes", "largest webhook body accepted (e.g. 32MiB)")
	fs.Var(&c.MaxCallAudioBytes, "max-call-audio-bytes", "largest post_call_audio body accepted (the whole call as base64 MP3, ~1.3MB a minute); "+
		"one over 8MiB is decoded into the store as it arrives, never held in memory")
	fs.Var(&c.MaxBodyMemory, "max-body-memory", "memory all webhook bodies being read may hold together; a body that would pass it is answered 503 with Retry-After "+
		"(default twice --max-body-bytes, at least 64MiB; each body's first 64KiB is not counted)")
	fs.StringVar(&c.SegmentToken, "segment-token", "required", "required: a delivery naming segment_id must carry that segment's callback token, signed or not; "+
		"optional: a signature alone may name any segment (anyone holding one signed delivery can replay it onto another segment's job)")
	fs.Var(&c.MaxAudioBytes, "max-audio-bytes", "largest audio file accepted (e.g. 200MiB)")
	fs.Var(&c.TempMaxBytes, "temp-max-bytes", "bytes <data-dir>/tmp may hold (audio on its way to storage); a download that would pass it "+
		"stops and is retried later (default the larger of 2GiB and twice --max-audio-bytes)")
	fs.StringVar(&c.QA, "qa", "off", "voiceover QA: off, or stt to transcribe every stored voiceover whose script is known with ElevenLabs speech to text "+
		"and flag those that stray from it (billed per hour of audio; needs --elevenlabs-api-key)")
	fs.StringVar(&c.QAMode, "qa-mode", "webhook", "how QA gets the transcript: webhook (speech to text delivers it to /webhooks/elevenlabs, signed; "+
		"the workspace needs a speech-to-text webhook) or sync (waits for it in the answer)")
	fs.Float64Var(&c.QAMaxWER, "qa-max-wer", 0.08, "QA flags a voiceover whose word error rate against its script is above this (0.08: 8 words in 100)")
	fs.StringVar(&c.QAModel, "qa-model", "scribe_v1", "speech-to-text model QA uses")
	fs.StringVar(&c.OTelEndpoint, "otel-endpoint", "", "OpenTelemetry collector to send traces to (OTLP over HTTP, e.g. http://127.0.0.1:4318); "+
		"empty: OTEL_EXPORTER_OTLP_ENDPOINT if set, else tracing is off")
	fs.StringVar(&c.Records, "records", "sql", "system of record for jobs and segments: sql|airtable")
	c.Airtable.RegisterFlags(fs)
	fs.StringVar(&c.Storage, "storage", "local", "where audio is stored: local|s3|nca")
	fs.StringVar(&c.S3.Endpoint, "s3-endpoint", "", "S3 API endpoint: host[:port] (HTTPS) or http(s)://host[:port]; empty means AWS S3")
	fs.StringVar(&c.S3.Region, "s3-region", "", `the bucket's region ("auto" for Cloudflare R2); empty asks the endpoint`)
	fs.StringVar(&c.S3.Bucket, "s3-bucket", "", "bucket to store audio in (--storage s3)")
	fs.StringVar(&c.S3.AccessKey, "s3-access-key", "", "S3 access key id (default AWS_ACCESS_KEY_ID)")
	fs.StringVar(&c.S3.SecretKey, "s3-secret-key", "", "S3 secret access key (default AWS_SECRET_ACCESS_KEY)")
	fs.BoolVar(&c.S3.PathStyle, "s3-path-style", false, "address the bucket as endpoint/bucket/key (MinIO and most self-hosted stores need it)")
	fs.StringVar(&c.S3.PublicURL, "s3-public-url", "", "where the bucket's objects are publicly readable, e.g. https://<bucket>.s3.<region>.amazonaws.com or a CDN; "+
		"a segment's voiceover is <this>/<key>, a permanent link, never a presigned one")
	fs.StringVar(&c.NCA.URL, "nca-url", "", "NCA Toolkit base URL, e.g. https://nca.example.com (--storage nca)")
	fs.StringVar(&c.NCA.APIKey, "nca-api-key", "", "NCA Toolkit API key (its API_KEY), sent as X-API-Key")
	fs.IntVar(&c.Workers, "workers", 8, "concurrent processing workers")
	fs.DurationVar(&c.AckTarget, "ack-target", 5*time.Millisecond, "acknowledgements come first: while more than 1% of the last second's took longer than this, "+
		"processing runs fewer attempts at once (halving, down to one), and grows back by one every 250ms once they are fast again; 0 turns this off")
	fs.DurationVar(&c.RetryBase, "retry-base", 2*time.Second, "first retry delay; doubles each retry, with jitter")
	fs.DurationVar(&c.RetryMax, "retry-max", 10*time.Minute, "longest retry delay")
	fs.DurationVar(&c.JobTimeout, "job-timeout", 5*time.Minute, "time limit for one processing attempt (a dead process's attempts are retried sooner: at start on SQLite, after --replica-timeout on PostgreSQL)")
	fs.DurationVar(&c.ReplicaTimeout, "replica-timeout", 30*time.Second, "PostgreSQL: a replica whose heartbeat (renewed every few seconds) is this old is presumed dead, and the others retry its running attempts")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight work may take to finish")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 10, "PostgreSQL connection pool size")
	fs.DurationVar(&c.DBStmtTimeout, "db-statement-timeout", 30*time.Second, "PostgreSQL statement timeout")
	fs.DurationVar(&c.DBOpTimeout, "db-op-timeout", 10*time.Second, "client-side limit on one store operation (a transaction up to its commit, a read): "+
		"a database that stops answering fails it instead of hanging, and its connection is discarded")
	fs.DurationVar(&c.AckTimeout, "ack-timeout", 5*time.Second, "longest a webhook delivery waits for its commit: past it the delivery answers 503 with Retry-After "+
		"(if the commit still succeeds, the event is processed and the retry is answered as a duplicate), and /readyz fails while a commit runs longer")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text|json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug|info|warn|error")
}

func (c *config) validate() error {
	var errs []string
	if c.ElevenLabsConc < 1 {
		errs = append(errs, fmt.Sprintf("--elevenlabs-concurrency %d: want 1 or more", c.ElevenLabsConc))
	}
	switch c.Records {
	case "sql":
	case "airtable":
		errs = append(errs, c.Airtable.Problems()...)
	default:
		errs = append(errs, fmt.Sprintf("--records %q: want sql or airtable", c.Records))
	}
	switch c.Storage {
	case "local":
	case "s3":
		errs = append(errs, c.S3.problems(os.Getenv)...)
	case "nca":
		errs = append(errs, c.ncaProblems()...)
	default:
		errs = append(errs, fmt.Sprintf("--storage %q: want local, s3 or nca", c.Storage))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, "--database-url: want empty (SQLite) or postgres://…")
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, "--max-attempts: want at least 1")
	}
	if c.JobRecheck <= 0 {
		errs = append(errs, "--job-recheck: want a positive duration such as 1m")
	}
	if c.AckTarget < 0 {
		errs = append(errs, "--ack-target: want 0 (off) or a positive duration such as 5ms")
	}
	if c.AckTimeout <= 0 {
		errs = append(errs, "--ack-timeout: want a positive duration such as 5s")
	}
	if c.DBOpTimeout <= 0 {
		errs = append(errs, "--db-op-timeout: want a positive duration such as 10s")
	}
	if c.Workers < 1 {
		errs = append(errs, "--workers: want at least 1")
	}
	if c.ReplicaTimeout < time.Second {
		errs = append(errs, "--replica-timeout: want at least 1s (heartbeats are renewed every sixth of it)")
	}
	if c.EventRetention < 0 {
		errs = append(errs, "--event-retention: want 0 (keep forever) or a positive duration such as 720h")
	} else if c.EventRetention > 0 && c.EventRetention < c.JobMatchGrace {
		errs = append(errs, "--event-retention: want at least --job-match-grace, so a redelivery is still recognised while its event waits")
	}
	if c.SegmentToken != "required" && c.SegmentToken != "optional" {
		errs = append(errs, fmt.Sprintf("--segment-token %q: want required or optional", c.SegmentToken))
	}
	if c.MaxBodyMemory != 0 && c.MaxBodyMemory < c.MaxBodyBytes {
		errs = append(errs, "--max-body-memory: want at least --max-body-bytes, or no body that large could ever be read")
	}
	if c.TempMaxBytes != 0 && c.TempMaxBytes < c.MaxAudioBytes {
		errs = append(errs, "--temp-max-bytes: want at least --max-audio-bytes, or the largest audio accepted could never be downloaded")
	}
	errs = append(errs, c.qaProblems()...)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, "--log-format: want text or json")
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// qaProblems lists what is wrong with the --qa flags.
func (c *config) qaProblems() []string {
	var errs []string
	switch c.QA {
	case "off", "":
		return nil
	case "stt":
	default:
		return []string{fmt.Sprintf("--qa %q: want off or stt", c.QA)}
	}
	if c.ElevenLabsAPIKey == "" {
		errs = append(errs, "--qa stt needs --elevenlabs-api-key: speech to text is an ElevenLabs API call")
	}
	switch c.QAMode {
	case "sync":
	case "webhook":
		if len(c.secrets()) == 0 {
			errs = append(errs, "--qa-mode webhook needs --elevenlabs-secret: the transcript arrives as a signed webhook "+
				"(or use --qa-mode sync, which waits for it in the answer)")
		}
	default:
		errs = append(errs, fmt.Sprintf("--qa-mode %q: want webhook or sync", c.QAMode))
	}
	if c.QAMaxWER < 0 || c.QAMaxWER > 1 {
		errs = append(errs, fmt.Sprintf("--qa-max-wer %g: want a fraction from 0 to 1, such as 0.08", c.QAMaxWER))
	}
	if strings.TrimSpace(c.QAModel) == "" {
		errs = append(errs, "--qa-model: want a speech-to-text model id such as scribe_v1")
	}
	return errs
}

// problems lists what --storage s3 is missing.
func (f s3Flags) problems(getenv func(string) string) []string {
	var errs []string
	if missing := missingFlags("--s3-bucket", f.Bucket, "--s3-public-url", f.PublicURL); missing != "" {
		msg := "--storage s3 needs " + missing
		if f.PublicURL == "" {
			msg += " (--s3-public-url is where the bucket's objects are publicly readable, e.g. https://<bucket>.s3.<region>.amazonaws.com " +
				"or your CDN; voicehook stores permanent links, never presigned ones)"
		}
		errs = append(errs, msg)
	}
	switch {
	case (f.AccessKey == "") != (f.SecretKey == ""):
		errs = append(errs, "--s3-access-key and --s3-secret-key go together: set both")
	case f.AccessKey == "" && (getenv("AWS_ACCESS_KEY_ID") == "" || getenv("AWS_SECRET_ACCESS_KEY") == ""):
		errs = append(errs, "--storage s3 needs credentials: set --s3-access-key and --s3-secret-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	return errs
}

// ncaProblems lists what --storage nca is missing. NCA has no byte upload:
// it pulls each file from a signed link under --public-url, so that must be
// an address NCA can reach, not the localhost default.
func (c *config) ncaProblems() []string {
	var errs []string
	if missing := missingFlags("--nca-url", c.NCA.URL, "--nca-api-key", c.NCA.APIKey); missing != "" {
		errs = append(errs, "--storage nca needs "+missing)
	}
	if c.PublicURL == "" {
		errs = append(errs, "--storage nca needs --public-url: NCA pulls each file from a signed link to this server's /media/, "+
			"so set it to an address the NCA Toolkit can reach (e.g. https://voicehook.example.com)")
	}
	return errs
}

// missingFlags names the flags, given as name/value pairs, whose value is
// empty: "--a", "--a and --b", "--a, --b and --c", or "".
func missingFlags(pairs ...string) string {
	var names []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			names = append(names, pairs[i])
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	default:
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
}

// bodyMemory is --max-body-memory or its default.
func (c *config) bodyMemory() int64 {
	if c.MaxBodyMemory > 0 {
		return int64(c.MaxBodyMemory)
	}
	return max(2*int64(c.MaxBodyBytes), 64<<20)
}

func (c *config) secrets() []string {
	var out []string
	for _, s := range strings.Split(c.ElevenLabsSecret, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// publicURL defaults to http://localhost:<port of --addr>.
func (c *config) publicURL(boundAddr string) string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	_, port, err := net.SplitHostPort(boundAddr)
	if err != nil {
		port = "8080"
	}
	return "http://localhost:" + port
}

// tempMaxBytes is --temp-max-bytes, or its default: room for a few
// downloads of the largest audio at once, and never less than 2 GiB.
func (c *config) tempMaxBytes() int64 {
	if c.TempMaxBytes > 0 {
		return int64(c.TempMaxBytes)
	}
	return max(2<<30, 2*int64(c.MaxAudioBytes))
}
