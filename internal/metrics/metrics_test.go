package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/metrics"
	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/jobs"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

const (
	opType    = "METRICS_TEST"
	testToken = "metrics-test-admin-token"
)

// scriptedOp is the test operation. Chunks in failOnce fail their first
// attempt, chunks in failAlways every attempt, chunks in applyFailOnce
// compute a result whose application fails on their first attempt; while
// gate is open (not closed) every chunk waits for it.
type scriptedOp struct {
	failOnce, failAlways, applyFailOnce map[int]bool
	gate                                chan struct{}
}

func (o *scriptedOp) Type() string                { return opType }
func (o *scriptedOp) ChunkTimeout() time.Duration { return time.Minute }

func (o *scriptedOp) Process(ctx context.Context, c jobs.Chunk) (jobs.Result, error) {
	if o.gate != nil {
		select {
		case <-o.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if o.failAlways[c.Number] || (o.failOnce[c.Number] && c.Attempt == 1) {
		return nil, fmt.Errorf("scripted failure of chunk %d attempt %d", c.Number, c.Attempt)
	}
	if o.applyFailOnce[c.Number] && c.Attempt == 1 {
		return jobs.ResultFunc(func(context.Context, pgx.Tx) error {
			return fmt.Errorf("scripted apply failure of chunk %d", c.Number)
		}), nil
	}
	return jobs.NoResult, nil
}

func (o *scriptedOp) Complete(context.Context, pgx.Tx, jobs.JobStatus) error { return nil }

// stack is an engine on the River broker observed by a registry, and the
// API serving that registry's /metrics, as `tallyq serve` wires them.
type stack struct {
	t      *testing.T
	pool   *pgxpool.Pool
	engine *jobs.Engine
	reg    *metrics.Registry
	op     *scriptedOp
	base   string // the API's URL
}

func newStack(t *testing.T, op *scriptedOp) *stack {
	t.Helper()
	pool := testdb.New(t, testdb.WithMaxConns(20))
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	broker, err := riverbroker.New(pool, riverbroker.Config{
		Logger:            logger,
		FetchPollInterval: 50 * time.Millisecond,
		DeadSweepInterval: 200 * time.Millisecond,
		OrphanAfter:       time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.New(metrics.Config{Operations: []string{opType}, MemoryBudget: 1 << 30, Logger: logger})
	if err := reg.WatchDatabase(pool, metrics.DatabaseOptions{Outbox: true}); err != nil {
		t.Fatal(err)
	}
	engine, err := jobs.NewEngine(pool, broker, jobs.Config{
		MaxAttempts:   2,
		BackoffBase:   10 * time.Millisecond,
		BackoffMax:    20 * time.Millisecond,
		SweepInterval: 50 * time.Millisecond,
		Logger:        logger,
		Observer:      reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Register(op); err != nil {
		t.Fatal(err)
	}
	handler, err := api.New(api.Config{Jobs: engine, AdminToken: testToken, Metrics: reg.Handler(), ObserveRequest: reg.ObserveRequest})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &stack{t: t, pool: pool, engine: engine, reg: reg, op: op, base: srv.URL}
}

// start runs workers and maintenance until the test ends.
func (s *stack) start(concurrency int) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := s.engine.RunWorkers(ctx, jobs.WorkerConfig{Concurrency: concurrency, ShutdownGrace: 5 * time.Second}); err != nil {
			s.t.Errorf("RunWorkers: %v", err)
		}
	}()
	go func() { defer wg.Done(); _ = s.engine.RunMaintenance(ctx) }()
	s.t.Cleanup(func() { cancel(); wg.Wait() })
}

func (s *stack) create(p jobs.CreateParams) jobs.JobStatus {
	s.t.Helper()
	p.OperationType, p.CreatedBy = opType, "test"
	job, err := s.engine.CreateJob(context.Background(), p)
	if err != nil {
		s.t.Fatalf("CreateJob: %v", err)
	}
	return job
}

// get requests path from the API with the admin token and returns the body,
// failing the test unless the status is 200.
func (s *stack) get(path string) []byte {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s (%v)", path, resp.StatusCode, body, err)
	}
	return body
}

// scrape fetches /metrics over HTTP and parses it.
func (s *stack) scrape() (string, exposition) {
	s.t.Helper()
	body := string(s.get("/metrics"))
	return body, parseExposition(s.t, body)
}

// waitFor polls cond until it holds, failing the test after a minute.
func (s *stack) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// waitSettled waits for the job to end and for every attempt the workers
// started to be reported finished: after the job's end no attempt starts,
// and one that committed reports after its commit.
func (s *stack) waitSettled(id uuid.UUID) jobs.JobStatus {
	s.t.Helper()
	var st jobs.JobStatus
	s.waitFor("job "+id.String()+" to end", func() bool {
		var err error
		if st, err = s.engine.Status(context.Background(), id); err != nil {
			s.t.Fatal(err)
		}
		return st.Status.Terminal()
	})
	s.waitFor("no chunk in flight", func() bool {
		return gathered(s.t, s.reg).value("tallyq_chunks_in_flight", "operation", opType) == 0
	})
	return st
}

// exposition is parsed metrics output.
type exposition map[string]*dto.MetricFamily

func parseExposition(t *testing.T, text string) exposition {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, text)
	}
	return fams
}

// gathered reads the registry in process, without HTTP.
func gathered(t *testing.T, reg *metrics.Registry) exposition {
	t.Helper()
	fams, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := exposition{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// find returns the series of family name whose labels include the given
// name/value pairs, or nil.
func (e exposition) find(name string, labels ...string) *dto.Metric {
	f := e[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// value returns a counter's or gauge's value, or a histogram's count; -1
// when there is no such series.
func (e exposition) value(name string, labels ...string) float64 {
	m := e.find(name, labels...)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// promtoolCheck runs `promtool check metrics` on text.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		path = "/usr/bin/promtool"
		if _, statErr := os.Stat(path); statErr != nil {
			msg := "promtool is not installed (Debian package prometheus; .ci/run installs it)"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
}

func TestCountersAfterJob(t *testing.T) {
	s := newStack(t, &scriptedOp{failOnce: map[int]bool{1: true}, failAlways: map[int]bool{2: true}, applyFailOnce: map[int]bool{3: true}})
	s.start(2)
	job := s.create(jobs.CreateParams{TotalChunks: 6})
	st := s.waitSettled(job.JobID)
	// Chunk 1 fails once, then is done; chunk 2 fails both of its two
	// attempts; chunk 3 computes but its result cannot be applied the
	// first time, which the commit turns into a retry; the other three are
	// done at once.
	if st.Status != jobs.StatusFailed || st.ProcessedChunks != 5 || st.FailedChunks != 1 {
		t.Fatalf("job %s, %d processed, %d failed; want FAILED, 5, 1", st.Status, st.ProcessedChunks, st.FailedChunks)
	}
	s.get("/api/jobs/" + job.JobID.String() + "/status")

	text, m := s.scrape()
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"tallyq_chunks_processed_total", []string{"operation", opType}, 5},
		{"tallyq_chunks_retried_total", []string{"operation", opType}, 3},
		{"tallyq_chunks_failed_total", []string{"operation", opType}, 1},
		{"tallyq_chunks_in_flight", []string{"operation", opType}, 0},
		{"tallyq_chunk_duration_seconds", []string{"operation", opType}, 9}, // every attempt
		{"tallyq_jobs", []string{"status", "FAILED", "operation", opType}, 1},
		{"tallyq_jobs", []string{"status", "COMPLETED", "operation", opType}, 0},
		{"tallyq_queue_chunks", []string{"operation", opType, "state", "available"}, 0},
		{"tallyq_database_metrics_up", nil, 1},
		{"tallyq_outbox_unpublished_messages", nil, 0},
		{"tallyq_worker_memory_budget_bytes", nil, 1 << 30},
		{"tallyq_http_request_duration_seconds", []string{"method", "GET", "route", "/api/jobs/{jobId}/status", "status_class", "2xx"}, 1},
	}
	for _, w := range want {
		if got := m.value(w.name, w.labels...); got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
	if heap := m.value("tallyq_worker_heap_bytes"); heap <= 0 {
		t.Errorf("tallyq_worker_heap_bytes = %v, want the heap's size", heap)
	}
	if m.find("tallyq_job_chunks") != nil {
		t.Errorf("an ended job still has progress series")
	}
	promtoolCheck(t, text)
}

// runGated starts a job of 5 chunks in two stages (3, 2) on two worker
// slots whose chunks wait until the returned function is called; it returns
// once both slots hold a chunk.
func runGated(t *testing.T) (*stack, jobs.JobStatus, func()) {
	t.Helper()
	op := &scriptedOp{gate: make(chan struct{})}
	s := newStack(t, op)
	s.start(2)
	job := s.create(jobs.CreateParams{TotalChunks: 5, Stages: []int{3, 2}})
	s.waitFor("two chunks in flight", func() bool {
		return gathered(t, s.reg).value("tallyq_chunks_in_flight", "operation", opType) == 2
	})
	var once sync.Once
	release := func() { once.Do(func() { close(op.gate) }) }
	t.Cleanup(release)
	return s, job, release
}

func TestGaugesWhileJobRuns(t *testing.T) {
	s, job, release := runGated(t)
	_, m := s.scrape()
	id := job.JobID.String()
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"tallyq_job_chunks", []string{"job_id", id, "operation", opType}, 5},
		{"tallyq_job_chunks_processed", []string{"job_id", id, "operation", opType}, 0},
		{"tallyq_job_chunks_failed", []string{"job_id", id, "operation", opType}, 0},
		{"tallyq_jobs", []string{"status", "IN_PROGRESS", "operation", opType}, 1},
		{"tallyq_queue_chunks", []string{"operation", opType, "state", "running"}, 2},
		{"tallyq_queue_chunks", []string{"operation", opType, "state", "available"}, 1},
		{"tallyq_queue_chunks", []string{"operation", opType, "state", "staged"}, 2},
		{"tallyq_queue_chunks", []string{"operation", opType, "state", "retry_wait"}, 0},
	}
	for _, w := range want {
		if got := m.value(w.name, w.labels...); got != w.value {
			t.Errorf("while running: %s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}

	release()
	if st := s.waitSettled(job.JobID); st.Status != jobs.StatusCompleted {
		t.Fatalf("job ended %s, want COMPLETED", st.Status)
	}
	_, m = s.scrape()
	if got := m.value("tallyq_chunks_processed_total", "operation", opType); got != 5 {
		t.Errorf("after the job: tallyq_chunks_processed_total = %v, want 5", got)
	}
	if got := m.value("tallyq_queue_chunks", "operation", opType, "state", "staged"); got != 0 {
		t.Errorf("after the job: staged chunks = %v, want 0", got)
	}
	if m.find("tallyq_job_chunks", "job_id", id) != nil {
		t.Errorf("after the job: its progress series remain")
	}
}

func TestQueueDepthRetryWait(t *testing.T) {
	// No workers: the chunks' states are set by hand, as claims and
	// failed attempts leave them.
	s := newStack(t, &scriptedOp{})
	job := s.create(jobs.CreateParams{TotalChunks: 6, Stages: []int{4, 2}})
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `
		UPDATE job_chunks SET
			state = CASE WHEN chunk_no = 0 THEN 'running' ELSE 'pending' END,
			claim = CASE WHEN chunk_no = 0 THEN gen_random_uuid() END,
			lease_until = CASE WHEN chunk_no = 0 THEN now() + interval '1 minute' END,
			not_before = CASE WHEN chunk_no = 1 THEN now() + interval '1 hour' END
		WHERE job_id = $1 AND chunk_no IN (0, 1)`, job.JobID); err != nil {
		t.Fatal(err)
	}
	m := gathered(t, s.reg)
	for state, want := range map[string]float64{"available": 2, "running": 1, "retry_wait": 1, "staged": 2} {
		if got := m.value("tallyq_queue_chunks", "operation", opType, "state", state); got != want {
			t.Errorf("%s chunks = %v, want %v", state, got, want)
		}
	}
}

func TestOutboxGauges(t *testing.T) {
	pool := testdb.New(t)
	reg := metrics.New(metrics.Config{})
	if err := reg.WatchDatabase(pool, metrics.DatabaseOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := gathered(t, reg); m["tallyq_outbox_unpublished_messages"] != nil || m["tallyq_outbox_oldest_unpublished_age_seconds"] != nil {
		t.Errorf("outbox gauges of an empty outbox without DatabaseOptions.Outbox")
	}
	if _, err := pool.Exec(context.Background(), `
		INSERT INTO amqp_outbox (job_id, operation, first_chunk, end_chunk, next_chunk, created_at, published_at) VALUES
			(gen_random_uuid(), 'TALLY', 0, 10, 4, now() - interval '30 seconds', NULL),
			(gen_random_uuid(), 'TALLY', 5, 6, 5, now(), NULL),
			(gen_random_uuid(), 'TALLY', 0, 100, 100, now() - interval '1 hour', now())`); err != nil {
		t.Fatal(err)
	}
	m := gathered(t, reg)
	if u := m.value("tallyq_outbox_unpublished_messages"); u != 7 {
		t.Errorf("%v unpublished outbox messages, want 6 + 1", u)
	}
	// The oldest range with unpublished messages is 30 s old; the published one, older, does not count.
	if age := m.value("tallyq_outbox_oldest_unpublished_age_seconds"); age < 30 || age > 600 {
		t.Errorf("oldest unpublished age %v s, want 30 s and a little", age)
	}
}

func TestDatabaseTimeout(t *testing.T) {
	reg := metrics.New(metrics.Config{Operations: []string{opType}})
	if err := reg.WatchDatabase(testdb.New(t), metrics.DatabaseOptions{Timeout: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	m := gathered(t, reg)
	if up := m.value("tallyq_database_metrics_up"); up != 0 {
		t.Errorf("tallyq_database_metrics_up = %v after a timed-out read, want 0", up)
	}
	if m["tallyq_jobs"] != nil || m["tallyq_queue_chunks"] != nil {
		t.Errorf("database figures served although the read timed out")
	}
	// The process's own metrics are still served.
	if got := m.value("tallyq_chunks_processed_total", "operation", opType); got != 0 {
		t.Errorf("tallyq_chunks_processed_total = %v, want 0", got)
	}
}

func TestObserveRequestBoundsLabels(t *testing.T) {
	reg := metrics.New(metrics.Config{})
	reg.ObserveRequest("BREW", "", 418, time.Millisecond)
	reg.ObserveRequest("GET", "/api/jobs/{jobId}/status", 503, time.Millisecond)
	reg.ObserveRequest("GET", "/healthz", 0, time.Millisecond)
	m := gathered(t, reg)
	for _, labels := range [][]string{
		{"method", "other", "route", "unmatched", "status_class", "4xx"},
		{"method", "GET", "route", "/api/jobs/{jobId}/status", "status_class", "5xx"},
		{"method", "GET", "route", "/healthz", "status_class", "other"},
	} {
		if got := m.value("tallyq_http_request_duration_seconds", labels...); got != 1 {
			t.Errorf("requests %v = %v, want 1", labels, got)
		}
	}
}

func TestChunkOutcomesWithoutCounter(t *testing.T) {
	reg := metrics.New(metrics.Config{Operations: []string{opType}})
	for _, o := range []jobs.ChunkOutcome{jobs.ChunkOutcomeReleased, jobs.ChunkOutcomeNotRecorded} {
		reg.ChunkStarted(opType)
		reg.ChunkFinished(opType, o, time.Second)
	}
	reg.ChunkDeliveryDead(opType, jobs.ChunkOutcomeFailed)
	m := gathered(t, reg)
	for name, want := range map[string]float64{
		"tallyq_chunks_in_flight":       0,
		"tallyq_chunks_processed_total": 0,
		"tallyq_chunks_retried_total":   0,
		"tallyq_chunks_failed_total":    1, // the dead delivery
		"tallyq_chunk_duration_seconds": 0, // released and unrecorded attempts are not timed
	} {
		if got := m.value(name, "operation", opType); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
