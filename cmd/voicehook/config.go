package main

import (
	"flag"
	"fmt"
	"net"
	"strings"
	"time"
)

// config is everything `voicehook serve` is told.
type config struct {
	Addr             string
	DataDir          string
	DatabaseURL      string
	ElevenLabsSecret string
	ElevenLabsAPIKey string
	ElevenLabsAPIURL string
	PublicURL        string
	AdminToken       string
	CallbackKey      string
	FetchAllowPriv   bool
	FetchTimeout     time.Duration
	JobMatchGrace    time.Duration
	MaxAttempts      int
	MaxBodyBytes     byteSize
	MaxAudioBytes    byteSize
	Records          string
	Storage          string
	Workers          int
	RetryBase        time.Duration
	RetryMax         time.Duration
	JobTimeout       time.Duration
	ShutdownTimeout  time.Duration
	DBMaxConns       int
	DBStmtTimeout    time.Duration
	LogFormat        string
	LogLevel         string
}

func (c *config) register(fs *flag.FlagSet) {
	c.MaxBodyBytes = 32 << 20
	c.MaxAudioBytes = 200 << 20
	fs.StringVar(&c.Addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&c.DataDir, "data-dir", "./voicehook-data", "directory for the SQLite store, stored audio and temp files")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "empty: SQLite in the data dir; postgres://…: PostgreSQL shared by replicas")
	fs.StringVar(&c.ElevenLabsSecret, "elevenlabs-secret", "", "webhook signing secret(s), comma-separated; every one is accepted (rotation)")
	fs.StringVar(&c.ElevenLabsAPIKey, "elevenlabs-api-key", "", "ElevenLabs API key, to fetch Studio audio (xi-api-key)")
	fs.StringVar(&c.ElevenLabsAPIURL, "elevenlabs-api-url", "https://api.elevenlabs.io", "ElevenLabs API base URL")
	fs.StringVar(&c.PublicURL, "public-url", "", "how others reach this server, for media and callback URLs (default http://localhost:<port>)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token for /api and the admin pages; without it they answer loopback clients only")
	fs.StringVar(&c.CallbackKey, "callback-key", "", "key for callback URL tokens (default: generated once and kept in the store)")
	fs.BoolVar(&c.FetchAllowPriv, "fetch-allow-private", false, "allow audio URLs on loopback/private addresses")
	fs.DurationVar(&c.FetchTimeout, "fetch-timeout", 2*time.Minute, "time limit for one audio download")
	fs.DurationVar(&c.JobMatchGrace, "job-match-grace", 10*time.Minute, "how long an event with no matching job keeps waiting for one")
	fs.IntVar(&c.MaxAttempts, "max-attempts", 10, "processing attempts before an event is dead")
	fs.Var(&c.MaxBodyBytes, "max-body-bytes", "largest webhook body accepted (e.g. 32MiB)")
	fs.Var(&c.MaxAudioBytes, "max-audio-bytes", "largest audio file accepted (e.g. 200MiB)")
	fs.StringVar(&c.Records, "records", "sql", "system of record for jobs and segments: sql|airtable")
	fs.StringVar(&c.Storage, "storage", "local", "where audio is stored: local|s3|nca")
	fs.IntVar(&c.Workers, "workers", 8, "concurrent processing workers")
	fs.DurationVar(&c.RetryBase, "retry-base", 2*time.Second, "first retry delay; doubles each retry, with jitter")
	fs.DurationVar(&c.RetryMax, "retry-max", 10*time.Minute, "longest retry delay")
	fs.DurationVar(&c.JobTimeout, "job-timeout", 5*time.Minute, "time limit for one processing attempt; a dead process's attempt is rescued after it")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight work may take to finish")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 10, "PostgreSQL connection pool size")
	fs.DurationVar(&c.DBStmtTimeout, "db-statement-timeout", 30*time.Second, "PostgreSQL statement timeout")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text|json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug|info|warn|error")
}

func (c *config) validate() error {
	var errs []string
	if c.Records != "sql" && c.Records != "airtable" {
		errs = append(errs, fmt.Sprintf("--records %q: want sql or airtable", c.Records))
	}
	if c.Storage != "local" && c.Storage != "s3" && c.Storage != "nca" {
		errs = append(errs, fmt.Sprintf("--storage %q: want local, s3 or nca", c.Storage))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, "--database-url: want empty (SQLite) or postgres://…")
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, "--max-attempts: want at least 1")
	}
	if c.Workers < 1 {
		errs = append(errs, "--workers: want at least 1")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, "--log-format: want text or json")
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
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
