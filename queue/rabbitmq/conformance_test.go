package rabbitmq_test

import (
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/queue"
	"github.com/tallyq/tallyq/queue/brokertest"
	"github.com/tallyq/tallyq/queue/rabbitmq"
)

// TestConformance runs the brokers' conformance suite against the RabbitMQ
// broker on the node of the test run.
func TestConformance(t *testing.T) {
	sharedURL(t)
	brokertest.Run(t, brokertest.Factory{Name: "rabbitmq", New: newConformanceBroker})
}

// newConformanceBroker is a RabbitMQ broker with the suite's namespace as
// its queue prefix, so that tests running at the same time (and their
// worker processes, which inherit the environment) keep to their queues,
// short waits, and few messages in flight: the suite's fairness test lets
// the big job run at most a few hundred chunks while the small one waits,
// and a job enqueued later waits behind at most MaxInFlight messages.
func newConformanceBroker(t testing.TB, pool *pgxpool.Pool, namespace string) queue.Broker {
	b, err := rabbitmq.New(pool, rabbitmq.Config{
		URL:            os.Getenv(envURL),
		Operations:     []string{brokertest.OpType},
		QueuePrefix:    namespace,
		PollInterval:   50 * time.Millisecond,
		RetryDelay:     20 * time.Millisecond,
		RepublishAfter: 10 * time.Second,
		MaxInFlight:    100,
		Logger:         brokertest.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
