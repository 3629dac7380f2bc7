package bench

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ScaleConfig sizes the scale scenario.
type ScaleConfig struct {
	Pool PoolConfig `json:"pool"`
	// Ballots is the election's size; ChunkSize its tally's (small, so that
	// both processes have chunks to take).
	Ballots   int `json:"ballots"`
	ChunkSize int `json:"chunkSize"`
	// Scaled is the worker processes of the scaled run (the anchor runs
	// one), each with --concurrency 1.
	Scaled int `json:"processes"`
	// Rounds alternates the anchor and the scaled run this many times.
	Rounds int `json:"rounds"`
	// Processes runs the worker processes.
	Processes
	Logger   *slog.Logger     `json:"-"`
	Progress func(msg string) `json:"-"`
}

// ScaleResult is the outcome of the scale scenario: verified tally rates
// (ballots/s) with one worker process and with Scaled of them.
type ScaleResult struct {
	Config   ScaleConfig       `json:"config"`
	Postgres map[string]string `json:"postgres"`
	PoolInfo
	OnePerSec  []float64 `json:"onePerSec"`
	ManyPerSec []float64 `json:"manyPerSec"`
	OneMedian  float64   `json:"oneMedian"`
	ManyMedian float64   `json:"manyMedian"`
	// Speedup is ManyMedian / OneMedian.
	Speedup float64 `json:"speedup"`
}

// RunScale tallies a verified election (CPU-bound: every proof is checked)
// with one `tallyq worker --concurrency 1` process, then with
// cfg.Scaled of them, alternating, and compares the rates.
func RunScale(ctx context.Context, pool *pgxpool.Pool, cfg ScaleConfig) (ScaleResult, error) {
	res := ScaleResult{Config: cfg}
	if cfg.Ballots < 1 || cfg.ChunkSize < 1 || cfg.Scaled < 1 || cfg.Rounds < 1 {
		return res, fmt.Errorf("scale scenario: ballots, chunk size, processes and rounds must be positive: %+v", cfg)
	}
	b, id, err := startWithElection(ctx, pool, cfg.Pool, cfg.Ballots, cfg.Logger, cfg.Progress)
	if err != nil {
		return res, err
	}
	res.Postgres, res.PoolInfo, res.Config.Pool = b.postgres, b.poolInfo(), b.ballots.Config
	start := func() (*tallyqProcess, error) {
		return cfg.start(workerArgs(1, "256MiB"))
	}
	for round := range cfg.Rounds {
		for _, n := range []int{1, cfg.Scaled} {
			t, _, err := b.tallyInProcesses(ctx, id, cfg.Ballots, true, cfg.ChunkSize, n, start)
			if err != nil {
				return res, fmt.Errorf("verified tally with %d worker processes: %w", n, err)
			}
			rate := float64(cfg.Ballots) / t.elapsed.Seconds()
			if n == 1 {
				res.OnePerSec = append(res.OnePerSec, rate)
			} else {
				res.ManyPerSec = append(res.ManyPerSec, rate)
			}
			b.progress(fmt.Sprintf("round %d: %d worker process(es): %.1f ballots/s", round+1, n, rate))
		}
	}
	res.OneMedian, res.ManyMedian = median(res.OnePerSec), median(res.ManyPerSec)
	if res.OneMedian > 0 {
		res.Speedup = res.ManyMedian / res.OneMedian
	}
	return res, nil
}
