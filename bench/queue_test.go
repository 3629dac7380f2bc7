package bench

import (
	"context"
	"testing"

	"github.com/tallyq/tallyq/internal/testdb"
)

// TestQueueScenarioTiny runs the queue scenario at a tiny size so that it
// keeps working; it asserts correctness of the run, never its speed.
func TestQueueScenarioTiny(t *testing.T) {
	pool := testdb.New(t, testdb.WithMaxConns(30))
	res, err := RunQueue(context.Background(), pool, QueueConfig{Chunks: 200, Workers: 4, Rounds: 1, CreateChunks: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RawRiverPerSec) != 1 || len(res.BrokerPerSec) != 1 || res.RawRiverMedian <= 0 || res.BrokerMedian <= 0 || res.CreateSeconds <= 0 {
		t.Fatalf("incomplete result %+v", res)
	}
	if res.Postgres["fsync"] == "" {
		t.Fatalf("settings not read: %v", res.Postgres)
	}
	t.Logf("raw River %.0f/s, broker %.0f/s, ratio %.2f, create %d chunks in %.2fs",
		res.RawRiverMedian, res.BrokerMedian, res.Ratio, res.Config.CreateChunks, res.CreateSeconds)
}
