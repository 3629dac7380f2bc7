// Package brokertest is the conformance suite of queue.Broker
// implementations, in the manner of Watermill's pub/sub tests: one set of
// tests that every broker passes, run with the real job engine (jobs.Engine)
// on a fresh Postgres database per test.
//
// A broker package calls Run from one test function:
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, brokertest.Factory{
//			Name: "river",
//			New: func(t testing.TB, pool *pgxpool.Pool, namespace string) queue.Broker {
//				b, err := riverbroker.New(pool, riverbroker.Config{Logger: brokertest.Logger()})
//				if err != nil {
//					t.Fatal(err)
//				}
//				return b
//			},
//		})
//	}
//
// That is all: the tests that kill a worker process re-execute the test
// binary, running only that test function, which Run then turns into a worker
// (see WorkerProcess). The worker inherits the environment, so a factory reads
// what it needs (say, the AMQP URL of the node the test harness started) from
// there. A TestMain that sets up something once per run, such as starting a
// broker node, skips that when WorkerProcess reports true and passes what
// the worker needs through the environment:
//
//	func TestMain(m *testing.M) {
//		if !brokertest.WorkerProcess() {
//			os.Setenv("TALLYQ_TEST_AMQP_URL", startNode()) // inherited by workers
//		}
//		os.Exit(m.Run())
//	}
//
// A broker's own tests (its node killed mid-job, say) build on the same
// ground with NewHarness: an engine with the test operation, on a fresh
// database, with helpers to create jobs, wait for them and check that every
// chunk was applied exactly once.
//
// Each chunk of the suite's test operation inserts one row into a table when
// its result is applied, so a chunk applied twice shows; every assertion
// compares the engine's counters with those rows.
package brokertest

import (
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
)

// Factory builds the broker under test.
type Factory struct {
	// Name is the broker's name, for messages.
	Name string
	// New returns a new broker whose engine state is in pool. The suite
	// calls it once per engine ("process"); several engines of one test
	// share pool and namespace and must exchange messages. namespace is
	// unique to the test and the same in the worker processes the test
	// starts: a broker that keeps messages outside Postgres (RabbitMQ)
	// prefixes its queues with it, so that tests running at the same time
	// do not consume each other's messages. New may register cleanups on t.
	New func(t testing.TB, pool *pgxpool.Pool, namespace string) queue.Broker
}

// Run runs the conformance suite against the factory's broker, one subtest
// per property. In a worker process started by the suite it runs that
// worker instead.
func Run(t *testing.T, f Factory) {
	if WorkerProcess() {
		runWorkerProcess(t, f)
		return
	}
	s := suite{f: f, runPattern: runPattern(t.Name())}
	for _, c := range []struct {
		name string
		test func(*testing.T)
	}{
		{"ExactProgressUnderConcurrency", s.exactProgressUnderConcurrency},
		{"EnqueueWindow", s.enqueueWindow},
		{"RetryThenSuccessCountedOnce", s.retryThenSuccess},
		{"PoisonChunkThenRetry", s.poisonChunkThenRetry},
		{"Cancel", s.cancel},
		{"CompletionRunsOnce", s.completionRunsOnce},
		{"DuplicateDelivery", s.duplicateDelivery},
		{"StaleClaim", s.staleClaim},
		{"GracefulShutdown", s.gracefulShutdown},
		{"WorkerTerminatedInsideChunk", s.workerTerminatedInsideChunk},
		{"WorkerKilledInsideChunk", s.workerKilledInsideChunk},
		{"ChunkKillsWorkerEveryAttempt", s.chunkKillsWorkerEveryAttempt},
		{"Fairness", s.fairness},
	} {
		t.Run(c.name, c.test)
	}
}

// suite is one run of the conformance tests.
type suite struct {
	f Factory
	// runPattern is the -test.run pattern that selects the test that
	// called Run, for worker processes.
	runPattern string
}

// runPattern returns the -test.run pattern matching exactly the test named
// name (subtest levels separated by slashes) and none of its subtests'
// siblings.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// Logger returns the logger of the suite's engines: warnings and errors to
// stderr. Factories may give it to their brokers.
func Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Engine settings of the suite: short enough that lost workers and retries
// resolve in seconds, long enough that a busy CI machine renews leases in
// time.
const (
	maxAttempts = 3
	lease       = 2 * time.Second
)

func engineConfig() jobs.Config {
	return jobs.Config{
		MaxAttempts:   maxAttempts,
		Lease:         lease,
		BackoffBase:   10 * time.Millisecond,
		BackoffMax:    50 * time.Millisecond,
		SweepInterval: 100 * time.Millisecond,
		Logger:        Logger(),
	}
}
