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
	brokertest.Run(t, brokertest.Factory{Name: "river", New: newTestBroker})
}

// newTestBroker is a River broker that polls and sweeps often, so that lost
// workers and discarded messages show within the suite's timeouts. River
// keeps everything in the test's own database: the namespace is not needed.
func newTestBroker(t testing.TB, pool *pgxpool.Pool, _ string) queue.Broker {
	b, err := riverbroker.New(pool, riverbroker.Config{
		Logger:            brokertest.Logger(),
		FetchPollInterval: 50 * time.Millisecond,
		DeadSweepInterval: 200 * time.Millisecond,
		OrphanAfter:       time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
