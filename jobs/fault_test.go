package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/internal/testdb"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// Environment of a worker subprocess: the test binary re-executed.
const (
	envWorkerDB   = "TALLYQ_JOBS_TEST_WORKER_DB"
	envWorkerMode = "TALLYQ_JOBS_TEST_WORKER_MODE" // hang | die
	envWorkerAt   = "TALLYQ_JOBS_TEST_WORKER_CHUNK"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(envWorkerDB); url != "" {
		os.Exit(runWorkerProcess(url))
	}
	os.Exit(m.Run())
}

// runWorkerProcess is a worker process whose chunk envWorkerAt, on reaching
// its gate, announces itself (row + NOTIFY) and then hangs until killed
// (mode hang) or kills itself with SIGKILL as an OOM kill would (mode die).
func runWorkerProcess(url string) int {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer pool.Close()
	var at int
	fmt.Sscan(os.Getenv(envWorkerAt), &at)
	mode := os.Getenv(envWorkerMode)
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	broker, err := riverbroker.New(pool, testBrokerConfig(cfg))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e, _ := NewEngine(pool, broker, cfg)
	op := &sumOp{pool: pool, failUntil: map[int]int{}}
	op.gate = func(ctx context.Context, c Chunk) error {
		if c.Number != at || (mode == "hang" && c.Attempt > 1) {
			return nil
		}
		if _, err := pool.Exec(ctx, `WITH b AS (INSERT INTO test_barrier VALUES ($1, $2, $3)) SELECT pg_notify('test_barrier', '')`,
			c.JobID, c.Number, c.Attempt); err != nil {
			return err
		}
		if mode == "die" {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		<-ctx.Done() // hang: the parent kills us here
		return ctx.Err()
	}
	_ = e.Register(op)
	go func() { _ = e.RunMaintenance(ctx) }()
	// One slot in die mode, so that each death is the victim chunk's alone
	// and no healthy chunk loses attempts to it.
	concurrency := 2
	if mode == "die" {
		concurrency = 1
	}
	if err := e.RunWorkers(ctx, WorkerConfig{Concurrency: concurrency}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// workerProc is a running worker subprocess.
type workerProc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
}

func startWorkerProcess(t *testing.T, url, mode string, chunk int) *workerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorkerDB+"="+url, envWorkerMode+"="+mode, fmt.Sprintf("%s=%d", envWorkerAt, chunk))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &workerProc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *workerProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// listenBarrier subscribes to the barrier notifications of worker processes.
func listenBarrier(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(context.Background(), `LISTEN test_barrier`); err != nil {
		t.Fatal(err)
	}
	return conn
}

// (d) A worker process killed with SIGKILL while inside a chunk loses
// nothing: the chunk is handed out again and every chunk counts once.
func TestWorkerKilledInsideChunk(t *testing.T) {
	h := newHarness(t)
	url := testdb.URL(t)
	barrier := listenBarrier(t, url)
	const chunks, victim = 40, 5
	job := h.create(chunks)
	proc := startWorkerProcess(t, url, "hang", victim)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := barrier.WaitForNotification(ctx); err != nil {
		t.Fatalf("the worker never reached chunk %d: %v", victim, err)
	}
	var state string
	if err := h.pool.QueryRow(ctx, `SELECT state FROM job_chunks WHERE job_id = $1 AND chunk_no = $2`, job.JobID, victim).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "running" {
		t.Fatalf("chunk %d is %s at the barrier, want running", victim, state)
	}
	proc.kill()
	h.start(2) // a surviving worker picks the chunk up once its lease expires
	s := h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusCompleted || s.ProcessedChunks != chunks || s.FailedChunks != 0 {
		t.Fatalf("status %+v", s)
	}
	h.assertExact(job.JobID, chunks)
	var attempts int
	if err := h.pool.QueryRow(ctx, `SELECT attempts FROM job_chunks WHERE job_id = $1 AND chunk_no = $2`, job.JobID, victim).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("chunk %d took %d attempts, want 2 (the killed one and the next)", victim, attempts)
	}
}

// (g) A chunk that kills its worker on every attempt ends failed after the
// maximum attempts, instead of looping forever; the other chunks complete.
func TestChunkKillsWorkerEveryAttempt(t *testing.T) {
	h := newHarness(t)
	url := testdb.URL(t)
	const chunks, victim = 10, 3
	job := h.create(chunks)
	deaths := 0
	var s JobStatus
	for s = h.status(job.JobID); !s.Status.Terminal(); s = h.status(job.JobID) {
		if deaths > 10 {
			t.Fatalf("%d worker deaths and the job is still %s", deaths, s.Status)
		}
		proc := startWorkerProcess(t, url, "die", victim)
		h.waitFor(time.Minute, "the worker to die or the job to end", func() bool {
			select {
			case <-proc.exited:
				return true
			default:
				return h.status(job.JobID).Status.Terminal()
			}
		})
		select {
		case <-proc.exited:
			deaths++
		default:
		}
	}
	want := fmt.Sprintf("chunk %d failed after 3 attempts: attempt 3: worker lost (lease expired)", victim)
	if s.Status != StatusFailed || s.FailedChunks != 1 || s.ProcessedChunks != chunks-1 || s.ErrorMessage == nil || *s.ErrorMessage != want {
		t.Fatalf("status %+v (error %q), want FAILED with %q", s, deref(s.ErrorMessage, ""), want)
	}
	if deaths != 3 {
		t.Fatalf("%d worker deaths, want 3 (one per attempt)", deaths)
	}
}

func (h *harness) status(id [16]byte) JobStatus {
	h.t.Helper()
	s, err := h.engine.Status(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// (h) A small job created while a 100,000-chunk job runs finishes within a
// bounded number of chunk-times, not after the big one.
func TestFairness(t *testing.T) {
	h := newHarness(t)
	big := h.create(100_000)
	h.start(2)
	h.waitFor(time.Minute, "the big job to start", func() bool { return h.status(big.JobID).ProcessedChunks >= 50 })
	before := h.status(big.JobID).ProcessedChunks
	small := h.create(10)
	s := h.waitTerminal(small.JobID, time.Minute)
	after := h.status(big.JobID).ProcessedChunks
	if s.Status != StatusCompleted {
		t.Fatalf("small job %+v", s)
	}
	// Round-robin gives the big job about one chunk per small chunk; allow
	// for chunks already fetched and batching.
	if ran := after - before; ran > 300 {
		t.Fatalf("the big job ran %d chunks while the 10-chunk job waited", ran)
	} else {
		t.Logf("the big job ran %d chunks during the small job's life", ran)
	}
	if _, err := h.engine.Cancel(context.Background(), big.JobID, "test"); err != nil {
		t.Fatal(err)
	}
}

// A message River discards without the engine having settled it, or one
// whose worker died between River's fetch and the claim, counts as an
// attempt of its chunk: the chunk is queued again while it has attempts
// left, and failed after, so its job still ends.
func TestRiverDiscardedMessage(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	exhausted, retried, orphaned := h.create(2), h.create(2), h.create(2)
	for _, id := range []uuid.UUID{exhausted.JobID, retried.JobID} {
		tag, err := h.pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now()
			WHERE kind = $1 AND state = 'available' AND args->>'job_id' = $2 AND (args->>'chunk')::int = 1`,
			riverbroker.Kind, id.String())
		if err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("discard chunk 1's message: %v (%d rows)", err, tag.RowsAffected())
		}
	}
	// A worker took this message from River and died before claiming.
	tag, err := h.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 hour'
		WHERE kind = $1 AND state = 'available' AND args->>'job_id' = $2 AND (args->>'chunk')::int = 1`,
		riverbroker.Kind, orphaned.JobID.String())
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("orphan chunk 1's message: %v (%d rows)", err, tag.RowsAffected())
	}
	if _, err := h.pool.Exec(ctx, `UPDATE job_chunks SET attempts = 3 WHERE job_id = $1 AND chunk_no = 1`, exhausted.JobID); err != nil {
		t.Fatal(err)
	}
	h.start(1)
	s := h.waitTerminal(exhausted.JobID, time.Minute)
	if s.Status != StatusFailed || s.FailedChunks != 1 || s.ProcessedChunks != 1 || s.ErrorMessage == nil ||
		!strings.Contains(*s.ErrorMessage, "chunk 1 failed after 3 attempts: River discarded the message") {
		t.Fatalf("exhausted job: %+v (error %q)", s, deref(s.ErrorMessage, ""))
	}
	for _, id := range []uuid.UUID{retried.JobID, orphaned.JobID} {
		s = h.waitTerminal(id, time.Minute)
		if s.Status != StatusCompleted || s.ProcessedChunks != 2 {
			t.Fatalf("job %s: %+v", id, s)
		}
		h.assertExact(id, 2)
	}
}
