// Package testmq gives tests a RabbitMQ node: the one scripts/with-servers.sh
// starts for the whole test run (TALLYQ_TEST_RABBITMQ=1, as `make test`
// sets), or a private one for a test that crashes its node. Without a node
// a test is skipped, or fails when CI=true: CI must run every test.
package testmq

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/tallyq/tallyq/internal/pgserver"
)

// Environment of the node scripts/with-servers.sh starts.
const (
	// EnvURL holds its amqp:// URL.
	EnvURL = "TALLYQ_TEST_RABBITMQ_URL"
	// EnvDir holds its directory for scripts/rabbitmq.sh.
	EnvDir = "TALLYQ_TEST_RABBITMQ_DIR"
)

// URL returns the URL of the test run's node, or ends the test.
func URL(t testing.TB) string {
	t.Helper()
	return required(t, EnvURL)
}

// Dir returns the scripts/rabbitmq.sh directory of the test run's node, or
// ends the test.
func Dir(t testing.TB) string {
	t.Helper()
	return required(t, EnvDir)
}

// PrivateNode starts a node of the test's own with scripts/rabbitmq.sh,
// destroyed when the test ends (or when the test binary dies). It has the
// verbs of a Postgres server: Crash, Stop, Restart, URL. Crash a private
// node, never the shared one, which other packages' tests use meanwhile.
func PrivateNode(t testing.TB) *pgserver.Server {
	t.Helper()
	URL(t) // the same condition as every RabbitMQ test
	script, err := pgserver.Script("rabbitmq.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(script, "start", dir, "--watch-pid", strconv.Itoa(os.Getpid()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testmq: scripts/rabbitmq.sh start: %v\n%s", err, out)
	}
	node, err := pgserver.Attach(context.Background(), dir, script)
	if err != nil {
		t.Fatalf("testmq: %v", err)
	}
	t.Cleanup(func() {
		if err := node.Destroy(context.Background()); err != nil {
			t.Errorf("testmq: destroy the private RabbitMQ node: %v", err)
		}
	})
	return node
}

func required(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		why := name + " is not set: run `make test` (or TALLYQ_TEST_RABBITMQ=1 scripts/with-servers.sh go test ./...), which starts a private RabbitMQ node"
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	return v
}
