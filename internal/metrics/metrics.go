// Package metrics holds voicehook's Prometheus collectors. They live on their
// own registry so tests can build as many servers as they like.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/voicehook/voicehook"
)

// Metrics are the collectors every part of the service reports to.
type Metrics struct {
	Registry *prometheus.Registry
	// Deliveries counts webhook deliveries by result: accepted, duplicate,
	// rejected, too_large, busy (body memory budget full), read_error,
	// unavailable.
	Deliveries *prometheus.CounterVec
	// Rejected counts refused deliveries by reason (missing, malformed,
	// stale, future, mismatch, bad_token, missing_token).
	Rejected *prometheus.CounterVec
	// AckLatency is the time from request start to the durable ack.
	AckLatency prometheus.Histogram
	// Outcomes counts finished processing runs by outcome (succeeded,
	// failed, ignored, dead, retry, waiting).
	Outcomes *prometheus.CounterVec
	// ProcessingSeconds is the time one processing attempt takes.
	ProcessingSeconds prometheus.Histogram
	// ProcessingWidth is how many processing attempts may run at once
	// now: --workers, less while acknowledgements are slow (--ack-target).
	ProcessingWidth prometheus.Gauge
	// OutsideCalls counts calls to outside services by service and result.
	OutsideCalls *prometheus.CounterVec
	// Generations counts finished generations by outcome (completed,
	// failed); GenerationCalls counts text-to-speech requests by result
	// (ok, rate_limited, permanent_error, transient_error).
	Generations, GenerationCalls *prometheus.CounterVec
	// Characters counts the characters ElevenLabs billed.
	Characters prometheus.Counter
	// ElevenLabsSeconds is the time one text-to-speech request takes.
	ElevenLabsSeconds prometheus.Histogram
	// QAOutcomes counts finished QA checks by status (passed, flagged,
	// unchecked); QAWER is the word error rate of each verdict;
	// QARequests counts speech-to-text requests by result.
	QAOutcomes, QARequests *prometheus.CounterVec
	QAWER                  prometheus.Histogram
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
		ProcessingWidth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "voicehook_processing_width", Help: "Processing attempts allowed at once (--workers, less while acknowledgements are slower than --ack-target).",
		}),
		OutsideCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicehook_outside_calls_total", Help: "Calls to outside services by service and result.",
		}, []string{"service", "result"}),
		Generations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicehook_generations_total", Help: "Finished voiceover generations by outcome.",
		}, []string{"outcome"}),
		GenerationCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicehook_elevenlabs_tts_requests_total", Help: "Text-to-speech requests by result.",
		}, []string{"result"}),
		Characters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "voicehook_elevenlabs_characters_total", Help: "Characters ElevenLabs billed for generated voiceovers.",
		}),
		ElevenLabsSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "voicehook_elevenlabs_tts_duration_seconds", Help: "Time one text-to-speech request takes.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}),
		QAOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicehook_qa_checks_total", Help: "Finished voiceover QA checks by status.",
		}, []string{"status"}),
		QARequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicehook_elevenlabs_stt_requests_total", Help: "Speech-to-text requests by result.",
		}, []string{"result"}),
		QAWER: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "voicehook_qa_word_error_rate", Help: "Word error rate of each QA verdict (transcript against script).",
			Buckets: []float64{0, .01, .02, .05, .08, .1, .15, .2, .3, .5, 1},
		}),
	}
	m.Registry.MustRegister(m.Deliveries, m.Rejected, m.AckLatency, m.Outcomes, m.ProcessingSeconds, m.ProcessingWidth, m.OutsideCalls,
		m.Generations, m.GenerationCalls, m.Characters, m.ElevenLabsSeconds, m.QAOutcomes, m.QARequests, m.QAWER,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// OverviewFunc reads the store's overview at now.
type OverviewFunc func(ctx context.Context, now time.Time) (voicehook.Overview, error)

// ScrapeTimeout bounds the store queries of one scrape.
const ScrapeTimeout = 2 * time.Second

// CountFunc counts the jobs still processing.
type CountFunc func(ctx context.Context) (int, error)

// WatchStore registers the metrics computed from the store when Prometheus
// scrapes: the queue depth, the age of the oldest unprocessed event, the dead
// events, the processing attempts recorded and, when processing is not nil,
// the jobs still processing. They count every replica's work, since the
// store is shared. (processing is nil for records kept in Airtable, whose
// rate limit a scrape must not spend.)
func (m *Metrics) WatchStore(overview OverviewFunc, processing CountFunc) {
	m.Registry.MustRegister(&storeCollector{overview: overview, processing: processing, now: time.Now, timeout: ScrapeTimeout})
}

var (
	storeUpDesc = prometheus.NewDesc("voicehook_store_up",
		"1 when the store answered the scrape-time queries, 0 when it did not (the store metrics are then left out).", nil, nil)
	queueDepthDesc = prometheus.NewDesc("voicehook_queue_depth",
		"Events waiting to be processed (status received), whenever they arrived.", nil, nil)
	oldestAgeDesc = prometheus.NewDesc("voicehook_oldest_unprocessed_age_seconds",
		"How long the oldest event still waiting to be processed has waited; 0 when none waits.", nil, nil)
	deadDesc = prometheus.NewDesc("voicehook_events_dead",
		"Events that gave up after --max-attempts and wait for a replay.", nil, nil)
	processingJobsDesc = prometheus.NewDesc("voicehook_jobs_processing",
		"Jobs still processing (--records sql).", nil, nil)
	attemptsDesc = prometheus.NewDesc("voicehook_attempts_total",
		"Processing attempts recorded in the store, by every replica.", nil, nil)
)

// storeCollector queries the store on every scrape, within a short timeout,
// so the numbers are current and shared by every replica.
type storeCollector struct {
	overview   OverviewFunc
	processing CountFunc
	now        func() time.Time
	timeout    time.Duration
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{storeUpDesc, queueDepthDesc, oldestAgeDesc, deadDesc, processingJobsDesc, attemptsDesc} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	o, err := c.overview(ctx, c.now())
	if err != nil {
		// A scrape still answers (the process metrics matter most when
		// the store is down); voicehook_store_up says what is missing.
		ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(o.Received))
	ch <- prometheus.MustNewConstMetric(oldestAgeDesc, prometheus.GaugeValue, o.OldestAge().Seconds())
	ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(o.Dead))
	ch <- prometheus.MustNewConstMetric(attemptsDesc, prometheus.CounterValue, float64(o.Attempts))
	if c.processing != nil {
		if n, err := c.processing(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(processingJobsDesc, prometheus.GaugeValue, float64(n))
		}
	}
}
