package main

import (
	"os"
	"strings"
	"testing"
)

// The demo's election runs through RabbitMQ as it does through River: every
// operation's chunks travel through the operations' queues.
func TestDemoThroughRabbitMQ(t *testing.T) {
	url := os.Getenv("TALLYQ_TEST_RABBITMQ_URL")
	if url == "" {
		const why = "TALLYQ_TEST_RABBITMQ_URL is not set: run `make test`"
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	args := append(append([]string{}, demoArgs...), "--broker", "rabbitmq", "--amqp-url", url)
	err, out, errOut, _, _ := runDemoTest(t, demoHooks{}, args...)
	if err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if got := lastLine(out); !strings.HasPrefix(got, "demo: SUCCESS: ") {
		t.Fatalf("last line %q; want the success line\nstderr:\n%s", got, errOut)
	}
}
