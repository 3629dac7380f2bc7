package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tallyq/tallyq/internal/pgserver"
	"github.com/tallyq/tallyq/internal/testdb"
)

// TestChaosShort is `make chaos` shortened for `make test`: 600 verified
// 4096-bit ballots in chunks of 10 through tally, three decryptions,
// compensation for two missing guardians and combine, on four worker
// processes of which one is SIGKILLed every 2–5 s, with a private Postgres
// crashed once and, on RabbitMQ, a private node killed once. RunChaos
// fails unless the results equal the voters' plaintext, every job
// completed with each chunk counted once, and the result tables hold each
// chunk's effect exactly once; the test checks that faults did happen.
func TestChaosShort(t *testing.T) {
	for _, broker := range []string{"river", "rabbitmq"} {
		t.Run(broker, func(t *testing.T) {
			pg := testdb.PrivateServer(t, false)
			db := testdb.Open(t, testdb.OnServer(pg.URL()), testdb.WithMaxConns(8))
			procs := testProcesses(t)
			procs.DatabaseURL, procs.Output = db.URL, nil
			cfg := ChaosConfig{Pool: PoolConfig{Group: "standard", Size: 12, Spoiled: 2, CacheDir: t.TempDir()},
				Ballots: 600, Spoiled: 10, Verify: true, Missing: 2, ChunkSize: 10, Workers: 4,
				KillMin: 2 * time.Second, KillMax: 5 * time.Second, Downtime: 2 * time.Second,
				Lease: 4 * time.Second, MaxAttempts: 5, Stall: 2 * time.Minute,
				Postgres: pg, Processes: procs, Progress: func(msg string) { t.Log(msg) }}
			if broker == "rabbitmq" {
				rabbitMQURL(t)
				cfg.RabbitMQ = privateRabbitMQ(t)
				cfg.AMQPURL = cfg.RabbitMQ.URL()
			}
			res, err := RunChaos(context.Background(), db.Pool, cfg)
			if err != nil {
				t.Fatalf("%v\nfaults so far: %+v\njobs: %+v", err, res.Faults, res.Jobs)
			}
			f := res.Faults
			t.Logf("%d kills (%d inside a chunk), %d exits, %d Postgres and %d RabbitMQ crashes; audit %+v",
				f.Kills, f.KillsInChunk, f.Exits, f.PostgresCrashes, f.RabbitMQCrashes, res.Audit)
			wantRabbit := 0
			if broker == "rabbitmq" {
				wantRabbit = 1
			}
			if f.Kills < 3 || f.KillsInChunk < 1 || f.PostgresCrashes != 1 || f.RabbitMQCrashes != wantRabbit {
				t.Fatalf("faults %+v: want at least 3 kills, one inside a chunk, 1 Postgres crash and %d RabbitMQ crashes", f, wantRabbit)
			}
			if !res.ResultsMatch || len(res.Jobs) != 5 || res.Audit.Subtotals != 60 || res.Audit.BallotsCounted != 600 {
				t.Fatalf("results match %v, %d jobs, audit %+v", res.ResultsMatch, len(res.Jobs), res.Audit)
			}
			for _, j := range res.Jobs {
				if j.Processed != j.Total || j.Failed != 0 || j.DoneChunks != j.Total || j.Total == 0 {
					t.Fatalf("job %+v", j)
				}
			}
		})
	}
}

// privateRabbitMQ starts a RabbitMQ node of the test's own with
// scripts/rabbitmq.sh, destroyed when the test ends (or its binary dies).
func privateRabbitMQ(t *testing.T) *pgserver.Server {
	t.Helper()
	root, err := pgserver.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	script, dir := filepath.Join(root, "scripts", "rabbitmq.sh"), t.TempDir()
	cmd := exec.Command(script, "start", dir, "--watch-pid", strconv.Itoa(os.Getpid()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/rabbitmq.sh start: %v\n%s", err, out)
	}
	node, err := pgserver.Attach(context.Background(), dir, script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := node.Destroy(context.Background()); err != nil {
			t.Errorf("destroy the private RabbitMQ node: %v", err)
		}
	})
	return node
}
