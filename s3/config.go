// Package s3 stores audio in an S3-compatible bucket: AWS S3, MinIO,
// Cloudflare R2, Backblaze B2 and the like.
//
// It uses minio-go rather than aws-sdk-go-v2 for two reasons: PutObject
// streams a reader of known size, switching to a multi-part upload for large
// files without buffering them, and it adds no checksum headers unless asked
// (we leave Options.TrailingHeaders off), whereas aws-sdk-go-v2 since early
// 2025 sends CRC32 checksums by default that many S3-compatible stores reject.
package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Config says where and how to store objects.
type Config struct {
	// Endpoint is the S3 API host, as host[:port] or as a URL
	// (https://<account>.r2.cloudflarestorage.com). Empty means AWS S3.
	Endpoint string
	// Region is the bucket's region ("auto" for R2). Empty lets the client
	// ask the endpoint, which costs one request per bucket.
	Region string
	Bucket string
	// AccessKey and SecretKey default to AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN) when both are empty.
	AccessKey string
	SecretKey string
	// PathStyle addresses the bucket as endpoint/bucket/key instead of
	// bucket.endpoint/key; MinIO and most self-hosted stores need it.
	PathStyle bool
	// PublicURL is where stored objects are publicly readable, e.g.
	// https://cdn.example.com or https://bucket.s3.eu-west-1.amazonaws.com;
	// an object's URL is PublicURL/<key>. Required: voicehook stores
	// permanent links, never presigned ones that expire.
	PublicURL string
	// Secure selects HTTPS. It is ignored when Endpoint is a URL (its scheme
	// decides) or empty (AWS S3 is always HTTPS).
	Secure bool
	// WrapTransport, if set, wraps the HTTP transport (tracing: a client
	// span and traceparent on each request).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Storage puts audio into one bucket. It is safe for concurrent use.
type Storage struct {
	client    *minio.Client
	bucket    string
	publicURL string
	endpoint  string // for messages: scheme://host
	// web fetches public URLs in Check, through the same transport as the
	// S3 client.
	web *http.Client
}

// New checks cfg and builds a client. It makes no request.
func New(cfg Config) (*Storage, error) {
	return newStorage(cfg, os.Getenv, nil)
}

// newStorage is New with the environment lookup and the HTTP transport
// injected, so tests of the credential fallback need not touch the process
// environment and tests can trust a loopback TLS server. A nil transport
// means minio-go's default.
func newStorage(cfg Config, getenv func(string) string, transport http.RoundTripper) (*Storage, error) {
	host, secure, err := parseEndpoint(cfg.Endpoint, cfg.Secure)
	if err != nil {
		return nil, err
	}
	if cfg.Bucket == "" {
		return nil, errors.New("s3: bucket name is empty: set the S3 bucket")
	}
	if err := s3utils.CheckValidBucketName(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3: bucket name %q is not valid: %w", cfg.Bucket, err)
	}
	pub, err := parsePublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	creds, err := credentialsFor(cfg, getenv)
	if err != nil {
		return nil, err
	}
	if cfg.WrapTransport != nil {
		if transport == nil {
			t, err := minio.DefaultTransport(secure)
			if err != nil {
				return nil, fmt.Errorf("s3: building the HTTP transport: %w", err)
			}
			transport = t
		}
		transport = cfg.WrapTransport(transport)
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		// voicehook retries failed events itself, with backoff, across
		// restarts; a few quick retries here only ride out blips.
		MaxRetries: 3,
		Transport:  transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: endpoint %q: %w", cfg.Endpoint, err)
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	return &Storage{
		client:    client,
		bucket:    cfg.Bucket,
		publicURL: pub,
		endpoint:  scheme + "://" + host,
		web:       &http.Client{Transport: transport},
	}, nil
}

// parseEndpoint accepts "host[:port]" or "http(s)://host[:port]" and returns
// the host and whether to use HTTPS.
func parseEndpoint(endpoint string, secure bool) (string, bool, error) {
	if endpoint == "" {
		return "s3.amazonaws.com", true, nil
	}
	if !strings.Contains(endpoint, "://") {
		if strings.ContainsAny(endpoint, "/?#") {
			return "", false, fmt.Errorf("s3: endpoint %q must be a host[:port] or an http(s) URL without a path", endpoint)
		}
		return endpoint, secure, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("s3: endpoint %q must be a host[:port] or an http(s) URL without a path", endpoint)
	}
	return u.Host, u.Scheme == "https", nil
}

func parsePublicURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("s3: public URL is empty: set it to where the bucket's objects are publicly readable " +
			"(e.g. https://<bucket>.s3.<region>.amazonaws.com or your CDN); voicehook never stores presigned links, they expire")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("s3: public URL %q must be an absolute http(s) URL without a query", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

func credentialsFor(cfg Config, getenv func(string) string) (*credentials.Credentials, error) {
	access, secret, token := cfg.AccessKey, cfg.SecretKey, ""
	if access == "" && secret == "" {
		access, secret, token = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
	}
	if access == "" || secret == "" {
		return nil, errors.New("s3: credentials are incomplete: set both the S3 access key and secret key " +
			"(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	return credentials.NewStaticV4(access, secret, token), nil
}
