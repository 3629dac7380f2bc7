package election

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/eg/verify"
	"github.com/tallyq/tallyq/internal/seal"
	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/jobs"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// harness is an election service with its engine, workers and maintenance
// running on a fresh database.
type harness struct {
	t      *testing.T
	pool   *pgxpool.Pool
	engine *jobs.Engine
	svc    *Service
}

type harnessOptions struct {
	chunkSize int
	noKey     bool
	workers   int
	logger    *slog.Logger
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	pool := testdb.New(t, testdb.WithMaxConns(20))
	return attachHarness(t, pool, o)
}

// attachHarness runs another service ("process") on the same database.
func attachHarness(t *testing.T, pool *pgxpool.Pool, o harnessOptions) *harness {
	t.Helper()
	if o.logger == nil {
		o.logger = testLogger()
	}
	broker, err := riverbroker.New(pool, riverbroker.Config{Logger: o.logger, FetchPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := jobs.NewEngine(pool, broker, jobs.Config{MaxAttempts: 3, Lease: 30 * time.Second,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond, SweepInterval: 100 * time.Millisecond, Logger: o.logger})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ChunkSize: o.chunkSize, Logger: o.logger}
	if !o.noKey {
		key := testKey()
		cfg.SecretKey = &key
	}
	svc, err := New(pool, engine, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, pool: pool, engine: engine, svc: svc}
	if o.workers >= 0 {
		h.start(max(o.workers, 2))
	}
	return h
}

// testKey is one sealing key per test binary, so that harnesses attached
// to the same database can open each other's secrets.
var testKey = sync.OnceValue(func() seal.Key {
	b := make([]byte, seal.KeySize)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	k, err := seal.ParseKey(hex.EncodeToString(b))
	if err != nil {
		panic(err)
	}
	return k
})

// start runs workers and maintenance until the returned stop is called or
// the test ends.
func (h *harness) start(concurrency int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := h.engine.RunWorkers(ctx, jobs.WorkerConfig{Concurrency: concurrency, ShutdownGrace: 5 * time.Second}); err != nil {
			h.t.Errorf("RunWorkers: %v", err)
		}
	}()
	go func() { defer wg.Done(); _ = h.engine.RunMaintenance(ctx) }()
	stop = func() { cancel(); wg.Wait() }
	h.t.Cleanup(stop)
	return stop
}

// wait polls a job until it is terminal and fails the test unless it completed.
func (h *harness) wait(id uuid.UUID) jobs.JobStatus {
	h.t.Helper()
	s := h.waitTerminal(id, 5*time.Minute)
	if s.Status != jobs.StatusCompleted {
		msg := ""
		if s.ErrorMessage != nil {
			msg = *s.ErrorMessage
		}
		h.t.Fatalf("job %s (%s) ended %s: %s", id, s.OperationType, s.Status, msg)
	}
	if s.ProcessedChunks != s.TotalChunks || s.FailedChunks != 0 {
		h.t.Fatalf("job %s completed with %d of %d chunks processed, %d failed", id, s.ProcessedChunks, s.TotalChunks, s.FailedChunks)
	}
	return s
}

func (h *harness) waitTerminal(id uuid.UUID, timeout time.Duration) jobs.JobStatus {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := h.engine.Status(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if s.Status.Terminal() {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s still %s after %s (%d/%d chunks)", id, s.Status, timeout, s.ProcessedChunks, s.TotalChunks)
		}
		<-tick.C
	}
}

// verifyExport exports an election and checks the record with the
// independent verifier, which must find nothing wrong.
func (h *harness) verifyExport(id int64) (string, *verify.Report) {
	h.t.Helper()
	out := h.t.TempDir()
	if err := h.svc.Export(context.Background(), id, record.NewWriter(out, "")); err != nil {
		h.t.Fatal(err)
	}
	rep, err := verify.Dir(context.Background(), out, verify.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		h.t.Fatalf("tallyq verify refuses the export: %v", err)
	}
	return out, rep
}
