// Package tracing is voicehook's OpenTelemetry tracing: one trace per
// delivery, from the webhook handler through the commit, the queue wait and
// every processing attempt to each outside call.
//
// Design: tracing is on only when a collector is named (--otel-endpoint, or
// the standard OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT), and off it must cost
// nothing on the webhook path. So nothing here is global: Setup returns a
// *Tracing whose provider the wiring hands to the few places that start a
// trace (the webhook's server span, the queue worker, generation and QA
// runs); everything below them starts its spans from the span already in
// its ctx (Start), through that span's own provider. With tracing off no
// span is ever in a ctx, Start returns at once without allocating, and the
// wiring wraps no handler, transport or logger: the code paths are the ones
// voicehook had without tracing.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is the service.name voicehook reports unless OTEL_SERVICE_NAME
// or OTEL_RESOURCE_ATTRIBUTES says otherwise.
const ServiceName = "voicehook"

// Config says where traces go.
type Config struct {
	// Endpoint is --otel-endpoint: the collector's base URL for OTLP over
	// HTTP (http://127.0.0.1:4318), to which /v1/traces is appended, as
	// OTEL_EXPORTER_OTLP_ENDPOINT's is. It wins over the environment.
	Endpoint string
	// ServiceVersion is reported as service.version.
	ServiceVersion string
	// Getenv reads the environment (default os.Getenv). The exporter reads
	// its other OTEL_EXPORTER_OTLP_* settings (headers, timeout, TLS,
	// compression) and the SDK its sampler and batching (OTEL_TRACES_SAMPLER,
	// OTEL_BSP_*) from the process environment itself.
	Getenv func(string) string
}

// Tracing is voicehook's tracer provider: on (exporting over OTLP/HTTP) or
// off (a no-op provider, and nothing wrapped). A nil *Tracing is off.
type Tracing struct {
	sdk      *sdktrace.TracerProvider // nil when off
	endpoint string
	source   string // the flag or variable the endpoint came from
}

// Setup turns tracing on if a collector is named, and returns it off
// otherwise; off starts nothing (no exporter, no goroutine). An endpoint
// that is not an http(s) URL, or a protocol other than OTLP/HTTP with
// protobuf, is an error: tracing that silently went nowhere would be worse.
func Setup(ctx context.Context, cfg Config) (*Tracing, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	endpoint, source, err := resolveEndpoint(cfg.Endpoint, getenv)
	if err != nil || endpoint == "" {
		return &Tracing{}, err
	}
	if disabled(getenv) {
		// A deliberate off switch wins over an endpoint left set.
		return &Tracing{}, nil
	}
	if e := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); e != "" && !strings.EqualFold(e, "otlp") {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: voicehook exports traces over OTLP only; set it to otlp (or none to turn tracing off)", e)
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := getenv(v); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s=%s: voicehook sends traces over OTLP/HTTP with protobuf only; set it to http/protobuf (or unset it) and point the endpoint at the collector's HTTP port (4318)", v, p)
			}
			break // the traces variable, when set, overrides the general one
		}
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("creating the OTLP trace exporter for %s (%s): %w", endpoint, source, err)
	}
	res, err := newResource(ctx, cfg.ServiceVersion)
	if err != nil {
		return nil, err
	}
	// The sampler is the SDK's default, parent-based always-on, unless
	// OTEL_TRACES_SAMPLER(_ARG) says otherwise; the batcher's queue and
	// delay come from OTEL_BSP_*.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{sdk: tp, endpoint: endpoint, source: source}, nil
}

// On says whether spans are exported.
func (t *Tracing) On() bool { return t != nil && t.sdk != nil }

// Endpoint is where spans go and what named it ("--otel-endpoint" or the
// variable), for the startup log line; "" when off.
func (t *Tracing) Endpoint() (url, source string) {
	if !t.On() {
		return "", ""
	}
	return t.endpoint, t.source
}

// Provider is the tracer provider: the SDK's when on, a no-op one when off.
func (t *Tracing) Provider() trace.TracerProvider {
	if !t.On() {
		return noop.NewTracerProvider()
	}
	return t.sdk
}

// Shutdown sends the spans still queued and stops the exporter, within ctx.
// Off, it does nothing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.On() {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("flushing traces to %s: %w", t.endpoint, err)
	}
	return nil
}

// resolveEndpoint returns the URL spans are posted to, and what named it:
// the flag (a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT), else
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL, used as is), else
// OTEL_EXPORTER_OTLP_ENDPOINT (a base URL). "" means tracing is off.
func resolveEndpoint(flag string, getenv func(string) string) (endpoint, source string, err error) {
	type candidate struct {
		value, source string
		base          bool // /v1/traces is appended
	}
	for _, c := range []candidate{
		{flag, "--otel-endpoint", true},
		{getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", false},
		{getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTEL_EXPORTER_OTLP_ENDPOINT", true},
	} {
		v := strings.TrimSpace(c.value)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return "", "", fmt.Errorf("%s %q: want the collector's OTLP/HTTP URL, like http://127.0.0.1:4318", c.source, v)
		}
		if c.base && !strings.HasSuffix(u.Path, "/v1/traces") {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		}
		return u.String(), c.source, nil
	}
	return "", "", nil
}

// disabled reports the standard off switches: OTEL_SDK_DISABLED=true, or
// OTEL_TRACES_EXPORTER=none.
func disabled(getenv func(string) string) bool {
	if v, err := strconv.ParseBool(getenv("OTEL_SDK_DISABLED")); err == nil && v {
		return true
	}
	return strings.EqualFold(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")), "none")
}

// newResource describes this process: service.name voicehook and its
// version, overridden by OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
// (later detectors win), plus the SDK's and the host's names.
func newResource(ctx context.Context, version string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", ServiceName)}
	if version != "" {
		attrs = append(attrs, attribute.String("service.version", version))
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(),
	)
	// A detector that could not say everything (no host name) leaves the
	// rest usable.
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("describing the service for traces (OTEL_RESOURCE_ATTRIBUTES?): %w", err)
	}
	return res, nil
}
