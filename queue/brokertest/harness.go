package brokertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
)

// Harness is one "process": a job engine with the suite's test operation
// registered and its own broker from the factory, on a test database. A
// broker package's own tests (a node killed mid-job, say) use it as the
// suite does.
type Harness struct {
	// Pool is the test's database.
	Pool *pgxpool.Pool
	// Engine is the process's engine.
	Engine *jobs.Engine
	// Broker is the broker the factory built for this process.
	Broker queue.Broker

	t         testing.TB
	f         Factory
	namespace string
	op        *op
	rec       *recorder
}

// NewHarness returns a process on a fresh database of the test's own.
func NewHarness(t testing.TB, f Factory) *Harness {
	t.Helper()
	return newHarness(t, f, engineConfig())
}

// newHarness is NewHarness with an engine configuration of the test's own.
func newHarness(t testing.TB, f Factory, cfg jobs.Config) *Harness {
	t.Helper()
	pool := testdb.New(t, testdb.WithMaxConns(40))
	if _, err := pool.Exec(context.Background(), testTables); err != nil {
		t.Fatalf("create the test operation's tables: %v", err)
	}
	return newProcess(t, f, pool, cfg)
}

// Process returns another process on the same database: its own engine,
// broker and test operation.
func (h *Harness) Process() *Harness {
	h.t.Helper()
	return newProcess(h.t, h.f, h.Pool, engineConfig())
}

// newProcess builds a process on pool whose engine has configuration cfg.
// The broker namespace is the database's name: unique to the test, and the
// same in the worker processes that connect to that database.
func newProcess(t testing.TB, f Factory, pool *pgxpool.Pool, cfg jobs.Config) *Harness {
	t.Helper()
	namespace := pool.Config().ConnConfig.Database
	broker := f.New(t, pool, namespace)
	rec := &recorder{}
	e, err := jobs.NewEngine(pool, recording(broker, rec), cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := newOp()
	if err := e.Register(o); err != nil {
		t.Fatal(err)
	}
	return &Harness{Pool: pool, Engine: e, Broker: broker, t: t, f: f, namespace: namespace, op: o, rec: rec}
}

// FailUntil makes the chunk numbered chunk fail its attempts up to attempt
// with a scripted error.
func (h *Harness) FailUntil(chunk, attempt int) {
	h.op.mu.Lock()
	defer h.op.mu.Unlock()
	h.op.failUntil[chunk] = attempt
}

// Poison makes the chunk numbered chunk panic on every attempt (on), or
// stops that (off).
func (h *Harness) Poison(chunk int, on bool) {
	h.op.mu.Lock()
	defer h.op.mu.Unlock()
	h.op.poison[chunk] = on
}

// SetGate makes every chunk call gate before it computes; an error fails
// the attempt.
func (h *Harness) SetGate(gate func(ctx context.Context, c jobs.Chunk) error) {
	h.op.mu.Lock()
	defer h.op.mu.Unlock()
	h.op.gate = gate
}

// Settled returns how many deliveries of m this process's handler settled
// (claimed and committed, or found nothing to do).
func (h *Harness) Settled(m queue.Message) int { return h.rec.count(m) }

// Start runs workers with the given number of chunk slots, and the
// maintenance loop, until the test ends.
func (h *Harness) Start(concurrency int) {
	h.t.Helper()
	h.StartWorkers(concurrency)
	h.StartMaintenance()
}

// StartWorkers runs workers until stop is called or the test ends. stop
// returns once the workers have stopped: chunks running at the stop have
// committed, or have been released after a 5-second grace period.
func (h *Harness) StartWorkers(concurrency int) (stop func()) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.Engine.RunWorkers(ctx, jobs.WorkerConfig{Concurrency: concurrency, ShutdownGrace: 5 * time.Second}); err != nil {
			h.t.Errorf("RunWorkers: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	h.t.Cleanup(stop)
	return stop
}

// StartMaintenance runs the maintenance loop until the test ends.
func (h *Harness) StartMaintenance() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Engine.RunMaintenance(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done })
}

// Create creates a job of the test operation with the given number of chunks.
func (h *Harness) Create(chunks int) jobs.JobStatus {
	h.t.Helper()
	s, err := h.Engine.CreateJob(context.Background(), jobs.CreateParams{OperationType: OpType, TotalChunks: chunks, CreatedBy: "brokertest"})
	if err != nil {
		h.t.Fatalf("CreateJob: %v", err)
	}
	return s
}

// Status returns the job's status.
func (h *Harness) Status(id uuid.UUID) jobs.JobStatus {
	h.t.Helper()
	s, err := h.Engine.Status(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// WaitFor polls cond until it holds, failing the test after timeout.
func (h *Harness) WaitFor(timeout time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// WaitTerminal waits until the job is COMPLETED, FAILED or CANCELLED and
// returns its status.
func (h *Harness) WaitTerminal(id uuid.UUID, timeout time.Duration) jobs.JobStatus {
	h.t.Helper()
	var s jobs.JobStatus
	h.WaitFor(timeout, "job "+id.String()+" to end", func() bool {
		s = h.Status(id)
		return s.Status.Terminal()
	})
	return s
}

// AssertExact fails the test unless each of the job's chunks 0 … chunks-1
// had its result applied exactly once.
func (h *Harness) AssertExact(id uuid.UUID, chunks int) {
	h.t.Helper()
	var rows, distinct int
	var sum int64
	err := h.Pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT chunk_no), coalesce(sum(chunk_no), 0)
		FROM brokertest_applied WHERE job_id = $1`, id).Scan(&rows, &distinct, &sum)
	if err != nil {
		h.t.Fatal(err)
	}
	want := int64(chunks) * int64(chunks-1) / 2
	if rows != chunks || distinct != chunks || sum != want {
		h.t.Fatalf("applications: %d rows, %d distinct chunks, sum of chunk numbers %d; want %d, %d, %d", rows, distinct, sum, chunks, chunks, want)
	}
}

// Completions returns how often the job's completion step committed.
func (h *Harness) Completions(id uuid.UUID) int {
	h.t.Helper()
	var n int
	if err := h.Pool.QueryRow(context.Background(), `SELECT count(*) FROM brokertest_completions WHERE job_id = $1`, id).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// chunkRow is a chunk's row as the engine keeps it.
type chunkRow struct {
	state     string
	attempts  int
	lastError *string
}

func (h *Harness) chunk(id uuid.UUID, n int) chunkRow {
	h.t.Helper()
	var c chunkRow
	if err := h.Pool.QueryRow(context.Background(), `SELECT state, attempts, last_error FROM job_chunks WHERE job_id = $1 AND chunk_no = $2`,
		id, n).Scan(&c.state, &c.attempts, &c.lastError); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// message is the chunk message of the job's chunk n.
func message(id uuid.UUID, n int) queue.Message {
	return queue.Message{JobID: id, Chunk: n, Operation: OpType}
}
