// Package nca stores audio through the NCA Toolkit (No-Code Architects
// Toolkit, github.com/stephengpope/no-code-architects-toolkit), the storage
// the seed used.
//
// NCA has no byte upload: POST /v1/s3/upload takes a file_url and NCA pulls
// the file from it into its own S3 bucket. So Put first stages the file
// somewhere NCA can reach (voicehook serves it under a short-lived signed
// link), then asks NCA to copy it, then checks the copy's size at the
// public URL NCA returns.
package nca

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
)

// Config says how to reach NCA and how to make files reachable by it.
type Config struct {
	// BaseURL is the NCA Toolkit's address (--nca-url), e.g.
	// https://nca.example.com.
	BaseURL string
	// APIKey is NCA's API_KEY, sent as X-API-Key (--nca-api-key).
	APIKey string
	// HTTP is the client for NCA and for checking stored files. Nil means a
	// client with a 5-minute timeout: NCA answers an upload only after it
	// has copied the whole file.
	HTTP *http.Client
	// Stage makes obj reachable by NCA and returns the URL NCA should pull
	// it from (voicehook: disk.Storage.Put, then SignedURL with a short ttl).
	Stage func(ctx context.Context, obj voicehook.AudioObject) (fileURL string, err error)
}

// DefaultTimeout bounds one NCA request: NCA answers an upload only after
// it has copied the whole file.
const DefaultTimeout = 5 * time.Minute

// Storage stores audio through NCA. It is safe for concurrent use.
type Storage struct {
	base   string
	apiKey string
	stage  func(ctx context.Context, obj voicehook.AudioObject) (string, error)
	// api carries the API key and never follows redirects, so the key is
	// never sent to a host other than BaseURL's.
	api *http.Client
	// web fetches the stored file's public URL, wherever NCA put it.
	web *http.Client
}

// New checks cfg. It makes no request; Check does.
func New(cfg Config) (*Storage, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("nca: base URL %q must be an absolute http(s) URL such as https://nca.example.com: set --nca-url", cfg.BaseURL)
	}
	if cfg.APIKey == "" {
		return nil, errors.New("nca: API key is empty: set --nca-api-key to NCA's API_KEY")
	}
	if cfg.Stage == nil {
		return nil, errors.New("nca: no Stage function: NCA needs a URL to pull each file from")
	}
	web := cfg.HTTP
	if web == nil {
		web = &http.Client{Timeout: DefaultTimeout}
	}
	api := *web
	api.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Storage{
		base:   strings.TrimRight(cfg.BaseURL, "/"),
		apiKey: cfg.APIKey,
		stage:  cfg.Stage,
		api:    &api,
		web:    web,
	}, nil
}
