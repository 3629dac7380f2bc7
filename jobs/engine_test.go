package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/queue"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// sumOp is the test operation: each chunk adds its number to its job's sum
// and records one row per application, so a double application shows in
// both. Its behaviour per chunk is scripted by the fields.
type sumOp struct {
	pool *pgxpool.Pool
	// failUntil makes a chunk fail while its attempt is ≤ the value.
	failUntil map[int]int
	// poison makes a chunk panic on every attempt while it is true.
	poison sync.Map
	// gate, when set, is called before each chunk computes.
	gate func(ctx context.Context, c Chunk) error
	// completions counts Complete calls per job.
	completions sync.Map
}

const sumOpType = "TEST_SUM"

func (o *sumOp) Type() string                { return sumOpType }
func (o *sumOp) ChunkTimeout() time.Duration { return time.Minute }

func (o *sumOp) Process(ctx context.Context, c Chunk) (Result, error) {
	if o.gate != nil {
		if err := o.gate(ctx, c); err != nil {
			return nil, err
		}
	}
	if c.Attempt <= o.failUntil[c.Number] {
		return nil, fmt.Errorf("scripted failure of chunk %d attempt %d", c.Number, c.Attempt)
	}
	if p, _ := o.poison.Load(c.Number); p == true {
		panic(fmt.Sprintf("poison chunk %d", c.Number))
	}
	return ResultFunc(func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO test_applied (job_id, chunk_no) VALUES ($1, $2)`, c.JobID, c.Number)
		return err
	}), nil
}

func (o *sumOp) Complete(ctx context.Context, tx pgx.Tx, job JobStatus) error {
	n, _ := o.completions.LoadOrStore(job.JobID, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	_, err := tx.Exec(ctx, `INSERT INTO test_completions (job_id) VALUES ($1)`, job.JobID)
	return err
}

const testTables = `
	CREATE TABLE IF NOT EXISTS test_applied (job_id uuid NOT NULL, chunk_no int NOT NULL);
	CREATE TABLE IF NOT EXISTS test_completions (job_id uuid NOT NULL);
	CREATE TABLE IF NOT EXISTS test_barrier (job_id uuid NOT NULL, chunk_no int NOT NULL, attempt int NOT NULL);`

// harness is one engine with its broker on a fresh database.
type harness struct {
	t      *testing.T
	pool   *pgxpool.Pool
	engine *Engine
	op     *sumOp
}

func testConfig() Config {
	return Config{
		MaxAttempts:   3,
		Lease:         2 * time.Second,
		BackoffBase:   10 * time.Millisecond,
		BackoffMax:    50 * time.Millisecond,
		SweepInterval: 100 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

func testBrokerConfig(cfg Config) riverbroker.Config {
	return riverbroker.Config{
		Logger:            cfg.Logger,
		FetchPollInterval: 50 * time.Millisecond,
		DeadSweepInterval: 200 * time.Millisecond,
		OrphanAfter:       time.Second,
	}
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	pool := testdb.New(t, testdb.WithMaxConns(40))
	if _, err := pool.Exec(context.Background(), testTables); err != nil {
		t.Fatal(err)
	}
	return attach(t, pool)
}

// attach builds another engine (another "process") on the same database.
func attach(t *testing.T, pool *pgxpool.Pool) *harness {
	t.Helper()
	return attachWith(t, pool, testConfig())
}

// attachWith is attach with an engine configuration of the test's own.
func attachWith(t *testing.T, pool *pgxpool.Pool, cfg Config) *harness {
	t.Helper()
	broker, err := riverbroker.New(pool, testBrokerConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(pool, broker, cfg)
	if err != nil {
		t.Fatal(err)
	}
	op := &sumOp{pool: pool, failUntil: map[int]int{}}
	if err := e.Register(op); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, pool: pool, engine: e, op: op}
}

// start runs workers and maintenance until the test ends.
func (h *harness) start(concurrency int) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := h.engine.RunWorkers(ctx, WorkerConfig{Concurrency: concurrency, ShutdownGrace: 5 * time.Second}); err != nil {
			h.t.Errorf("RunWorkers: %v", err)
		}
	}()
	go func() { defer wg.Done(); _ = h.engine.RunMaintenance(ctx) }()
	h.t.Cleanup(func() { cancel(); wg.Wait() })
}

func (h *harness) create(chunks int) JobStatus {
	h.t.Helper()
	s, err := h.engine.CreateJob(context.Background(), CreateParams{OperationType: sumOpType, TotalChunks: chunks, CreatedBy: "test"})
	if err != nil {
		h.t.Fatalf("CreateJob: %v", err)
	}
	return s
}

// waitFor polls cond until it holds, failing the test after timeout.
func (h *harness) waitFor(timeout time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-t.C
	}
}

func (h *harness) waitTerminal(id uuid.UUID, timeout time.Duration) JobStatus {
	h.t.Helper()
	var s JobStatus
	h.waitFor(timeout, "job "+id.String()+" to end", func() bool {
		var err error
		s, err = h.engine.Status(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		return s.Status.Terminal()
	})
	return s
}

// applied returns how many applications the job's chunks had and their sum.
func (h *harness) applied(id uuid.UUID) (rows, distinct int, sum int64) {
	h.t.Helper()
	err := h.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT chunk_no), coalesce(sum(chunk_no), 0)
		FROM test_applied WHERE job_id = $1`, id).Scan(&rows, &distinct, &sum)
	if err != nil {
		h.t.Fatal(err)
	}
	return rows, distinct, sum
}

func (h *harness) assertExact(id uuid.UUID, chunks int) {
	h.t.Helper()
	rows, distinct, sum := h.applied(id)
	want := int64(chunks) * int64(chunks-1) / 2
	if rows != chunks || distinct != chunks || sum != want {
		h.t.Fatalf("applications: %d rows, %d distinct chunks, sum %d; want %d, %d, %d", rows, distinct, sum, chunks, chunks, want)
	}
}

func (h *harness) completions(id uuid.UUID) int {
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM test_completions WHERE job_id = $1`, id).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// (a) With 4 workers and 2,000 chunks, every poll sees processedChunks equal
// to the number of committed applications, in one snapshot.
func TestExactProgressUnderConcurrency(t *testing.T) {
	h := newHarness(t)
	other := attach(t, h.pool) // a second "process" competing for chunks
	h.start(2)
	other.start(2)
	const chunks = 2000
	job := h.create(chunks)
	ctx := context.Background()
	polls, mid := 0, 0
	for {
		var (
			s       JobStatus
			applied int
		)
		err := pgx.BeginTxFunc(ctx, h.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			var err error
			if s, err = statusOf(ctx, tx, job.JobID); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT count(*) FROM test_applied WHERE job_id = $1`, job.JobID).Scan(&applied)
		})
		if err != nil {
			t.Fatal(err)
		}
		polls++
		if s.ProcessedChunks != applied {
			t.Fatalf("poll %d: processedChunks %d but %d results committed", polls, s.ProcessedChunks, applied)
		}
		if s.ProcessedChunks > 0 && s.ProcessedChunks < chunks {
			mid++
		}
		if s.Status.Terminal() {
			if s.Status != StatusCompleted || s.ProcessedChunks != chunks || s.FailedChunks != 0 || s.ProgressPercent != 100 {
				t.Fatalf("final status %+v", s)
			}
			break
		}
	}
	if mid == 0 {
		t.Fatalf("no poll of %d saw the job in progress; the test proved nothing", polls)
	}
	h.assertExact(job.JobID, chunks)
	if n := h.completions(job.JobID); n != 1 {
		t.Fatalf("completion step ran %d times", n)
	}
	t.Logf("%d polls, %d while in progress", polls, mid)
}

// (b) A chunk that fails twice, then succeeds, is counted once.
func TestChunkRetriedThenSucceeds(t *testing.T) {
	h := newHarness(t)
	h.op.failUntil[3] = 2
	h.start(2)
	job := h.create(10)
	s := h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusCompleted || s.ProcessedChunks != 10 || s.FailedChunks != 0 {
		t.Fatalf("status %+v", s)
	}
	h.assertExact(job.JobID, 10)
	var attempts int
	var lastErr *string
	if err := h.pool.QueryRow(context.Background(), `SELECT attempts, last_error FROM job_chunks WHERE job_id = $1 AND chunk_no = 3`,
		job.JobID).Scan(&attempts, &lastErr); err != nil {
		t.Fatal(err)
	}
	if attempts != 3 || lastErr == nil || *lastErr != "attempt 2: scripted failure of chunk 3 attempt 2" {
		t.Fatalf("chunk 3: attempts %d, last error %v", attempts, deref(lastErr, "<nil>"))
	}
}

// (c) A poison chunk fails the job with its error while the others complete;
// retrying after the cause is gone completes the job.
func TestPoisonChunkThenRetry(t *testing.T) {
	h := newHarness(t)
	h.op.poison.Store(7, true)
	h.start(2)
	job := h.create(20)
	s := h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusFailed || s.ProcessedChunks != 19 || s.FailedChunks != 1 {
		t.Fatalf("status %+v", s)
	}
	want := "chunk 7 failed after 3 attempts: attempt 3: panic: poison chunk 7"
	if s.ErrorMessage == nil || *s.ErrorMessage != want {
		t.Fatalf("errorMessage %q, want %q", deref(s.ErrorMessage, "<nil>"), want)
	}
	if s.ProgressPercent != 95 {
		t.Fatalf("progressPercent %v, want 95", s.ProgressPercent)
	}
	if _, err := h.engine.Retry(context.Background(), job.JobID, "test"); err != nil {
		t.Fatalf("retry while poisoned: %v", err)
	}
	// Still poisoned: fails again, and only chunk 7 ran again.
	s = h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusFailed || s.ProcessedChunks != 19 {
		t.Fatalf("after first retry: %+v", s)
	}
	h.op.poison.Store(7, false)
	r, err := h.engine.Retry(context.Background(), job.JobID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusInProgress || r.FailedChunks != 0 {
		t.Fatalf("retried job: %+v", r)
	}
	s = h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusCompleted || s.ProcessedChunks != 20 || s.FailedChunks != 0 || s.ErrorMessage != nil {
		t.Fatalf("status after retry %+v", s)
	}
	h.assertExact(job.JobID, 20)
	if _, err := h.engine.Retry(context.Background(), job.JobID, "test"); !errors.Is(err, ErrConflict) {
		t.Fatalf("retry of a completed job: %v, want ErrConflict", err)
	}
}

// (i) Cancel stops pending chunks; running ones finish and are counted.
func TestCancel(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	var started atomic.Int64
	h.op.gate = func(ctx context.Context, c Chunk) error {
		started.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.start(2)
	job := h.create(50)
	h.waitFor(30*time.Second, "two chunks to be running", func() bool { return started.Load() >= 2 })
	s, err := h.engine.Cancel(context.Background(), job.JobID, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusCancelled || s.ErrorMessage == nil || *s.ErrorMessage != "cancelled by tester" {
		t.Fatalf("cancelled status %+v", s)
	}
	close(release)
	// The two running chunks commit; nothing else runs.
	h.waitFor(30*time.Second, "running chunks to settle", func() bool {
		var running int
		_ = h.pool.QueryRow(context.Background(), `SELECT count(*) FROM job_chunks WHERE job_id = $1 AND state = 'running'`, job.JobID).Scan(&running)
		return running == 0
	})
	var cancelled, done int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE state = 'cancelled'), count(*) FILTER (WHERE state = 'done')
		FROM job_chunks WHERE job_id = $1`, job.JobID).Scan(&cancelled, &done); err != nil {
		t.Fatal(err)
	}
	s, _ = h.engine.Status(context.Background(), job.JobID)
	if done+cancelled != 50 || s.ProcessedChunks != done || s.Status != StatusCancelled {
		t.Fatalf("after cancel: %d done, %d cancelled, status %+v", done, cancelled, s)
	}
	if _, err := h.engine.Cancel(context.Background(), job.JobID, "tester"); !errors.Is(err, ErrConflict) {
		t.Fatalf("second cancel: %v, want ErrConflict", err)
	}
	// Retrying a cancelled job resumes only its unfinished chunks.
	if _, err := h.engine.Retry(context.Background(), job.JobID, "tester"); err != nil {
		t.Fatal(err)
	}
	s = h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusCompleted || s.ProcessedChunks != 50 {
		t.Fatalf("after retry: %+v", s)
	}
	h.assertExact(job.JobID, 50)
}

// (f) When many last chunks commit at the same moment, in several
// processes, the completion step runs once.
func TestCompletionRunsOnce(t *testing.T) {
	h := newHarness(t)
	others := []*harness{attach(t, h.pool), attach(t, h.pool)}
	const chunks = 12
	var arrived sync.WaitGroup
	arrived.Add(chunks)
	barrier := func(ctx context.Context, c Chunk) error {
		arrived.Done()
		arrived.Wait() // every chunk computes, then all commit together
		return nil
	}
	for _, x := range append(others, h) {
		x.op.gate = barrier
		x.start(4)
	}
	job := h.create(chunks)
	s := h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusCompleted || s.ProcessedChunks != chunks {
		t.Fatalf("status %+v", s)
	}
	if n := h.completions(job.JobID); n != 1 {
		t.Fatalf("completion step committed %d times", n)
	}
	// And finalize raced directly from many goroutines still runs it once.
	job2 := h.create(0)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = h.engine.finalize(context.Background(), job2.JobID) }()
	}
	wg.Wait()
	if n := h.completions(job2.JobID); n != 1 {
		t.Fatalf("empty job's completion step committed %d times", n)
	}
}

// (e) A second delivery of a done chunk, and a late worker whose claim went
// stale, change nothing.
func TestDuplicateDeliveryAndStaleClaim(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	job := h.create(3)
	claim := func(chunk int) claimOut {
		t.Helper()
		r := h.engine.claimBatch(ctx, []claimReq{{jobID: job.JobID, chunk: chunk}})[0]
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.out
	}
	commit := func(chunk int, c claimOut) bool {
		t.Helper()
		res, err := h.op.Process(ctx, Chunk{JobID: job.JobID, Number: chunk, Attempt: c.attempts})
		if err != nil {
			t.Fatal(err)
		}
		r := h.engine.commitBatch(ctx, []commitReq{{delivery: nilDelivery(job.JobID, chunk), jobID: job.JobID, chunk: chunk, claim: c.claim, outcome: outcomeDone, result: res}})[0]
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.out.applied
	}
	// Worker A claims chunk 0, then stalls past its lease; B reclaims it.
	a := claim(0)
	if !a.ok || a.attempts != 1 {
		t.Fatalf("first claim %+v", a)
	}
	if c := claim(0); c.ok {
		t.Fatal("a live lease was claimed twice")
	}
	if _, err := h.pool.Exec(ctx, `UPDATE job_chunks SET lease_until = now() - interval '1 second' WHERE job_id = $1 AND chunk_no = 0`, job.JobID); err != nil {
		t.Fatal(err)
	}
	b := claim(0)
	if !b.ok || b.attempts != 2 || b.claim == a.claim {
		t.Fatalf("reclaim %+v", b)
	}
	if commit(0, a) {
		t.Fatal("the stale claim's result was applied")
	}
	if !commit(0, b) {
		t.Fatal("the valid claim's result was not applied")
	}
	// A redelivery of the done chunk cannot claim it, and a replayed commit
	// of the valid claim applies nothing.
	if c := claim(0); c.ok {
		t.Fatal("a done chunk was claimed again")
	}
	if commit(0, b) {
		t.Fatal("a replayed commit was applied twice")
	}
	s, _ := h.engine.Status(ctx, job.JobID)
	if rows, _, _ := h.applied(job.JobID); rows != 1 || s.ProcessedChunks != 1 {
		t.Fatalf("after duplicates: %d applications, processedChunks %d", rows, s.ProcessedChunks)
	}
}

func nilDelivery(job uuid.UUID, chunk int) *queue.Delivery {
	return queue.NewDelivery(queue.Message{JobID: job, Chunk: chunk, Operation: sumOpType}, 1, nil, nil)
}

// On shutdown a worker stops fetching, lets a chunk that finishes within the
// grace period commit, and gives back one that does not: the released chunk
// keeps its attempt and runs again elsewhere, counted once.
func TestGracefulShutdown(t *testing.T) {
	h := newHarness(t)
	finishing, stuck := make(chan struct{}), make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(2)
	h.op.gate = func(ctx context.Context, c Chunk) error {
		switch c.Number {
		case 0: // finishes once shutdown has begun
			entered.Done()
			<-finishing
			return nil
		case 1: // outlasts the grace period
			entered.Done()
			<-ctx.Done()
			close(stuck)
			return ctx.Err()
		}
		return nil
	}
	job := h.create(2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- h.engine.RunWorkers(ctx, WorkerConfig{Concurrency: 2, ShutdownGrace: 300 * time.Millisecond})
	}()
	entered.Wait()
	cancel()
	close(finishing)
	if err := <-done; err != nil {
		t.Fatalf("RunWorkers after shutdown: %v", err)
	}
	<-stuck
	var state0, state1 string
	var attempts1 int
	if err := h.pool.QueryRow(context.Background(), `SELECT
		(SELECT state FROM job_chunks WHERE job_id = $1 AND chunk_no = 0),
		(SELECT state FROM job_chunks WHERE job_id = $1 AND chunk_no = 1),
		(SELECT attempts FROM job_chunks WHERE job_id = $1 AND chunk_no = 1)`, job.JobID).Scan(&state0, &state1, &attempts1); err != nil {
		t.Fatal(err)
	}
	if state0 != "done" || state1 != "pending" || attempts1 != 0 {
		t.Fatalf("after shutdown: chunk 0 %s, chunk 1 %s with %d attempts; want done, pending with 0", state0, state1, attempts1)
	}
	// Another process picks the released chunk up.
	next := attach(t, h.pool)
	next.start(1)
	s := h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusCompleted || s.ProcessedChunks != 2 {
		t.Fatalf("status %+v", s)
	}
	h.assertExact(job.JobID, 2)
}

// signalHandler is a slog handler that reports records with a given
// message on a channel, so a test can wait for the engine to reach a point.
type signalHandler struct {
	slog.Handler
	msg  string
	seen chan struct{}
	once *sync.Once
}

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.seen) })
	}
	return h.Handler.Handle(ctx, r)
}

func (h signalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return signalHandler{h.Handler.WithAttrs(as), h.msg, h.seen, h.once}
}

// A worker whose heap is over its memory budget takes no new chunk until
// the heap shrinks, then goes on.
func TestMemoryBudgetHoldsNewChunks(t *testing.T) {
	pool := testdb.New(t, testdb.WithMaxConns(20))
	if _, err := pool.Exec(context.Background(), testTables); err != nil {
		t.Fatal(err)
	}
	over := signalHandler{
		Handler: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}),
		msg:     "memory budget exceeded; taking no new chunk until the heap shrinks",
		seen:    make(chan struct{}),
		once:    &sync.Once{},
	}
	cfg := testConfig()
	cfg.Logger = slog.New(over)
	h := attachWith(t, pool, cfg)
	var (
		mu   sync.Mutex
		held []byte
	)
	h.op.gate = func(ctx context.Context, c Chunk) error {
		if c.Number == 0 { // a chunk whose result leaves 64 MiB live
			buf := make([]byte, 64<<20)
			for i := range buf {
				buf[i] = byte(i)
			}
			mu.Lock()
			held = buf
			mu.Unlock()
		}
		return nil
	}
	job := h.create(5)
	runtime.GC()
	budget := int64(liveHeap()) + 32<<20
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.engine.RunWorkers(ctx, WorkerConfig{Concurrency: 1, MemoryBudget: budget}) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-over.seen:
	case <-time.After(time.Minute):
		t.Fatal("the worker never found its heap over the budget")
	}
	var claimed int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM job_chunks WHERE job_id = $1 AND attempts > 0`, job.JobID).Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed != 1 {
		t.Fatalf("%d chunks claimed while over the budget, want only chunk 0", claimed)
	}
	mu.Lock()
	held = nil
	mu.Unlock()
	s := h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusCompleted || s.ProcessedChunks != 5 {
		t.Fatalf("status %+v", s)
	}
	h.assertExact(job.JobID, 5)
	_ = held
}

// The maintenance loop settles a job whose last commit never settled it
// (its process died in between): here, a job with no chunks created inside a
// caller's transaction, which nothing else finalizes.
func TestMaintenanceSettlesUnsettledJobs(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var job JobStatus
	if err := pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		var err error
		job, err = h.engine.CreateJobTx(ctx, tx, CreateParams{OperationType: sumOpType, CreatedBy: "test"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if job.Status != StatusQueued {
		t.Fatalf("created %+v", job)
	}
	if err := h.engine.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if s := h.status(job.JobID); s.Status != StatusCompleted || h.completions(job.JobID) != 1 {
		t.Fatalf("after a maintenance pass: %+v, %d completions", s, h.completions(job.JobID))
	}
}
