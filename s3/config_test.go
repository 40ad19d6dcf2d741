package s3

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	base := Config{Bucket: "voice", AccessKey: "ak", SecretKey: "wJalrXUtn-test-secret", PublicURL: "https://cdn.example.com/"}
	tests := []struct {
		name         string
		change       func(*Config)
		env          map[string]string
		wantEndpoint string
		wantPublic   string
		wantErr      string
	}{
		{name: "empty endpoint is AWS over https", wantEndpoint: "https://s3.amazonaws.com", wantPublic: "https://cdn.example.com"},
		{name: "https URL", change: func(c *Config) { c.Endpoint = "https://acct.r2.cloudflarestorage.com" },
			wantEndpoint: "https://acct.r2.cloudflarestorage.com", wantPublic: "https://cdn.example.com"},
		{name: "http URL overrides Secure", change: func(c *Config) { c.Endpoint = "http://127.0.0.1:9000/"; c.Secure = true },
			wantEndpoint: "http://127.0.0.1:9000", wantPublic: "https://cdn.example.com"},
		{name: "bare host uses Secure", change: func(c *Config) { c.Endpoint = "minio:9000"; c.Secure = true },
			wantEndpoint: "https://minio:9000", wantPublic: "https://cdn.example.com"},
		{name: "bare host insecure", change: func(c *Config) { c.Endpoint = "minio:9000" },
			wantEndpoint: "http://minio:9000", wantPublic: "https://cdn.example.com"},
		{name: "credentials from env", change: func(c *Config) { c.AccessKey, c.SecretKey = "", "" },
			env:          map[string]string{"AWS_ACCESS_KEY_ID": "envak", "AWS_SECRET_ACCESS_KEY": "envsk"},
			wantEndpoint: "https://s3.amazonaws.com", wantPublic: "https://cdn.example.com"},
		{name: "no credentials", change: func(c *Config) { c.AccessKey, c.SecretKey = "", "" },
			wantErr: "AWS_ACCESS_KEY_ID"},
		{name: "half credentials", change: func(c *Config) { c.SecretKey = "" },
			wantErr: "secret key"},
		{name: "endpoint with path", change: func(c *Config) { c.Endpoint = "https://s3.example.com/bucket" },
			wantErr: "without a path"},
		{name: "endpoint ftp", change: func(c *Config) { c.Endpoint = "ftp://s3.example.com" },
			wantErr: "http(s) URL"},
		{name: "no bucket", change: func(c *Config) { c.Bucket = "" }, wantErr: "bucket name is empty"},
		{name: "bad bucket", change: func(c *Config) { c.Bucket = "Bad_Bucket!" }, wantErr: "not valid"},
		{name: "no public URL", change: func(c *Config) { c.PublicURL = "" }, wantErr: "never stores presigned"},
		{name: "relative public URL", change: func(c *Config) { c.PublicURL = "/media" }, wantErr: "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			if tt.change != nil {
				tt.change(&cfg)
			}
			s, err := newStorage(cfg, func(k string) string { return tt.env[k] }, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want an error mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), base.SecretKey) {
					t.Errorf("error leaks the secret key: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got := struct{ Endpoint, Public string }{s.endpoint, s.publicURL}
			want := struct{ Endpoint, Public string }{tt.wantEndpoint, tt.wantPublic}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCredentialsFallBackToEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AWS_ACCESS_KEY_ID": "envak", "AWS_SECRET_ACCESS_KEY": "envsk", "AWS_SESSION_TOKEN": "tok"}
	tests := []struct {
		name                string
		access, secret      string
		wantAccess, wantSec string
		wantToken           string
	}{
		{"config wins", "cfgak", "cfgsk", "cfgak", "cfgsk", ""},
		{"env when both empty", "", "", "envak", "envsk", "tok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			creds, err := credentialsFor(Config{AccessKey: tt.access, SecretKey: tt.secret}, func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			v, err := creds.GetWithContext(nil) // nil: the default context; these providers make no calls
			if err != nil {
				t.Fatal(err)
			}
			got := []string{v.AccessKeyID, v.SecretAccessKey, v.SessionToken}
			if diff := cmp.Diff([]string{tt.wantAccess, tt.wantSec, tt.wantToken}, got); diff != "" {
				t.Errorf("credentials (-want +got):\n%s", diff)
			}
		})
	}
}
