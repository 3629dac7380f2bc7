package bench

import (
	"context"
	"testing"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/internal/testmq"
	"github.com/tallyq/tallyq/queue/rabbitmq"
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
	// 200 chunks enqueued together on the default of 64 slots: too few to pack.
	if len(res.ChunksPerJob) != 1 || res.ChunksPerJob[0] != 1 {
		t.Fatalf("chunks per River job %v; want 1", res.ChunksPerJob)
	}
	if res.Postgres["fsync"] == "" {
		t.Fatalf("settings not read: %v", res.Postgres)
	}
	t.Logf("raw River %.0f/s, broker %.0f/s, ratio %.2f, create %d chunks in %.2fs",
		res.RawRiverMedian, res.BrokerMedian, res.Ratio, res.Config.CreateChunks, res.CreateSeconds)
}

// TestRabbitMQQueueScenarioTiny runs the RabbitMQ queue scenario at a tiny
// size on the test node; it checks the run, never its speed.
func TestRabbitMQQueueScenarioTiny(t *testing.T) {
	url := testmq.URL(t)
	pool := testdb.New(t, testdb.WithMaxConns(20))
	res, err := RunRabbitMQ(context.Background(), pool, RabbitMQConfig{URL: url, Chunks: 100, Workers: 4, Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RawAMQPPerSec) != 1 || len(res.BrokerPerSec) != 1 || len(res.RiverPerSec) != 1 ||
		res.RawAMQPMedian <= 0 || res.BrokerMedian <= 0 || res.RiverMedian <= 0 || res.Ratio <= 0 || res.RabbitMQServer == "" ||
		len(res.FloorPerSec) != 1 || res.FloorMedian <= 0 || res.FloorRatio <= 0 {
		t.Fatalf("incomplete result %+v", res)
	}
	// 100 chunks for 4 slots: the first messages carry several.
	if len(res.ChunksPerMessage) != 1 || res.ChunksPerMessage[0] <= 1 || res.ChunksPerMessage[0] > rabbitmq.DefaultChunksPerMessage {
		t.Fatalf("chunks per message %v; want more than 1, at most %d", res.ChunksPerMessage, rabbitmq.DefaultChunksPerMessage)
	}
}
