package bench

import (
	"context"
	"testing"
	"time"

	"github.com/tallyq/tallyq/internal/testdb"
)

// TestScaleScenarioTiny runs the scale scenario with real worker processes
// at a tiny size; it checks the run, never the speedup.
func TestScaleScenarioTiny(t *testing.T) {
	pool := testdb.New(t, testdb.WithMaxConns(10))
	res, err := RunScale(context.Background(), pool, ScaleConfig{Pool: tinyPool(t), Ballots: 12, ChunkSize: 2, Scaled: 2, Rounds: 1,
		Processes: testProcesses(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.OnePerSec) != 1 || len(res.ManyPerSec) != 1 || res.OneMedian <= 0 || res.ManyMedian <= 0 || res.Speedup <= 0 {
		t.Fatalf("incomplete result %+v", res)
	}
}

// TestAPIScenarioTiny runs the api scenario against a real `tallyq serve`
// with a few pollers: every request must answer the job's status.
func TestAPIScenarioTiny(t *testing.T) {
	pool := testdb.New(t, testdb.WithMaxConns(10))
	res, err := RunAPI(context.Background(), pool, APIConfig{Pool: tinyPool(t), Ballots: 30, ChunkSize: 3, Workers: 1,
		Pollers: 5, Interval: 5 * time.Millisecond, Idle: 200 * time.Millisecond,
		Processes: testProcesses(t)})
	if err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]Latency{"busy": res.Busy, "separate": res.Separate, "idle": res.Idle} {
		if l.Requests == 0 || l.Errors != 0 || l.P50Ms <= 0 || l.P99Ms < l.P50Ms || l.MaxMs < l.P99Ms {
			t.Fatalf("%s: %+v", name, l)
		}
	}
	if res.JobSeconds <= 0 || res.SeparateJobSeconds <= 0 || res.Ratio <= 0 || res.SeparateRatio <= 0 {
		t.Fatalf("jobs %.2fs and %.2fs, ratios %.2f and %.2f", res.JobSeconds, res.SeparateJobSeconds, res.Ratio, res.SeparateRatio)
	}
}

// TestCreateScenarioTiny creates a small job through the engine and its raw
// River anchor.
func TestCreateScenarioTiny(t *testing.T) {
	pool := testdb.New(t, testdb.WithMaxConns(10))
	res, err := RunCreate(context.Background(), pool, CreateConfig{Chunks: 2000})
	if err != nil {
		t.Fatal(err)
	}
	// The kernel updates VmHWM lazily: it may lag VmRSS read a moment before.
	if res.CreateSeconds <= 0 || res.RawRiverSeconds <= 0 || res.VmHWMMiB <= 0 || res.StartRSSMiB <= 0 {
		t.Fatalf("incomplete result %+v", res)
	}
	var left int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d River jobs left (%v)", left, err)
	}
}
