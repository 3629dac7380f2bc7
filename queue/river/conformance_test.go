package riverbroker_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/queue"
	"github.com/tallyq/tallyq/queue/brokertest"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// TestConformance runs the brokers' conformance suite against River.
func TestConformance(t *testing.T) {
	brokertest.Run(t, brokertest.Factory{Name: "river", New: newTestBroker(riverbroker.Config{})})
}

// TestConformancePacked runs the suite with River jobs of up to four chunks
// whenever a run of chunks enqueued together has 16 or more: the suite's
// jobs are small, and at the default only runs of hundreds are packed. Its
// killed and stopped workers leave jobs of several chunks half done. (A job
// of 12 chunks on 12 slots, which CompletionRunsOnce needs computing at
// once, is not packed.)
func TestConformancePacked(t *testing.T) {
	brokertest.Run(t, brokertest.Factory{Name: "river-packed", New: newTestBroker(riverbroker.Config{ChunksPerMessage: 4, PackSlots: 4})})
}

// newTestBroker returns a factory of River brokers configured as cfg that
// poll and sweep often, so that lost workers and discarded messages show
// within the suite's timeouts. River keeps everything in the test's own
// database: the namespace is not needed.
func newTestBroker(cfg riverbroker.Config) func(t testing.TB, pool *pgxpool.Pool, _ string) queue.Broker {
	return func(t testing.TB, pool *pgxpool.Pool, _ string) queue.Broker {
		cfg.Logger = brokertest.Logger()
		cfg.FetchPollInterval = 50 * time.Millisecond
		cfg.DeadSweepInterval = 200 * time.Millisecond
		cfg.OrphanAfter = time.Second
		b, err := riverbroker.New(pool, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}
