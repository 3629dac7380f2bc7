// Package metrics is tallyq's Prometheus instrumentation: the chunk work of a
// process's workers (a jobs.Observer), its HTTP requests (api.Config's
// ObserveRequest), its heap, and, read from the database at scrape time,
// queue depth, jobs by status, the progress of active jobs and the RabbitMQ
// outbox. Every tallyq metric is named tallyq_*; the Go runtime's go_* and the
// process's process_* come with them.
//
// Each Registry is its own prometheus.Registry: nothing is registered
// globally, so any number of them can live in one process (tests do).
package metrics

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tallyq/tallyq/jobs"
)

// chunkBuckets spans chunk durations from a millisecond (a no-op chunk) to
// half an hour (a long decryption chunk near its timeout), in seconds.
var chunkBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800,
}

// httpBuckets spans request durations from a status poll to a large upload,
// in seconds.
var httpBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Config configures New.
type Config struct {
	// Operations are the operation types whose chunk series are created at
	// zero up front, so that rates and dashboards see them before the first
	// chunk (and a failure counter exists before the first failure).
	Operations []string
	// MemoryBudget is the workers' heap budget in bytes, exported as
	// tallyq_worker_memory_budget_bytes when positive.
	MemoryBudget int64
	// Logger receives scrape errors; nil discards them.
	Logger *slog.Logger
}

// Registry holds one process's metrics. It implements jobs.Observer; its
// ObserveRequest fits api.Config.ObserveRequest.
type Registry struct {
	reg        *prometheus.Registry
	log        *slog.Logger
	operations []string

	chunksProcessed *prometheus.CounterVec
	chunksFailed    *prometheus.CounterVec
	chunksRetried   *prometheus.CounterVec
	chunksInFlight  *prometheus.GaugeVec
	chunkDuration   *prometheus.HistogramVec
	httpDuration    *prometheus.HistogramVec
}

var _ jobs.Observer = (*Registry)(nil)

// New returns a registry with the process's metrics: chunk work, HTTP
// requests, heap, and the Go runtime's and the process's collectors. Add the
// database's with WatchDatabase.
func New(cfg Config) *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), log: cfg.Logger, operations: slices.Clone(cfg.Operations)}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	byOp := []string{"operation"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, byOp)
	}
	r.chunksProcessed = counter("tallyq_chunks_processed_total",
		"Chunks this process's workers computed and committed as done, by operation.")
	r.chunksFailed = counter("tallyq_chunks_failed_total",
		"Chunks failed for good (attempts exhausted) by this process, by operation.")
	r.chunksRetried = counter("tallyq_chunks_retried_total",
		"Failed chunk attempts this process recorded that will be retried after a backoff, by operation.")
	r.chunksInFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tallyq_chunks_in_flight",
		Help: "Chunks this process's workers have claimed and not yet committed, by operation.",
	}, byOp)
	r.chunkDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tallyq_chunk_duration_seconds",
		Help:    "Time from a chunk's claim to the commit of its outcome (done, retried or failed), by operation.",
		Buckets: chunkBuckets,
	}, byOp)
	r.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tallyq_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by method, route pattern and status class (2xx, 4xx, ...).",
		Buckets: httpBuckets,
	}, []string{"method", "route", "status_class"})
	r.reg.MustRegister(r.chunksProcessed, r.chunksFailed, r.chunksRetried, r.chunksInFlight, r.chunkDuration, r.httpDuration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tallyq_worker_heap_bytes",
			Help: "Bytes of heap objects, live or not yet collected: the figure the workers' memory budget is compared with.",
		}, func() float64 { return float64(jobs.LiveHeap()) }),
	)
	if cfg.MemoryBudget > 0 {
		r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tallyq_worker_memory_budget_bytes",
			Help: "The workers' heap budget (--memory-budget): no chunk is taken while tallyq_worker_heap_bytes is over it.",
		}, func() float64 { return float64(cfg.MemoryBudget) }))
	}
	for _, op := range cfg.Operations {
		r.chunksProcessed.WithLabelValues(op)
		r.chunksFailed.WithLabelValues(op)
		r.chunksRetried.WithLabelValues(op)
		r.chunksInFlight.WithLabelValues(op)
		r.chunkDuration.WithLabelValues(op)
	}
	return r
}

// Handler serves the metrics in the Prometheus exposition format. A
// collector that fails is logged and left out; the rest are still served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      r.reg,
	})
}

// Gatherer returns the registry, for reading metrics in process.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// ChunkStarted counts a chunk in flight.
func (r *Registry) ChunkStarted(operation string) {
	r.chunksInFlight.WithLabelValues(operation).Inc()
}

// ChunkFinished counts the attempt's outcome and, for done, retried and
// failed attempts, its duration.
func (r *Registry) ChunkFinished(operation string, outcome jobs.ChunkOutcome, d time.Duration) {
	r.chunksInFlight.WithLabelValues(operation).Dec()
	if r.countOutcome(operation, outcome) {
		r.chunkDuration.WithLabelValues(operation).Observe(d.Seconds())
	}
}

// ChunkDeliveryDead counts the failed attempt a dead delivery stands for.
func (r *Registry) ChunkDeliveryDead(operation string, outcome jobs.ChunkOutcome) {
	r.countOutcome(operation, outcome)
}

// countOutcome adds outcome to its counter and reports whether it has one:
// released and unrecorded attempts are not counted.
func (r *Registry) countOutcome(operation string, outcome jobs.ChunkOutcome) bool {
	switch outcome {
	case jobs.ChunkOutcomeDone:
		r.chunksProcessed.WithLabelValues(operation).Inc()
	case jobs.ChunkOutcomeRetried:
		r.chunksRetried.WithLabelValues(operation).Inc()
	case jobs.ChunkOutcomeFailed:
		r.chunksFailed.WithLabelValues(operation).Inc()
	default:
		return false
	}
	return true
}

// ObserveRequest records an answered HTTP request. route is the router's
// pattern (bounded), never the path; unknown methods count as "other".
func (r *Registry) ObserveRequest(method, route string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	if route == "" {
		route = "unmatched"
	}
	r.httpDuration.WithLabelValues(method, route, statusClass(status)).Observe(d.Seconds())
}

// statusClass returns "2xx" for 200 … 299 and so on.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}
