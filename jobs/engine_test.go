package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
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

// The engine's behaviour through a broker (exact progress under
// concurrency, retries, poison chunks, cancel, completion once, duplicate
// delivery, stale claims, graceful shutdown, killed worker processes,
// fairness) is proven by the brokers' conformance suite, queue/brokertest,
// which runs this engine against every broker. The tests here check what
// needs the package's internals or is the engine's alone.

// sumOp is the test operation: each chunk records one row per application,
// so a double application shows. Its behaviour per chunk is scripted by the
// fields.
type sumOp struct {
	// poison makes a chunk panic on every attempt while it is true.
	poison sync.Map
	// gate, when set, is called before each chunk computes.
	gate func(ctx context.Context, c Chunk) error
	// timeout, when set, is the chunk timeout instead of a minute.
	timeout time.Duration
}

// untilClosed is a gate that holds every chunk until release is closed or
// the chunk's context ends.
func untilClosed(release <-chan struct{}) func(ctx context.Context, c Chunk) error {
	return func(ctx context.Context, c Chunk) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

const sumOpType = "TEST_SUM"

func (o *sumOp) Type() string { return sumOpType }
func (o *sumOp) ChunkTimeout() time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	return time.Minute
}

func (o *sumOp) Process(ctx context.Context, c Chunk) (Result, error) {
	if o.gate != nil {
		if err := o.gate(ctx, c); err != nil {
			return nil, err
		}
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
	_, err := tx.Exec(ctx, `INSERT INTO test_completions (job_id) VALUES ($1)`, job.JobID)
	return err
}

const testTables = `
	CREATE TABLE IF NOT EXISTS test_applied (job_id uuid NOT NULL, chunk_no int NOT NULL);
	CREATE TABLE IF NOT EXISTS test_completions (job_id uuid NOT NULL);`

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

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, testConfig())
}

// newHarnessWith is newHarness with an engine configuration of the test's own.
func newHarnessWith(t *testing.T, cfg Config) *harness {
	t.Helper()
	pool := testdb.New(t, testdb.WithMaxConns(40))
	if _, err := pool.Exec(context.Background(), testTables); err != nil {
		t.Fatal(err)
	}
	broker, err := riverbroker.New(pool, riverbroker.Config{
		Logger:            cfg.Logger,
		FetchPollInterval: 50 * time.Millisecond,
		DeadSweepInterval: 200 * time.Millisecond,
		OrphanAfter:       time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(pool, broker, cfg)
	if err != nil {
		t.Fatal(err)
	}
	op := &sumOp{}
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

// createUnsettled creates a job with no chunks inside a transaction of its
// own, as an operation would, so that nothing has settled it yet.
func (h *harness) createUnsettled() JobStatus {
	h.t.Helper()
	ctx := context.Background()
	var job JobStatus
	if err := pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		var err error
		job, err = h.engine.CreateJobTx(ctx, tx, CreateParams{OperationType: sumOpType, CreatedBy: "test"})
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	if job.Status != StatusQueued {
		h.t.Fatalf("created %+v, want QUEUED", job)
	}
	return job
}

// finalize raced from many goroutines runs the completion step once: the
// job's row lock and status guard it, not who saw the last count. (The
// conformance suite races the last chunks' commits in several processes.)
func TestFinalizeRacedCompletesOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	job := h.createUnsettled()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = h.engine.finalize(ctx, job.JobID) }()
	}
	wg.Wait()
	if s := h.status(job.JobID); s.Status != StatusCompleted || h.completions(job.JobID) != 1 {
		t.Fatalf("after 16 racing finalizations: %+v, %d completions", s, h.completions(job.JobID))
	}
	// CreateJob settles a job with no chunks itself, at once.
	if s := h.create(0); s.Status != StatusCompleted || h.completions(s.JobID) != 1 {
		t.Fatalf("a job of no chunks: %+v, %d completions", s, h.completions(s.JobID))
	}
}

// At the claim and commit themselves: a live lease cannot be claimed twice,
// a second delivery of a done chunk claims nothing, and neither a stale
// claim's commit nor a replayed commit applies anything.
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
	over := signalHandler{
		Handler: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}),
		msg:     "memory budget exceeded; taking no new chunk until the heap shrinks",
		seen:    make(chan struct{}),
		once:    &sync.Once{},
	}
	cfg := testConfig()
	cfg.Logger = slog.New(over)
	h := newHarnessWith(t, cfg)
	var (
		mu    sync.Mutex
		held  []byte
		first atomic.Bool
	)
	// Whichever chunk computes first leaves 96 MiB live, three times the
	// budget's headroom, so that no order of delivery and no garbage of
	// earlier tests counted in the budget lets the next chunk in.
	h.op.gate = func(ctx context.Context, c Chunk) error {
		if first.CompareAndSwap(false, true) {
			buf := make([]byte, 96<<20)
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
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM job_chunks WHERE job_id = $1 AND attempts > 0`, job.JobID).Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed != 1 {
		t.Fatalf("%d chunks claimed while over the budget, want only the first", claimed)
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
	job := h.createUnsettled()
	if err := h.engine.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if s := h.status(job.JobID); s.Status != StatusCompleted || h.completions(job.JobID) != 1 {
		t.Fatalf("after a maintenance pass: %+v, %d completions", s, h.completions(job.JobID))
	}
}

// A chunk that computes for longer than a lease keeps it: the heartbeat
// renews it, and the chunk commits once, on its first attempt.
func TestHeartbeatRenewsLease(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	h.op.gate = untilClosed(release)
	h.start(1)
	job := h.create(1)
	lease := func() (until time.Time, state string, attempts int) {
		if err := h.pool.QueryRow(context.Background(), `SELECT coalesce(lease_until, 'epoch'), state, attempts
			FROM job_chunks WHERE job_id = $1 AND chunk_no = 0`, job.JobID).Scan(&until, &state, &attempts); err != nil {
			t.Fatal(err)
		}
		return until, state, attempts
	}
	var first time.Time
	h.waitFor(30*time.Second, "the chunk to be claimed", func() bool {
		until, state, _ := lease()
		first = until
		return state == "running"
	})
	// Past the first lease's end, the lease must have moved on.
	h.waitFor(30*time.Second, "the lease to be renewed past its first end", func() bool {
		until, state, attempts := lease()
		if state != "running" || attempts != 1 {
			t.Fatalf("while computing: state %s after %d attempts; the lease was lost", state, attempts)
		}
		return until.After(first) && time.Now().After(first)
	})
	close(release)
	if s := h.waitTerminal(job.JobID, 30*time.Second); s.Status != StatusCompleted {
		t.Fatalf("job %s", s.Status)
	}
	if _, _, attempts := lease(); attempts != 1 {
		t.Fatalf("%d attempts; want the first one to commit", attempts)
	}
	h.assertExact(job.JobID, 1)
}

// A chunk that computes past its operation's timeout fails each attempt
// with an error that says so, then the job fails; the engine times the
// computation itself, whatever deadline the broker set.
func TestChunkTimeoutFailsTheAttempt(t *testing.T) {
	h := newHarness(t)
	h.op.timeout = 300 * time.Millisecond
	h.op.gate = untilClosed(make(chan struct{}))
	h.start(1)
	job := h.create(1)
	s := h.waitTerminal(job.JobID, time.Minute)
	var (
		lastError string
		attempts  int
	)
	if err := h.pool.QueryRow(context.Background(), `SELECT coalesce(last_error, ''), attempts FROM job_chunks WHERE job_id = $1`,
		job.JobID).Scan(&lastError, &attempts); err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusFailed || attempts != 3 || !strings.Contains(lastError, "chunk timed out after 300ms") {
		t.Fatalf("a chunk computing past its timeout: job %s after %d attempts, chunk error %q", s.Status, attempts, lastError)
	}
}

// Two deliveries of one chunk in one claim batch (a retry requeues a message
// beside its first) update one row: only one of them gets the claim.
func TestClaimBatchGivesADuplicateChunkOneClaim(t *testing.T) {
	h := newHarness(t)
	job := h.create(1)
	req := claimReq{jobID: job.JobID, chunk: 0}
	res := h.engine.claimBatch(context.Background(), []claimReq{req, req})
	var claimed int
	for _, r := range res {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.out.ok {
			claimed++
		}
	}
	if claimed != 1 {
		t.Fatalf("%d of two deliveries of one chunk claimed it in one batch, want 1", claimed)
	}
}

// A claim that finds its QUEUED job's row held (the maintenance loop
// settling it, say) claims the chunk without waiting for the row, then
// starts the job once the row is free: a job never reads QUEUED while its
// chunks run.
func TestClaimStartsAJobWhoseRowWasHeld(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	job := h.create(2)
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM election_jobs WHERE job_id = $1 FOR UPDATE`, job.JobID); err != nil {
		t.Fatal(err)
	}
	done := make(chan batchResult[claimOut], 1)
	go func() { done <- h.engine.claimBatch(ctx, []claimReq{{jobID: job.JobID, chunk: 0}})[0] }()
	// The claim has committed and waits for the row to start the job.
	h.waitFor(time.Minute, "the claim to wait for the job's row", func() bool {
		var state string
		var waiting int
		err := h.pool.QueryRow(ctx, `SELECT (SELECT state FROM job_chunks WHERE job_id = $1 AND chunk_no = 0),
			(SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%SET status = ''IN_PROGRESS''%')`,
			job.JobID).Scan(&state, &waiting)
		return err == nil && state == "running" && waiting == 1
	})
	if s := h.status(job.JobID); s.Status != StatusQueued {
		t.Fatalf("while its row is held the job is %s; the test holds nothing", s.Status)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || !r.out.ok {
		t.Fatalf("claim: %+v", r)
	}
	var started *time.Time
	if err := h.pool.QueryRow(ctx, `SELECT started_at FROM election_jobs WHERE job_id = $1`, job.JobID).Scan(&started); err != nil {
		t.Fatal(err)
	}
	if s := h.status(job.JobID); s.Status != StatusInProgress || started == nil {
		t.Fatalf("after the claim the job is %s, started at %v; want IN_PROGRESS with a start time", s.Status, started)
	}
}
