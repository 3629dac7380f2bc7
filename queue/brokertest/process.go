package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/jobs"
)

// Environment of a worker process: the test binary re-executed, running only
// the test that called Run.
const (
	envWorkerDB    = "TALLYQ_BROKERTEST_WORKER_DB"
	envWorkerMode  = "TALLYQ_BROKERTEST_WORKER_MODE" // hang, die or term
	envWorkerChunk = "TALLYQ_BROKERTEST_WORKER_CHUNK"
)

// Worker modes: at the victim chunk the worker announces itself and then
// hangs until it is killed (on the chunk's first attempt only), kills
// itself with SIGKILL, as an OOM kill would (on every attempt), or waits
// for the SIGTERM of a deployment's rolling restart and then finishes the
// chunk (first attempt only).
const (
	modeHang = "hang"
	modeDie  = "die"
	modeTerm = "term"
)

// workerGrace is a worker process's shutdown grace: long enough that a
// chunk finishing after SIGTERM always makes it.
const workerGrace = time.Minute

// barrierChannel is the Postgres notification channel on which a worker
// process announces that it has reached its victim chunk.
const barrierChannel = "brokertest_barrier"

// WorkerProcess reports whether this test binary runs as a worker process
// of the suite. Run then acts as the worker, and a TestMain should skip
// one-off set-up such as starting a broker node: the worker reaches the
// parent's node through the environment it inherits.
func WorkerProcess() bool { return os.Getenv(envWorkerDB) != "" }

// runWorkerProcess is the worker process: workers on the parent test's
// database whose victim chunk behaves as the mode says. It returns only
// when the worker cannot start.
func runWorkerProcess(t *testing.T, f Factory) {
	// The parent holds our stdin open; end with it, so that a killed test
	// binary leaves no worker behind.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	// SIGTERM stops the worker as it stops `tallyq worker`: no new chunks,
	// in-flight ones get the grace period.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pool, err := pgxpool.New(context.Background(), os.Getenv(envWorkerDB))
	if err != nil {
		t.Fatalf("worker process: %v", err)
	}
	t.Cleanup(pool.Close)
	victim, err := strconv.Atoi(os.Getenv(envWorkerChunk))
	if err != nil {
		t.Fatalf("worker process: %s: %v", envWorkerChunk, err)
	}
	mode := os.Getenv(envWorkerMode)
	h := newProcess(t, f, pool, engineConfig())
	h.SetGate(func(chunkCtx context.Context, c jobs.Chunk) error {
		if c.Number != victim || (mode != modeDie && c.Attempt > 1) {
			return nil
		}
		if _, err := pool.Exec(chunkCtx, `SELECT pg_notify($1, $2)`, barrierChannel, fmt.Sprintf("chunk %d attempt %d", c.Number, c.Attempt)); err != nil {
			return err
		}
		if mode == modeDie {
			if self, err := os.FindProcess(os.Getpid()); err == nil {
				_ = self.Kill()
			}
		}
		if mode == modeTerm {
			<-ctx.Done() // the parent's SIGTERM; the chunk then finishes
			return nil
		}
		<-chunkCtx.Done() // hang: the parent kills us here
		return chunkCtx.Err()
	})
	// One slot in die mode, so that each death is the victim chunk's alone
	// and no healthy chunk loses attempts to it.
	concurrency := 2
	if mode == modeDie {
		concurrency = 1
	}
	if err := h.Engine.RunWorkers(ctx, jobs.WorkerConfig{Concurrency: concurrency, ShutdownGrace: workerGrace}); err != nil {
		t.Fatalf("worker process: %v", err)
	}
}

// workerProcess is a running worker process.
type workerProcess struct {
	cmd *exec.Cmd
	// stdin stays open while the process should live (see runWorkerProcess).
	stdin  io.WriteCloser
	exited chan struct{} // closed once the process has exited
}

// startWorkerProcess starts a worker process on the harness's database
// whose chunk victim behaves as mode says. It is killed when the test ends;
// its output is logged then.
func (s suite) startWorkerProcess(t *testing.T, h *Harness, mode string, victim int) *workerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+s.runPattern)
	cmd.Env = append(os.Environ(),
		envWorkerDB+"="+testdb.URL(t), envWorkerMode+"="+mode, envWorkerChunk+"="+strconv.Itoa(victim))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a worker process: %v", err)
	}
	p := &workerProcess{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if out.Len() > 0 {
			t.Logf("worker process %d (%s at chunk %d) wrote:\n%s", cmd.Process.Pid, mode, victim, out.Bytes())
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *workerProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// terminate sends SIGTERM, waits for the process to exit and returns its
// exit status (-1 when a signal ended it).
func (p *workerProcess) terminate(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM the worker process: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(workerGrace + time.Minute):
		t.Fatalf("the worker process did not exit within %s of SIGTERM", workerGrace+time.Minute)
	}
	return p.cmd.ProcessState.ExitCode()
}

// killedBySignal reports whether the process, which has exited, was
// killed by a signal rather than exiting by itself.
func (p *workerProcess) killedBySignal() bool {
	<-p.exited
	return p.cmd.ProcessState.ExitCode() == -1
}

// dead reports whether the process has exited.
func (p *workerProcess) dead() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// listenBarrier subscribes to the barrier announcements of worker processes.
func listenBarrier(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testdb.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(context.Background(), `LISTEN `+barrierChannel); err != nil {
		t.Fatal(err)
	}
	return conn
}

// awaitBarrier waits until a worker process announces that it reached its
// victim chunk, failing the test if p exits first or a minute passes.
func awaitBarrier(t *testing.T, conn *pgx.Conn, p *workerProcess) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		select {
		case <-p.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	n, err := conn.WaitForNotification(ctx)
	switch {
	case err == nil:
		return n.Payload
	case p.dead():
		t.Fatalf("the worker process exited before it reached its chunk")
	case errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("the worker process did not reach its chunk within a minute")
	default:
		t.Fatalf("wait for the worker process: %v", err)
	}
	return ""
}
