package bench

import (
	"context"
	"testing"

	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/internal/testmq"
)

// TestPipelineScenarioTiny runs the pipeline scenario on both brokers at a
// tiny size, so that it keeps working; it checks the run, never its speed.
func TestPipelineScenarioTiny(t *testing.T) {
	for _, broker := range []string{"river", "rabbitmq"} {
		t.Run(broker, func(t *testing.T) {
			cfg := PipelineConfig{Pool: tinyPool(t), Ballots: 12, Spoiled: 2, Missing: 2, Workers: 2, ChunkSize: 5}
			if broker == "rabbitmq" {
				cfg.AMQPURL = testmq.URL(t)
			}
			pool := testdb.New(t, testdb.WithMaxConns(20))
			res, err := RunPipeline(context.Background(), pool, cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkPipelineResult(t, res)
		})
	}
}

func checkPipelineResult(t *testing.T, res PipelineResult) {
	t.Helper()
	e := res.Exps
	if res.Guardians != 5 || res.Quorum != 3 || len(res.DecryptionSeconds) != 3 || res.TallyChunks != 3 {
		t.Fatalf("guardians %d, quorum %d, %d decryptions, %d tally chunks", res.Guardians, res.Quorum, len(res.DecryptionSeconds), res.TallyChunks)
	}
	if res.TallySeconds <= 0 || res.CompensationSeconds <= 0 || res.CombineSeconds <= 0 || res.TotalSeconds <= 0 {
		t.Fatalf("times: %+v", res)
	}
	// 3 contests of 4 selections: 12 in the tally; a spoiled ballot's
	// placeholders (1, 2 and 1) are decrypted too: 16 each.
	if e.TallySelections != 12 || e.SpoiledSelections != 2*16 || e.Decryption == 0 || e.Combine == 0 {
		t.Fatalf("exponentiations %+v", e)
	}
	if want := uint64(3*12+2*16) * (5 + 5*4); e.PerChunk != want || e.Measured != e.Decryption+e.Combine || e.Ratio <= 0 {
		t.Fatalf("per-chunk formula %d (want %d), measured %d, ratio %.2f", e.PerChunk, want, e.Measured, e.Ratio)
	}
	// 3 available guardians' shares and 2 × 3 compensated ones of 44 selections.
	if want := uint64(12+2*16) * (3 + 2*3); e.Shares != want || e.PerShare <= 1 || e.RatioAtOurCost <= e.Ratio {
		t.Fatalf("shares %d (want %d), %.1f exponentiations per share, ratio at our cost %.2f", e.Shares, want, e.PerShare, e.RatioAtOurCost)
	}
	t.Logf("%s: tally %.2fs, decryptions %v, compensation %.2fs, combine %.2fs; exps %+v",
		res.Broker, res.TallySeconds, res.DecryptionSeconds, res.CompensationSeconds, res.CombineSeconds, e)
}

// The pipeline takes the memory scenario's largest election, spoiled
// ballots and all, instead of ingesting one.
func TestPipelineReusesAnElection(t *testing.T) {
	ctx := context.Background()
	pool := testdb.New(t, testdb.WithMaxConns(20))
	cfg := tinyPool(t)
	if _, err := RunMemory(ctx, pool, MemoryConfig{Pool: cfg, Sizes: []int{12}, ChunkSizes: []int{5}, Spoiled: 2,
		Processes: testProcesses(t), Concurrency: 1, MemoryBudget: "256MiB"}); err != nil {
		t.Fatal(err)
	}
	res, err := RunPipeline(ctx, pool, PipelineConfig{Pool: cfg, Ballots: 12, Spoiled: 2, Missing: 2, Workers: 2, ChunkSize: 5, Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reused || res.IngestSeconds != 0 {
		t.Fatalf("reused %v, ingest %.2fs", res.Reused, res.IngestSeconds)
	}
	checkPipelineResult(t, res)
	var elections int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM elections`).Scan(&elections); err != nil || elections != 1 {
		t.Fatalf("%d elections (%v), want the memory scenario's one", elections, err)
	}
}
