package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable"
	"github.com/voicehook/voicehook/disk"
	"github.com/voicehook/voicehook/internal/sqlstore"
)

// doctorCheck is one thing `voicehook doctor` proves before a user goes
// live. name says what is checked ("storage s3"); run returns what it
// proved, or an error that says what to fix. Backends add their checks in
// (*doctor).checks.
type doctorCheck struct {
	name string
	run  func(ctx context.Context) (ok string, err error)
}

func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfg := serveFlags("doctor [flags]", "Check a configuration end to end before going live: the store opens and migrates, "+
		"and the chosen storage (and system of record) accepts voicehook's credentials and writes "+
		"(local: media dir writable; s3: bucket exists, writable and publicly readable; nca: NCA Toolkit accepts the API key "+
		"and its bucket the public-read ACL NCA sets; "+
		"--records airtable: the token is accepted and the base has the tables and fields configured, checked read-only); "+
		"--elevenlabs-secret is set; ElevenLabs accepts --elevenlabs-api-key, if set; "+
		"--public-url is https and answers from this machine (warnings). "+
		"Takes the same flags as serve; prints one line per check and exits non-zero if any fails.", helpLayout{})
	fs.SetOutput(stderr)
	timeout := fs.Duration("check-timeout", time.Minute, "time limit for each check")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stdout, "FAIL config: %v\n", err)
		return errors.New("doctor: the configuration is invalid")
	}
	d := &doctor{cfg: *cfg, baseURL: cfg.publicURL(cfg.Addr)}
	defer d.close()
	checks := d.checks()
	failed := 0
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, *timeout)
		ok, err := c.run(cctx)
		cancel()
		var w warning
		switch {
		case errors.As(err, &w):
			fmt.Fprintf(stdout, "WARN %s: %v\n", c.name, w)
		case err != nil:
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", c.name, err)
		default:
			fmt.Fprintf(stdout, "ok   %s: %s\n", c.name, ok)
		}
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", failed, len(checks))
	}
	return nil
}

// doctor holds what its checks build, so later checks can use earlier
// results (records need the store) and everything is closed at the end.
type doctor struct {
	cfg     config
	baseURL string

	db     *sqlstore.DB
	unlock func()

	// The storage is built once, by the first check that needs it.
	built      bool
	local      *disk.Storage
	storage    voicehook.Storage
	storageErr error
}

// checks lists what doctor runs for d.cfg, in order.
func (d *doctor) checks() []doctorCheck {
	checks := []doctorCheck{{name: "store " + storeName(d.cfg), run: d.checkStore}}
	checks = append(checks, d.storageChecks()...)
	checks = append(checks, d.recordsChecks()...)
	checks = append(checks, d.serviceChecks()...)
	return checks
}

func (d *doctor) close() {
	if d.db != nil {
		d.db.Close()
		d.unlock()
	}
}

func storeName(cfg config) string {
	if cfg.DatabaseURL == "" {
		return "sqlite"
	}
	return "postgres"
}

// checkStore opens and migrates the store, as serve does at start.
func (d *doctor) checkStore(ctx context.Context) (string, error) {
	db, unlock, err := openStore(ctx, d.cfg, voicehook.SystemClock{})
	if err != nil {
		return "", err
	}
	d.db, d.unlock = db, unlock
	if d.cfg.DatabaseURL == "" {
		return fmt.Sprintf("schema up to date in %s", d.cfg.DataDir), nil
	}
	where := "the database"
	if u, err := url.Parse(d.cfg.DatabaseURL); err == nil {
		where = u.Host + u.Path // never the password
	}
	return fmt.Sprintf("connected to %s, schema up to date", where), nil
}

// buildStorage builds the storage --storage names, the way serve does.
// Signed links are never checked here, so the media signing key can be a
// throwaway one rather than the store's.
func (d *doctor) buildStorage() (voicehook.Storage, error) {
	if d.built {
		return d.storage, d.storageErr
	}
	d.built = true
	d.local, d.storageErr = disk.New(filepath.Join(d.cfg.DataDir, "media"), d.baseURL, []byte(randomHex()))
	if d.storageErr != nil {
		return nil, d.storageErr
	}
	d.storage, d.storageErr = buildStorage(d.cfg, d.local, nil)
	return d.storage, d.storageErr
}

// storageChecks checks the storage end to end with its own Check: local
// writes a probe file, s3 writes, reads back and fetches a probe object at
// --s3-public-url, nca asks the NCA Toolkit whether it accepts the key
// (and, in checks of its own, whether its bucket takes ACLs and where files
// are staged).
func (d *doctor) storageChecks() []doctorCheck {
	cfg := d.cfg
	name := "storage " + cfg.Storage
	var ok string
	switch cfg.Storage {
	case "local":
		ok = fmt.Sprintf("%s writable; audio served at %s/media/…", filepath.Join(cfg.DataDir, "media"), d.baseURL)
	case "s3":
		endpoint := cfg.S3.Endpoint
		if endpoint == "" {
			endpoint = "AWS S3"
		}
		ok = fmt.Sprintf("bucket %q at %s writable; objects publicly readable at %s/…", cfg.S3.Bucket, endpoint, strings.TrimRight(cfg.S3.PublicURL, "/"))
	case "nca":
		ok = fmt.Sprintf("NCA Toolkit at %s accepted the API key", strings.TrimRight(cfg.NCA.URL, "/"))
	default:
		ok = "ok"
	}
	checks := []doctorCheck{{name: name, run: func(ctx context.Context) (string, error) {
		st, err := d.buildStorage()
		if err != nil {
			return "", trimPkg(err, cfg.Storage, "disk")
		}
		if err := st.Check(ctx); err != nil {
			return "", trimPkg(err, cfg.Storage, "disk")
		}
		return ok, nil
	}}}
	if cfg.Storage == "nca" {
		checks = append(checks,
			doctorCheck{name: "storage nca bucket", run: d.checkNCABucket},
			doctorCheck{name: "storage nca staging", run: d.checkNCAStaging})
	}
	return checks
}

// checkNCABucket finds a bucket that refuses the public-read ACL NCA sets
// on every upload (ACLs disabled), which would fail every event. It asks
// NCA for an upload of a URL it cannot download: NCA opens the S3 upload,
// with the ACL, before downloading, so nothing is stored either way (see
// nca.Storage.CheckUploads).
func (d *doctor) checkNCABucket(ctx context.Context) (string, error) {
	st, err := d.buildStorage()
	if err != nil {
		return "", trimPkg(err, "nca", "disk")
	}
	probe, ok := st.(interface{ CheckUploads(context.Context) error })
	if !ok {
		return "", fmt.Errorf("storage %T cannot probe NCA uploads", st)
	}
	if err := probe.CheckUploads(ctx); err != nil {
		return "", trimPkg(err, "nca")
	}
	return "NCA's bucket accepts the public-read ACL NCA sets on uploads (probe: an upload NCA could not download; nothing stored)", nil
}

// checkNCAStaging checks the other half of NCA storage: the files NCA pulls
// are staged in the data dir's media store and offered under --public-url.
// Whether NCA can really reach that address only an upload would show, and
// NCA keeps every upload (it has no delete), so doctor only catches the
// common mistake of a loopback address.
func (d *doctor) checkNCAStaging(ctx context.Context) (string, error) {
	if _, err := d.buildStorage(); err != nil && d.local == nil {
		return "", trimPkg(err, "disk")
	}
	if err := d.local.Check(ctx); err != nil {
		return "", trimPkg(err, "disk")
	}
	if err := ncaReachProblem(d.baseURL, d.cfg.NCA.URL); err != nil {
		return "", err
	}
	return fmt.Sprintf("files staged in %s and offered to NCA as signed links (valid %s) under %s/media/; NCA must be able to reach that address",
		filepath.Join(d.cfg.DataDir, "media"), shortDuration(ncaStageTTL), d.baseURL), nil
}

// shortDuration is d without trailing zero units: 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ncaReachProblem reports a public URL that an NCA Toolkit elsewhere cannot
// reach: a loopback address while NCA is not on loopback itself.
func ncaReachProblem(publicURL, ncaURL string) error {
	pub, err := url.Parse(publicURL)
	if err != nil {
		return fmt.Errorf("--public-url %q is not a URL", publicURL)
	}
	n, err := url.Parse(ncaURL)
	if err != nil {
		return fmt.Errorf("--nca-url %q is not a URL", ncaURL)
	}
	if isLoopbackHost(pub.Hostname()) && !isLoopbackHost(n.Hostname()) {
		return fmt.Errorf("NCA at %s cannot pull files from %s (a loopback address): "+
			"set --public-url to an address the NCA Toolkit can reach", n.Host, publicURL)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// recordsChecks checks the system of record when it lives outside the
// store (the store check covers --records sql).
func (d *doctor) recordsChecks() []doctorCheck {
	if d.cfg.Records != "airtable" {
		return nil
	}
	return []doctorCheck{{name: "records airtable", run: d.checkAirtable}}
}

// checkAirtable proves, read-only, that the token is accepted, the base
// is reachable and has the three tables with every configured field (and,
// when the token may read the schema, usable types and the select options
// voicehook writes). It needs no store.
func (d *doctor) checkAirtable(ctx context.Context) (string, error) {
	cfg := d.cfg.Airtable
	ok, err := airtable.Diagnose(ctx, airtable.NewClient(cfg), cfg)
	if err != nil {
		return "", trimPkg(err, "airtable")
	}
	return ok, nil
}

// trimPkg drops a package's "name: " prefix from err's message when the
// check's name already says it ("storage nca: nca: …" reads badly).
func trimPkg(err error, pkgs ...string) error {
	msg := err.Error()
	for _, pkg := range pkgs {
		if t, ok := strings.CutPrefix(msg, pkg+": "); ok {
			return errors.New(t)
		}
	}
	return err
}
