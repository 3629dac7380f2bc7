package main

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/jobs/election"
	"github.com/tallyq/tallyq/queue/rabbitmq"
)

// Defaults of the flags shared by several commands.
const (
	defaultMemoryBudget  = 256 << 20
	defaultComputeNice   = 0
	defaultMaxAttempts   = 5
	defaultShutdownGrace = 30 * time.Second
	defaultLease         = 30 * time.Second
	defaultConnectWait   = time.Minute
	// minLease leaves heartbeats (every third of the lease) time to reach
	// a busy database.
	minLease            = 3 * time.Second
	defaultHTTPAddr     = ":8080"
	defaultServeWorkers = 2
	// defaultWorkerGCPercent is a worker's GOGC. A tally's live heap is a few MB,
	// so the heap goal sits at the runtime's 4 MB floor (GOGC 100); 50 halves the
	// floor, which took 1–2 MiB off a worker's peak resident set in the memory
	// benchmark (bench/NOTES.md) for a GC cost within the noise of the tally's CPU.
	defaultWorkerGCPercent = 50
	maxChunkSize           = 100_000
)

// dbOptions are the flags of every command that talks to the database.
type dbOptions struct {
	databaseURL string
	logLevel    levelValue
	logFormat   choiceValue
}

func (o *dbOptions) register(fs *flagSet) {
	fs.StringEnv(&o.databaseURL, "database-url", "TALLYQ_DATABASE_URL", "",
		"Postgres URL, e.g. postgres://user:password@localhost:5432/tallyq (required; \"make run\" starts a private Postgres and sets it)")
	o.logLevel = levelValue{name: "info", level: slog.LevelInfo}
	fs.VarEnv(&o.logLevel, "log-level", "TALLYQ_LOG_LEVEL", "log `level`: debug, info, warn or error")
	o.logFormat = choiceValue{value: "auto", choices: []string{"auto", "json", "text"}}
	fs.VarEnv(&o.logFormat, "log-format", "TALLYQ_LOG_FORMAT", "log `format`: json, text, or auto (text on a terminal, json otherwise)")
}

func (o *dbOptions) validate() error {
	if o.databaseURL == "" {
		return usagef("no database: set --database-url or TALLYQ_DATABASE_URL, or run `make run`, which starts a private Postgres and sets it")
	}
	return nil
}

// logger returns the logger these options describe, writing to e.stderr.
func (o *dbOptions) logger(e *env) *slog.Logger {
	opts := &slog.HandlerOptions{Level: o.logLevel.level}
	format := o.logFormat.value
	if format == "auto" {
		format = "json"
		if e.stderrIsTerminal {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(e.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(e.stderr, opts))
}

// engineOptions are the flags of the commands that run the job engine.
type engineOptions struct {
	dbOptions
	broker        choiceValue
	amqpURL       string
	amqpPrefix    string
	memoryBudget  byteSize
	computeNice   int
	maxAttempts   int
	lease         time.Duration
	connectWait   time.Duration
	shutdownGrace time.Duration
	chunkSize     int
}

func (o *engineOptions) register(fs *flagSet) {
	o.dbOptions.register(fs)
	o.broker = choiceValue{value: "river", choices: []string{"river", "rabbitmq"}}
	fs.VarEnv(&o.broker, "broker", "TALLYQ_BROKER",
		"message `broker` carrying chunks: river (Postgres, the default) or rabbitmq (needs --amqp-url); every process of a deployment must use the same")
	fs.StringEnv(&o.amqpURL, "amqp-url", "TALLYQ_AMQP_URL", "",
		"RabbitMQ URL with credentials, e.g. amqp://tallyq:password@rabbitmq:5672/ (with --broker rabbitmq; guest/guest only on localhost)")
	fs.StringEnv(&o.amqpPrefix, "amqp-queue-prefix", "TALLYQ_AMQP_QUEUE_PREFIX", "tallyq",
		"`prefix` of the RabbitMQ exchanges and queues (prefix.tally, prefix.dead, ...), to run several deployments on one node")
	o.memoryBudget = defaultMemoryBudget
	fs.VarEnv(&o.memoryBudget, "memory-budget", "TALLYQ_MEMORY_BUDGET",
		"the workers' heap budget, a `size` such as 256MiB, 1GiB, 512MB or bytes; no chunk is taken while the live heap is over it (0: no limit)")
	fs.IntEnv(&o.computeNice, "compute-nice", "TALLYQ_COMPUTE_NICE", defaultComputeNice,
		"nice `value` (0-19) of the threads computing chunks, so that the API, Postgres and lease renewals on the same machine come first when the cores are full (0: the process's own priority; Linux only)")
	fs.IntEnv(&o.maxAttempts, "max-attempts", "TALLYQ_MAX_ATTEMPTS", defaultMaxAttempts,
		"attempts per chunk before it is failed")
	fs.DurationEnv(&o.lease, "lease", "TALLYQ_LEASE", defaultLease,
		"how long a chunk's claim lasts without a heartbeat (sent every third of it): a chunk whose worker died is handed out again this long after its last heartbeat")
	fs.DurationEnv(&o.connectWait, "connect-wait", "TALLYQ_CONNECT_WAIT", defaultConnectWait,
		"at start, how long to keep trying to reach Postgres and RabbitMQ while they do not answer, as when they start together with tallyq (0: try once)")
	fs.DurationEnv(&o.shutdownGrace, "shutdown-grace", "TALLYQ_SHUTDOWN_GRACE", defaultShutdownGrace,
		"on SIGTERM, how long in-flight chunks and requests may finish before they are released")
	fs.IntEnv(&o.chunkSize, "chunk-size", "TALLYQ_CHUNK_SIZE", election.DefaultChunkSize,
		"ballots per tally chunk of the elections this process imports or creates")
}

func (o *engineOptions) validate() error {
	if err := o.dbOptions.validate(); err != nil {
		return err
	}
	if o.broker.value == "rabbitmq" {
		if o.amqpURL == "" {
			return usagef("--broker rabbitmq needs --amqp-url or TALLYQ_AMQP_URL (amqp://user:password@host:5672/vhost)")
		}
		if err := rabbitmq.CheckURL(o.amqpURL); err != nil {
			return usagef("--amqp-url: %v", err)
		}
		if o.amqpPrefix == "" {
			return usagef("--amqp-queue-prefix must not be empty")
		}
	}
	if o.memoryBudget < 0 {
		return usagef("--memory-budget must not be negative")
	}
	if o.computeNice < 0 || o.computeNice > 19 {
		return usagef("--compute-nice must be from 0 to 19, got %d", o.computeNice)
	}
	if o.maxAttempts < 1 {
		return usagef("--max-attempts must be at least 1, got %d", o.maxAttempts)
	}
	if o.connectWait < 0 {
		return usagef("--connect-wait must not be negative, got %s", o.connectWait)
	}
	if o.lease < minLease {
		return usagef("--lease must be at least %s, got %s", minLease, o.lease)
	}
	if o.chunkSize < 1 || o.chunkSize > maxChunkSize {
		return usagef("--chunk-size must be from 1 to %d, got %d", maxChunkSize, o.chunkSize)
	}
	if o.shutdownGrace <= 0 {
		return usagef("--shutdown-grace must be positive, got %s", o.shutdownGrace)
	}
	return nil
}

// serveOptions are the flags of `tallyq serve`.
type serveOptions struct {
	engineOptions
	httpAddr   string
	workers    int
	adminToken string
}

func (o *serveOptions) register(fs *flagSet) {
	o.engineOptions.register(fs)
	fs.StringEnv(&o.httpAddr, "http-addr", "TALLYQ_HTTP_ADDR", defaultHTTPAddr, "address the HTTP API listens on")
	fs.IntEnv(&o.workers, "workers", "TALLYQ_WORKERS", defaultServeWorkers,
		"in-process chunk slots (0: API only; run \"tallyq worker\" processes instead)")
	fs.StringEnv(&o.adminToken, "admin-token", "TALLYQ_ADMIN_TOKEN", "",
		fmt.Sprintf("bearer token of the administrator, at least %d characters (required; e.g. from \"openssl rand -hex 32\")", api.MinTokenLength))
}

func (o *serveOptions) validate() error {
	if err := o.engineOptions.validate(); err != nil {
		return err
	}
	if o.workers < 0 {
		return usagef("--workers must not be negative, got %d", o.workers)
	}
	if o.httpAddr == "" {
		return usagef("--http-addr must not be empty")
	}
	switch {
	case o.adminToken == "":
		return usagef("no admin token: set --admin-token or TALLYQ_ADMIN_TOKEN to a secret of at least %d characters (e.g. `openssl rand -hex 32`)", api.MinTokenLength)
	case len(o.adminToken) < api.MinTokenLength:
		return usagef("the admin token is %d characters long; use at least %d (e.g. `openssl rand -hex 32`)", len(o.adminToken), api.MinTokenLength)
	}
	return nil
}

// workerOptions are the flags of `tallyq worker`.
type workerOptions struct {
	engineOptions
	concurrency int
	metricsAddr string
	gcPercent   int
}

func (o *workerOptions) register(fs *flagSet) {
	o.engineOptions.register(fs)
	fs.IntEnv(&o.concurrency, "concurrency", "TALLYQ_CONCURRENCY", runtime.NumCPU(),
		"chunk slots of this worker (default: the number of CPUs)")
	fs.StringEnv(&o.metricsAddr, "metrics-addr", "TALLYQ_METRICS_ADDR", "",
		"`address` to serve Prometheus metrics on, at GET /metrics (and GET /healthz), e.g. :9090; empty: no metrics listener")
	fs.IntEnv(&o.gcPercent, "gc-percent", "TALLYQ_GC_PERCENT", defaultWorkerGCPercent,
		"the Go garbage collector's target (GOGC) in this process: the heap may grow this many percent over the live heap before a collection; lower keeps the peak memory closer to the live heap for more GC CPU; 0: the runtime's own (GOGC, else 100)")
}

func (o *workerOptions) validate() error {
	if err := o.engineOptions.validate(); err != nil {
		return err
	}
	if o.concurrency < 1 {
		return usagef("--concurrency must be at least 1, got %d", o.concurrency)
	}
	if o.gcPercent < 0 {
		return usagef("--gc-percent must not be negative (0: the runtime's own), got %d", o.gcPercent)
	}
	return nil
}
