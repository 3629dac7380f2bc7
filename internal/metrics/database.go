package metrics

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tallyq/tallyq/jobs"
)

// DefaultScrapeTimeout bounds the database reads of one scrape.
const DefaultScrapeTimeout = 2 * time.Second

// MaxJobSeries caps the active jobs whose progress is exported (the oldest
// first), so that a flood of jobs cannot flood Prometheus with series.
const MaxJobSeries = 100

// DatabaseOptions configures WatchDatabase.
type DatabaseOptions struct {
	// Outbox exports the RabbitMQ outbox gauges even while the outbox is
	// empty; set it when the broker is rabbitmq. Without it they appear
	// only while the outbox holds rows.
	Outbox bool
	// Timeout bounds the database reads of one scrape (0: DefaultScrapeTimeout).
	Timeout time.Duration
}

// WatchDatabase adds the gauges read from the database at each scrape: queue
// depth by operation and state, jobs by status, the progress of active jobs,
// and the RabbitMQ outbox. They describe the whole deployment, not this
// process, so one process (the API) should export them.
func (r *Registry) WatchDatabase(pool *pgxpool.Pool, opts DatabaseOptions) error {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultScrapeTimeout
	}
	c := &dbCollector{pool: pool, opts: opts, r: r}
	if err := r.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register the database collector: %w", err)
	}
	return nil
}

var (
	descUp = prometheus.NewDesc("tallyq_database_metrics_up",
		"1 when this scrape read the database's figures (queue, jobs, outbox), 0 when it failed or timed out.", nil, nil)
	descQueue = prometheus.NewDesc("tallyq_queue_chunks",
		"Chunks of active jobs not yet done or failed, by operation and state: available (a worker may claim it), "+
			"running (claimed), retry_wait (waiting for a retry's backoff), staged (in a later stage, not yet released).",
		[]string{"operation", "state"}, nil)
	descJobs = prometheus.NewDesc("tallyq_jobs",
		"Jobs by status and operation.", []string{"status", "operation"}, nil)
	descJobChunks = prometheus.NewDesc("tallyq_job_chunks",
		"Chunks of an active (queued or in-progress) job.", []string{"job_id", "operation"}, nil)
	descJobProcessed = prometheus.NewDesc("tallyq_job_chunks_processed",
		"Chunks of an active job that are done.", []string{"job_id", "operation"}, nil)
	descJobFailed = prometheus.NewDesc("tallyq_job_chunks_failed",
		"Chunks of an active job that failed for good.", []string{"job_id", "operation"}, nil)
	descOutbox = prometheus.NewDesc("tallyq_outbox_unpublished_messages",
		"Chunk messages in the RabbitMQ broker's outbox waiting for the relay to publish them.", nil, nil)
	descOutboxAge = prometheus.NewDesc("tallyq_outbox_oldest_unpublished_age_seconds",
		"Age of the oldest outbox range of the RabbitMQ broker with messages not yet published (0 when none): how far the relay lags.", nil, nil)
)

// dbCollector reads the database's figures at scrape time, in one round trip.
type dbCollector struct {
	r    *Registry
	pool *pgxpool.Pool
	opts DatabaseOptions
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descQueue, descJobs, descJobChunks, descJobProcessed, descJobFailed, descOutbox, descOutboxAge} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	s, err := readSnapshot(ctx, c.pool)
	if err != nil {
		c.r.log.Warn("metrics: read queue, jobs and outbox from the database", "error", err)
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	s.emit(ch, c.r.operations, c.opts.Outbox)
}

// activeJob is one active job's counts.
type activeJob struct {
	id                                 string
	operation                          string
	total, released, processed, failed int64
	running, retryWait                 int64
}

// snapshot is what one scrape read.
type snapshot struct {
	jobs   map[[2]string]int64 // (status, operation) → jobs
	active []activeJob         // oldest first
	// The outbox's unpublished messages, the oldest range's age, and whether it
	// holds any row.
	unpublished int64
	oldestAge   float64
	outboxUsed  bool
}

// jobsSQL counts jobs by status and operation.
const jobsSQL = `SELECT status, operation_type, count(*) FROM election_jobs GROUP BY 1, 2`

// activeSQL reads each active job's counts (folded columns plus shards, as
// jobs.Status does) with its running and retry-waiting chunks. Those are
// found through the small partial indexes on lease_until and not_before,
// never by scanning a job's chunks.
const activeSQL = `
	WITH busy AS (
		SELECT job_id, count(*) FILTER (WHERE state = 'running') AS running,
			count(*) FILTER (WHERE state = 'pending') AS retry_wait
		FROM job_chunks
		WHERE (lease_until IS NOT NULL AND state = 'running') OR (not_before IS NOT NULL AND state = 'pending')
		GROUP BY job_id
	)
	SELECT j.job_id::text, j.operation_type, j.total_chunks, j.released_chunks,
		j.processed_chunks + coalesce(s.processed, 0), j.failed_chunks + coalesce(s.failed, 0),
		coalesce(b.running, 0), coalesce(b.retry_wait, 0)
	FROM election_jobs j
	LEFT JOIN LATERAL (
		SELECT sum(processed) AS processed, sum(failed) AS failed FROM job_counter_shards WHERE job_id = j.job_id
	) s ON true
	LEFT JOIN busy b ON b.job_id = j.job_id
	WHERE j.status IN ('QUEUED', 'IN_PROGRESS')
	ORDER BY j.created_at, j.job_id`

// outboxSQL counts the outbox's unpublished messages and dates the oldest
// range holding some, through the partial index of ranges not wholly
// published (few while the relay keeps up), and tells whether the outbox
// holds any range.
const outboxSQL = `
	SELECT coalesce(sum(end_chunk - next_chunk), 0), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8,
		EXISTS (SELECT 1 FROM amqp_outbox)
	FROM amqp_outbox WHERE next_chunk < end_chunk`

// readSnapshot sends the three reads in one batch: one round trip.
func readSnapshot(ctx context.Context, pool *pgxpool.Pool) (snapshot, error) {
	s := snapshot{jobs: map[[2]string]int64{}}
	b := &pgx.Batch{}
	b.Queue(jobsSQL).Query(func(rows pgx.Rows) error {
		var (
			status, op string
			n          int64
		)
		_, err := pgx.ForEachRow(rows, []any{&status, &op, &n}, func() error {
			s.jobs[[2]string{status, op}] = n
			return nil
		})
		return err
	})
	b.Queue(activeSQL).Query(func(rows pgx.Rows) error {
		var j activeJob
		_, err := pgx.ForEachRow(rows, []any{&j.id, &j.operation, &j.total, &j.released, &j.processed, &j.failed, &j.running, &j.retryWait},
			func() error {
				s.active = append(s.active, j)
				return nil
			})
		return err
	})
	b.Queue(outboxSQL).QueryRow(func(row pgx.Row) error {
		return row.Scan(&s.unpublished, &s.oldestAge, &s.outboxUsed)
	})
	return s, pool.SendBatch(ctx, b).Close()
}

// emit sends the snapshot's metrics, with zeros for the known operations
// that have no jobs; the outbox's only when outbox is set or the outbox
// holds rows.
func (s snapshot) emit(ch chan<- prometheus.Metric, known []string, outbox bool) {
	ops := s.operations(known)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, status := range []jobs.Status{jobs.StatusQueued, jobs.StatusInProgress, jobs.StatusCompleted, jobs.StatusFailed, jobs.StatusCancelled} {
		for _, op := range ops {
			gauge(descJobs, float64(s.jobs[[2]string{string(status), op}]), string(status), op)
		}
	}
	depth := map[string]*[4]int64{} // operation → available, running, retry_wait, staged
	for i, j := range s.active {
		d := depth[j.operation]
		if d == nil {
			d = &[4]int64{}
			depth[j.operation] = d
		}
		d[0] += max(j.released-j.processed-j.failed-j.running-j.retryWait, 0)
		d[1] += j.running
		d[2] += j.retryWait
		d[3] += j.total - j.released
		if i < MaxJobSeries {
			gauge(descJobChunks, float64(j.total), j.id, j.operation)
			gauge(descJobProcessed, float64(j.processed), j.id, j.operation)
			gauge(descJobFailed, float64(j.failed), j.id, j.operation)
		}
	}
	for _, op := range ops {
		d := depth[op]
		if d == nil {
			d = &[4]int64{}
		}
		for i, state := range []string{"available", "running", "retry_wait", "staged"} {
			gauge(descQueue, float64(d[i]), op, state)
		}
	}
	if outbox || s.outboxUsed {
		gauge(descOutbox, float64(s.unpublished))
		gauge(descOutboxAge, s.oldestAge)
	}
}

// operations returns the known operations and every other that has jobs,
// sorted.
func (s snapshot) operations(known []string) []string {
	ops := slices.Clone(known)
	for k := range s.jobs {
		ops = append(ops, k[1])
	}
	slices.Sort(ops)
	return slices.Compact(ops)
}
