package rabbitmq_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/internal/testmq"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
	"github.com/tallyq/tallyq/queue/rabbitmq"
)

// envURL holds the URL of the node scripts/with-servers.sh starts; the
// worker subprocesses of process_test.go read it.
const envURL = testmq.EnvURL

// sharedURL is the node of the test run; tests that disturb the node
// (crash, closing connections) start a private one instead, since other
// packages' tests use the shared node at the same time.
func sharedURL(t *testing.T) string {
	t.Helper()
	return testmq.URL(t)
}

// node is a private RabbitMQ node run by scripts/rabbitmq.sh.
type node struct {
	t   *testing.T
	dir string
	url string
}

// privateNode starts a node of the test's own, destroyed when it ends.
func privateNode(t *testing.T) *node {
	t.Helper()
	sharedURL(t) // the same condition as every RabbitMQ test
	n := &node{t: t, dir: t.TempDir()}
	out := n.script("start", "--watch-pid", fmt.Sprint(os.Getpid()))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	n.url = lines[len(lines)-1]
	t.Cleanup(func() { n.script("destroy") })
	return n
}

func (n *node) script(args ...string) string {
	n.t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(n.t), "scripts", "rabbitmq.sh"), append([]string{args[0], n.dir}, args[1:]...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		n.t.Fatalf("scripts/rabbitmq.sh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// testOp is the tests' operation: each chunk inserts one row when its
// result is applied, so a chunk applied twice shows.
type testOp struct {
	// gate, when set, runs before a chunk computes.
	gate func(ctx context.Context, c jobs.Chunk) error
	// failing chunks fail on every attempt.
	failing map[int]bool
}

const testOpType = "TEST_COUNT"

func (o *testOp) Type() string                { return testOpType }
func (o *testOp) ChunkTimeout() time.Duration { return time.Minute }

func (o *testOp) Process(ctx context.Context, c jobs.Chunk) (jobs.Result, error) {
	if o.gate != nil {
		if err := o.gate(ctx, c); err != nil {
			return nil, err
		}
	}
	if o.failing[c.Number] {
		return nil, fmt.Errorf("chunk %d always fails", c.Number)
	}
	return jobs.ResultFunc(func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO test_applied (job_id, chunk_no) VALUES ($1, $2)`, c.JobID, c.Number)
		return err
	}), nil
}

func (o *testOp) Complete(context.Context, pgx.Tx, jobs.JobStatus) error { return nil }

// harness is one database and one queue prefix on one node.
type harness struct {
	t      *testing.T
	pool   *pgxpool.Pool
	url    string
	prefix string
	log    *slog.Logger
}

func newHarness(t *testing.T, url string) *harness {
	t.Helper()
	pool := testdb.New(t, testdb.WithMaxConns(40))
	if _, err := pool.Exec(context.Background(), `CREATE TABLE test_applied (job_id uuid NOT NULL, chunk_no int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	h := &harness{
		t: t, pool: pool, url: url,
		prefix: "test-" + hex.EncodeToString(b[:]),
		log:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	t.Cleanup(h.deleteQueues)
	return h
}

// config is the tests' broker configuration: short waits.
func (h *harness) config() rabbitmq.Config {
	return rabbitmq.Config{
		URL:          h.url,
		Operations:   []string{testOpType},
		QueuePrefix:  h.prefix,
		PollInterval: 50 * time.Millisecond,
		RetryDelay:   20 * time.Millisecond,
		Logger:       h.log,
	}
}

func (h *harness) broker(cfg rabbitmq.Config) *rabbitmq.Broker {
	h.t.Helper()
	b, err := rabbitmq.New(h.pool, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func engineConfig(log *slog.Logger) jobs.Config {
	return jobs.Config{
		MaxAttempts:   3,
		Lease:         2 * time.Second,
		BackoffBase:   10 * time.Millisecond,
		BackoffMax:    50 * time.Millisecond,
		SweepInterval: 100 * time.Millisecond,
		Logger:        log,
	}
}

func (h *harness) engine(b queue.Broker, op *testOp) *jobs.Engine {
	h.t.Helper()
	e, err := jobs.NewEngine(h.pool, b, engineConfig(h.log))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := e.Register(op); err != nil {
		h.t.Fatal(err)
	}
	return e
}

// run runs the engine's workers and maintenance until the test ends or the
// returned function is called.
func (h *harness) run(e *jobs.Engine, concurrency int) (stop func()) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := e.RunWorkers(ctx, jobs.WorkerConfig{Concurrency: concurrency, ShutdownGrace: 5 * time.Second}); err != nil {
			h.t.Errorf("RunWorkers: %v", err)
		}
	}()
	go func() { defer wg.Done(); _ = e.RunMaintenance(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	h.t.Cleanup(stop)
	return stop
}

func (h *harness) create(e *jobs.Engine, chunks, maxAttempts int) uuid.UUID {
	h.t.Helper()
	s, err := e.CreateJob(context.Background(), jobs.CreateParams{OperationType: testOpType, TotalChunks: chunks, CreatedBy: "test", MaxAttempts: maxAttempts})
	if err != nil {
		h.t.Fatal(err)
	}
	return s.JobID
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatus waits until the job is terminal and returns its status.
func (h *harness) waitTerminal(e *jobs.Engine, id uuid.UUID, within time.Duration) jobs.JobStatus {
	h.t.Helper()
	var s jobs.JobStatus
	eventually(h.t, within, "job "+id.String()+" to end", func() (bool, error) {
		var err error
		s, err = e.Status(context.Background(), id)
		return err == nil && s.Status.Terminal(), err
	})
	return s
}

func (h *harness) status(e *jobs.Engine, id uuid.UUID) jobs.JobStatus {
	h.t.Helper()
	s, err := e.Status(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// assertCountedOnce checks that the job completed with each chunk applied
// exactly once and counted.
func (h *harness) assertCountedOnce(e *jobs.Engine, id uuid.UUID, chunks int) {
	h.t.Helper()
	s := h.status(e, id)
	if s.Status != jobs.StatusCompleted || s.ProcessedChunks != chunks || s.FailedChunks != 0 {
		h.t.Fatalf("job: status %s, processed %d, failed %d; want COMPLETED, %d, 0 (error %v)", s.Status, s.ProcessedChunks, s.FailedChunks, chunks, s.ErrorMessage)
	}
	var rows, distinct int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT chunk_no) FROM test_applied WHERE job_id = $1`, id).Scan(&rows, &distinct); err != nil {
		h.t.Fatal(err)
	}
	if rows != chunks || distinct != chunks {
		h.t.Fatalf("applied %d results of %d distinct chunks; want %d of %d", rows, distinct, chunks, chunks)
	}
}

// assertRedeliveredNoneDead checks, after a consumer holding held
// messages was killed and the job completed, that those messages came
// again and none was dead-lettered.
func (h *harness) assertRedeliveredNoneDead(e *jobs.Engine, b *rabbitmq.Broker, watch *watchHandler, id uuid.UUID, chunks, held int) {
	h.t.Helper()
	h.waitTerminal(e, id, time.Minute)
	h.assertCountedOnce(e, id, chunks)
	if n := watch.redelivered.Load(); n < int64(held) {
		h.t.Fatalf("%d redeliveries; want at least the %d messages the killed consumer held", n, held)
	}
	if n := h.queueDepth(b.DeadQueue()); n != 0 {
		h.t.Fatalf("%d messages dead-lettered", n)
	}
}

// outboxRows counts the job's ranges in the outbox.
func (h *harness) outboxRows(id uuid.UUID) int {
	h.t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM amqp_outbox WHERE job_id = $1`, id).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// amqpChannel opens a raw channel to the harness's node.
func (h *harness) amqpChannel() (*amqp.Connection, *amqp.Channel) {
	h.t.Helper()
	conn, err := amqp.Dial(h.url)
	if err != nil {
		h.t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		h.t.Fatal(err)
	}
	return conn, ch
}

// consumeRaw consumes queue on a connection of its own with the given
// prefetch, acknowledging nothing, as another application would. A consume
// the node refuses with INTERNAL_ERROR (a quorum queue's consume timing out
// on a busy node, rabbitmq-server#14675) is tried again on a fresh
// connection for up to 30 s.
func (h *harness) consumeRaw(queue, tag string, prefetch int) (*amqp.Connection, <-chan amqp.Delivery) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, ch := h.amqpChannel()
		err := ch.Qos(prefetch, 0, false)
		var ds <-chan amqp.Delivery
		if err == nil {
			ds, err = ch.Consume(queue, tag, false, false, false, false, nil)
		}
		if err == nil {
			return conn, ds
		}
		conn.Close()
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.InternalError || time.Now().After(deadline) {
			h.t.Fatalf("consume %s: %v", queue, err)
		}
		h.t.Logf("consume %s refused by the node, trying again: %v", queue, err)
	}
}

// queueDepth returns the ready messages of a queue.
func (h *harness) queueDepth(name string) int {
	h.t.Helper()
	conn, ch := h.amqpChannel()
	defer conn.Close()
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		h.t.Fatalf("inspect queue %s: %v", name, err)
	}
	return q.Messages
}

// waitTopology waits until the broker's workers have declared its queues.
func (h *harness) waitTopology(b *rabbitmq.Broker) {
	h.t.Helper()
	eventually(h.t, 30*time.Second, "the queues to be declared", func() (bool, error) {
		conn, err := amqp.Dial(h.url)
		if err != nil {
			return false, err
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return false, err
		}
		_, err = ch.QueueDeclarePassive(b.QueueName(testOpType), true, false, false, false, nil)
		return err == nil, nil
	})
}

// deleteQueues removes the test's queues and exchanges from the node, if
// it is still there.
func (h *harness) deleteQueues() {
	conn, err := amqp.Dial(h.url)
	if err != nil {
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	for _, q := range []string{h.prefix + ".dead", h.prefix + "." + strings.ToLower(testOpType)} {
		_, _ = ch.QueueDelete(q, false, false, false)
	}
	_ = ch.ExchangeDelete(h.prefix, false, false)
	_ = ch.ExchangeDelete(h.prefix+".dlx", false, false)
}

// wrapped is a broker whose handler is wrapped, to watch or alter what the
// engine sees. It keeps the broker's batch settling.
type wrapped struct {
	*rabbitmq.Broker
	wrap func(queue.Handler) queue.Handler
}

func (w wrapped) Start(ctx context.Context, h queue.Handler, concurrency int) error {
	return w.Broker.Start(ctx, w.wrap(h), concurrency)
}

// watchHandler counts deliveries and may refuse some.
type watchHandler struct {
	queue.Handler
	deliveries  atomic.Int64
	redelivered atomic.Int64 // deliveries with Attempt > 1
	refuse      func(d *queue.Delivery) bool
}

func (w *watchHandler) HandleChunk(ctx context.Context, d *queue.Delivery) error {
	w.deliveries.Add(1)
	if d.Attempt > 1 {
		w.redelivered.Add(1)
	}
	if w.refuse != nil && w.refuse(d) {
		return fmt.Errorf("refusing %s: this worker cannot record anything", d.Message)
	}
	return w.Handler.HandleChunk(ctx, d)
}

// gate blocks chunks from a number on until it is opened, counting those it
// holds.
type gate struct {
	from    int
	open    chan struct{}
	once    sync.Once
	holding atomic.Int64
}

func newGate(from int) *gate { return &gate{from: from, open: make(chan struct{})} }

func (g *gate) wait(ctx context.Context, c jobs.Chunk) error {
	if c.Number < g.from {
		return nil
	}
	select {
	case <-g.open:
		return nil
	default:
	}
	g.holding.Add(1)
	defer g.holding.Add(-1)
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }
