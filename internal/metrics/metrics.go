// Package metrics holds voicehook's Prometheus collectors. They live on their
// own registry so tests can build as many servers as they like.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the collectors every part of the service reports to.
type Metrics struct {
	Registry *prometheus.Registry
	// Deliveries counts webhook deliveries by result: accepted, duplicate,
	// rejected, too_large, unavailable.
	Deliveries *prometheus.CounterVec
	// Rejected counts refused deliveries by reason (missing, malformed,
	// stale, future, mismatch, bad_token).
	Rejected *prometheus.CounterVec
	// AckLatency is the time from request start to the durable ack.
	AckLatency prometheus.Histogram
	// Outcomes counts finished processing runs by outcome (succeeded,
	// failed, ignored, dead, retry, waiting).
	Outcomes *prometheus.CounterVec
	// ProcessingSeconds is the time one processing attempt takes.
	ProcessingSeconds prometheus.Histogram
	// OutsideCalls counts calls to outside services by service and result.
	OutsideCalls *prometheus.CounterVec
}

// New builds the collectors on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicehook_deliveries_total", Help: "Webhook deliveries by result.",
		}, []string{"result"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicehook_deliveries_rejected_total", Help: "Webhook deliveries refused, by reason.",
		}, []string{"reason"}),
		AckLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "voicehook_ack_latency_seconds", Help: "Time from receiving a delivery to its durable acknowledgement.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
		}),
		Outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicehook_processing_outcomes_total", Help: "Processing attempts by outcome.",
		}, []string{"outcome"}),
		ProcessingSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "voicehook_processing_duration_seconds", Help: "Time one processing attempt takes.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}),
		OutsideCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicehook_outside_calls_total", Help: "Calls to outside services by service and result.",
		}, []string{"service", "result"}),
	}
	m.Registry.MustRegister(m.Deliveries, m.Rejected, m.AckLatency, m.Outcomes, m.ProcessingSeconds, m.OutsideCalls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
