package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/voicehook/voicehook"
	"github.com/voicehook/voicehook/airtable"
	"github.com/voicehook/voicehook/disk"
	"github.com/voicehook/voicehook/internal/metrics"
	"github.com/voicehook/voicehook/internal/sqlstore"
	"github.com/voicehook/voicehook/internal/tracing"
	"github.com/voicehook/voicehook/nca"
	"github.com/voicehook/voicehook/process"
	"github.com/voicehook/voicehook/s3"
)

// ncaStageTTL is how long the signed link NCA pulls a staged file from stays
// valid. NCA copies a file while the upload request waits, so minutes would
// do; an hour leaves room for a busy NCA queue and clock skew.
const ncaStageTTL = time.Hour

// buildStorage picks the audio storage --storage names. local is the data
// dir's media store: the storage itself for --storage local, and the staging
// area NCA pulls files from for --storage nca.
func buildStorage(cfg config, local *disk.Storage, tr *tracing.Tracing) (voicehook.Storage, error) {
	switch cfg.Storage {
	case "local":
		return local, nil
	case "s3":
		return s3.New(s3.Config{
			Endpoint:  cfg.S3.Endpoint,
			Region:    cfg.S3.Region,
			Bucket:    cfg.S3.Bucket,
			AccessKey: cfg.S3.AccessKey,
			SecretKey: cfg.S3.SecretKey,
			PathStyle: cfg.S3.PathStyle,
			PublicURL: cfg.S3.PublicURL,
			// A bare host[:port] endpoint means HTTPS; plain HTTP (a local
			// MinIO) is asked for with an http:// endpoint URL.
			Secure:        true,
			WrapTransport: tr.Transport,
		})
	case "nca":
		return nca.New(nca.Config{
			BaseURL: cfg.NCA.URL,
			APIKey:  cfg.NCA.APIKey,
			Stage:   ncaStage(local),
			HTTP:    tr.Client(&http.Client{Timeout: nca.DefaultTimeout}),
		})
	default:
		return nil, fmt.Errorf("--storage %s is not available in this build", cfg.Storage)
	}
}

// ncaStage makes a file reachable by NCA: it is stored in the data dir's
// media store (whose handler then requires signed links, see app.go) and
// NCA is given a link to it under --public-url that expires after
// ncaStageTTL.
func ncaStage(local *disk.Storage) func(context.Context, voicehook.AudioObject) (string, error) {
	return func(ctx context.Context, obj voicehook.AudioObject) (string, error) {
		if _, err := local.Put(ctx, obj); err != nil {
			return "", err
		}
		return local.SignedURL(obj.Key, ncaStageTTL), nil
	}
}

// recordsBackend is the system of record --records names, and the parts it
// plays beside the store.
type recordsBackend struct {
	voicehook.Records
	// resolver ends the attempts that resolve a job: the store itself when
	// it holds the records (one transaction), else claim, move and record
	// in steps.
	resolver voicehook.Resolver
	// mirror keeps a copy of the events (Airtable), or is nil.
	mirror voicehook.EventMirror
	// qa shows QA verdicts in the records themselves (Airtable's optional
	// QA fields), or is nil.
	qa voicehook.QARecords
	// processing counts the jobs still processing for the metrics, or is
	// nil where a count costs the records' rate limit.
	processing metrics.CountFunc
	// close sends what the records still hold (Airtable's batched writes
	// and event mirrors waiting to catch up), within ctx.
	close func(ctx context.Context) error
}

// buildRecords picks the system of record --records names. The Airtable
// records run a batcher and a mirror catch-up loop: close them after the
// workers have stopped.
func buildRecords(cfg config, db *sqlstore.DB, log *slog.Logger) (recordsBackend, error) {
	switch cfg.Records {
	case "sql":
		return recordsBackend{Records: db, resolver: db, close: func(context.Context) error { return nil },
			processing: func(ctx context.Context) (int, error) {
				return db.CountJobs(ctx, voicehook.JobProcessing, math.MaxInt32)
			}}, nil
	case "airtable":
		ac := cfg.Airtable
		ac.Logger = log.With("component", "airtable")
		at, err := airtable.New(ac)
		if err != nil {
			return recordsBackend{}, err
		}
		return recordsBackend{Records: at, resolver: process.StepResolver{Claims: db, Records: at}, mirror: at, qa: at, close: at.Close}, nil
	default:
		return recordsBackend{}, fmt.Errorf("--records %s is not available in this build", cfg.Records)
	}
}
