package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/internal/testmq"
)

// The demo's election runs through RabbitMQ as it does through River: every
// operation's chunks travel through the operations' queues.
func TestDemoThroughRabbitMQ(t *testing.T) {
	url := testmq.URL(t)
	args := append(append([]string{}, demoArgs...), "--broker", "rabbitmq", "--amqp-url", url)
	err, out, errOut, _, _ := runDemoTest(t, demoHooks{}, args...)
	if err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if got := lastLine(out); !strings.HasPrefix(got, "demo: SUCCESS: ") {
		t.Fatalf("last line %q; want the success line\nstderr:\n%s", got, errOut)
	}
}

func TestServeSelectsRabbitMQ(t *testing.T) {
	opts, err := parseServe(t, map[string]string{
		"TALLYQ_DATABASE_URL":      "postgres://localhost/tallyq",
		"TALLYQ_ADMIN_TOKEN":       testToken,
		"TALLYQ_BROKER":            "rabbitmq",
		"TALLYQ_AMQP_URL":          "amqp://tallyq:secret@rabbitmq:5672/",
		"TALLYQ_AMQP_QUEUE_PREFIX": "election-a",
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.broker.value != "rabbitmq" || opts.amqpURL != "amqp://tallyq:secret@rabbitmq:5672/" || opts.amqpPrefix != "election-a" {
		t.Fatalf("broker %q, URL %q, prefix %q", opts.broker.value, opts.amqpURL, opts.amqpPrefix)
	}
	b, err := newBroker(nil, opts.engineOptions, slog.New(slog.DiscardHandler))
	if err == nil || b != nil {
		// rabbitmq.New refuses a nil pool: proof that the RabbitMQ broker was chosen.
		t.Fatalf("newBroker with no pool: %v, %v", b, err)
	}
	if !strings.Contains(err.Error(), "rabbitmq broker") {
		t.Fatalf("newBroker built another broker: %v", err)
	}
}

// A worker started before its RabbitMQ node waits for it, saying so, and
// consumes once the node is up.
func TestWorkerWaitsForRabbitMQAtStart(t *testing.T) {
	node := testmq.PrivateNode(t)
	if err := node.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, map[string]string{
		"TALLYQ_DATABASE_URL": testdb.URL(t),
		"TALLYQ_BROKER":       "rabbitmq",
		"TALLYQ_AMQP_URL":     node.URL(),
		"TALLYQ_CONNECT_WAIT": "5m",
		"TALLYQ_CONCURRENCY":  "1",
	}, "worker")
	waiting := startsOnceUp(t, p, "waiting for the broker", node)
	if waiting["broker"] != "rabbitmq" || waiting["error"] == "" {
		t.Errorf("the waiting line names neither the broker nor why: %v", waiting)
	}
}
