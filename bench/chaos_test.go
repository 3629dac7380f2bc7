package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/internal/testmq"
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
				Lease: 4 * time.Second, MaxAttempts: 10, Stall: 2 * time.Minute,
				Postgres: pg, Processes: procs, Progress: func(msg string) { t.Log(msg) }}
			if broker == "rabbitmq" {
				cfg.RabbitMQ = testmq.PrivateNode(t)
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

// The chaos run's audit is not blind: on an election the pipeline
// decrypted it passes, and it names a chunk counted twice, a lost share and
// results that differ from the plaintext.
func TestChaosAuditFindsWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	pool := testdb.New(t, testdb.WithMaxConns(20))
	pc := tinyPool(t)
	if _, err := RunPipeline(ctx, pool, PipelineConfig{Pool: pc, Ballots: 12, Spoiled: 2, Missing: 2, Workers: 2, ChunkSize: 5}); err != nil {
		t.Fatal(err)
	}
	b, err := startElectionBench(ctx, pool, pc, serviceConfig{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := &chaosRun{electionBench: b, cfg: ChaosConfig{Ballots: 12, Spoiled: 2, Missing: 2, ChunkSize: 5}}
	if err := pool.QueryRow(ctx, `SELECT election_id FROM elections`).Scan(&run.id); err != nil {
		t.Fatal(err)
	}
	shape := Shape{Ballots: 12, Spoiled: 2}
	want, err := b.ballots.Expected(shape)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := run.auditTables(ctx, 5); err != nil || a.Subtotals != 3 || a.BallotsCounted != 12 {
		t.Fatalf("audit of a sound election: %+v, %v", a, err)
	}
	if err := run.checkResults(ctx, want); err != nil {
		t.Fatalf("results of a sound election: %v", err)
	}
	wrong, err := b.ballots.Expected(Shape{Ballots: 11, Spoiled: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.checkResults(ctx, wrong); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("results against another election's plaintext: %v", err)
	}
	// Each tamper is undone before the next; the last needs no undo.
	for _, tc := range []struct{ tamper, undo, want string }{
		{`UPDATE tally_subtotals SET cast_count = cast_count * 2 WHERE election_id = $1 AND chunk_no = 1`,
			`UPDATE tally_subtotals SET cast_count = cast_count / 2 WHERE election_id = $1 AND chunk_no = 1`, "ballots counted by the subtotals"},
		{`UPDATE tally_subtotals SET cast_count = cast_count + 1 WHERE election_id = $1 AND chunk_no = 0`,
			`UPDATE tally_subtotals SET cast_count = cast_count - 1 WHERE election_id = $1 AND chunk_no = 0`, "ballots counted by the subtotals"},
		{`UPDATE tally_subtotals SET cast_count = cast_count + (chunk_no - 1) WHERE election_id = $1`,
			`UPDATE tally_subtotals SET cast_count = cast_count - (chunk_no - 1) WHERE election_id = $1`, "differs from their chunk's ballots"},
		{`DELETE FROM compensated_shares WHERE election_id = $1 AND object_no = (SELECT max(object_no) FROM compensated_shares WHERE election_id = $1)
			AND guardian_id = (SELECT min(guardian_id) FROM compensated_shares WHERE election_id = $1)`, "", "compensated shares"},
	} {
		if _, err := pool.Exec(ctx, tc.tamper, run.id); err != nil {
			t.Fatal(err)
		}
		_, err := run.auditTables(ctx, 5)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("after %s: %v, want an error naming %q", tc.tamper, err, tc.want)
		}
		if tc.undo != "" {
			if _, err := pool.Exec(ctx, tc.undo, run.id); err != nil {
				t.Fatal(err)
			}
		}
	}
}
