package rabbitmq_test

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
	"github.com/tallyq/tallyq/queue/rabbitmq"
)

// Environment of the worker process TestWorkerProcessKilled starts: the
// test binary again, running only TestWorkerProcess.
const (
	envWorkerDB     = "TALLYQ_RMQ_TEST_WORKER_DB"
	envWorkerPrefix = "TALLYQ_RMQ_TEST_WORKER_PREFIX"
	workerSlots     = 4
)

// TestWorkerProcess is the worker process: it takes chunks and holds each
// until it is killed. In an ordinary test run it does nothing.
func TestWorkerProcess(t *testing.T) {
	dbURL := os.Getenv(envWorkerDB)
	if dbURL == "" {
		return // not a worker process
	}
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rabbitmq.New(pool, rabbitmq.Config{URL: os.Getenv(envURL), Operations: []string{testOpType}, QueuePrefix: os.Getenv(envWorkerPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := jobs.NewEngine(pool, b, engineConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	hold := func(ctx context.Context, _ jobs.Chunk) error { <-ctx.Done(); return ctx.Err() }
	if err := e.Register(&testOp{gate: hold}); err != nil {
		t.Fatal(err)
	}
	_ = e.RunWorkers(context.Background(), jobs.WorkerConfig{Concurrency: workerSlots}) // until killed
}

// TestWorkerProcessKilled kills (SIGKILL) a worker process that holds
// prefetched messages, whose chunks it has claimed: RabbitMQ hands them out
// again with a raised delivery count, none is dead-lettered, and another
// worker completes the job with every chunk counted once.
func TestWorkerProcessKilled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	b := h.broker(h.config())
	watch := &watchHandler{}
	e := h.engine(wrapped{b, func(q queue.Handler) queue.Handler { watch.Handler = q; return watch }}, &testOp{})
	const chunks = 200
	id := h.create(e, chunks, 0)

	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envWorkerDB+"="+poolURL(h.pool), envWorkerPrefix+"="+h.prefix)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	eventually(t, time.Minute, "the worker process to hold its chunks", func() (bool, error) {
		var running int
		err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM job_chunks WHERE job_id = $1 AND state = 'running'`, id).Scan(&running)
		return running == workerSlots, err
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	h.run(e, 4)
	h.assertRedeliveredNoneDead(e, b, watch, id, chunks, workerSlots)
}

// poolURL is the connection string of pool's database.
func poolURL(pool *pgxpool.Pool) string { return pool.Config().ConnString() }
