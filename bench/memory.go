package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MemoryConfig sizes the memory scenario.
type MemoryConfig struct {
	Pool PoolConfig
	// Sizes are the elections' sizes in ballots; ChunkSizes the tally chunk
	// sizes each is tallied with.
	Sizes      []int
	ChunkSizes []int
	// Spoiled is how many ballots of each election are spoiled (the
	// pipeline scenario can then reuse the largest one).
	Spoiled int
	// Processes runs the worker processes.
	Processes
	// Concurrency, MemoryBudget and GCPercent are the worker's --concurrency,
	// --memory-budget and --gc-percent.
	Concurrency  int
	MemoryBudget string
	GCPercent    int `json:"gcPercent"`
	// Logger receives this process's River and engine logs.
	Logger *slog.Logger `json:"-"`
	// Progress, when set, is told what the scenario is doing.
	Progress func(msg string) `json:"-"`
}

// MemoryResult is the outcome of the memory scenario.
type MemoryResult struct {
	Config   MemoryConfig      `json:"config"`
	Postgres map[string]string `json:"postgres"`
	PoolInfo
	Runs []MemoryRun `json:"runs"`
	// MinMiB and MaxMiB are the smallest and largest peak; Ratio is MaxMiB / MinMiB.
	MinMiB float64 `json:"minVmHWMMiB"`
	MaxMiB float64 `json:"maxVmHWMMiB"`
	Ratio  float64 `json:"ratio"`
}

// MemoryRun is one tally in a fresh worker process.
type MemoryRun struct {
	Ballots       int     `json:"ballots"`
	ChunkSize     int     `json:"chunkSize"`
	IngestSeconds float64 `json:"ingestSeconds,omitempty"`
	TallySeconds  float64 `json:"tallySeconds"`
	// VmHWMMiB is the worker process's peak resident set after the tally.
	VmHWMMiB float64 `json:"vmHWMMiB"`
}

// RunMemory tallies elections of each size at each chunk size, each tally
// in a new worker process, and reads the process's peak resident set
// (VmHWM) once the job is COMPLETED. Each size's ballots are ingested once;
// between chunk sizes the election's tally is reset (its subtotals deleted
// and its state returned to OPEN), so the same stored ballots are tallied
// again. Ballot verification is off: it changes CPU, not memory.
func RunMemory(ctx context.Context, pool *pgxpool.Pool, cfg MemoryConfig) (MemoryResult, error) {
	res := MemoryResult{Config: cfg}
	if len(cfg.Sizes) == 0 || len(cfg.ChunkSizes) == 0 || slices.Min(cfg.Sizes) < 1 || slices.Min(cfg.ChunkSizes) < 1 || cfg.Concurrency < 1 {
		return res, fmt.Errorf("memory scenario: sizes, chunk sizes and concurrency must be positive: %v, %v, %d", cfg.Sizes, cfg.ChunkSizes, cfg.Concurrency)
	}
	if cfg.GCPercent < 0 {
		return res, fmt.Errorf("memory scenario: the worker's GC percent must not be negative, got %d", cfg.GCPercent)
	}
	b, err := startElectionBench(ctx, pool, cfg.Pool, serviceConfig{}, cfg.Logger, cfg.Progress)
	if err != nil {
		return res, err
	}
	res.Postgres, res.PoolInfo, res.Config.Pool = b.postgres, b.poolInfo(), b.ballots.Config
	for _, size := range cfg.Sizes {
		id, ingest, err := b.ingest(ctx, Shape{Ballots: size, Spoiled: min(cfg.Spoiled, size)}, viaChecked)
		if err != nil {
			return res, err
		}
		for i, chunkSize := range cfg.ChunkSizes {
			run, err := b.memoryRun(ctx, cfg, id, size, chunkSize)
			if err != nil {
				return res, fmt.Errorf("%d ballots in chunks of %d: %w", size, chunkSize, err)
			}
			if i == 0 {
				run.IngestSeconds = ingest.Seconds()
			}
			res.Runs = append(res.Runs, run)
			b.progress(fmt.Sprintf("%d ballots, chunks of %d: tally %.1f s, worker VmHWM %.1f MiB", size, chunkSize, run.TallySeconds, run.VmHWMMiB))
		}
	}
	res.MinMiB, res.MaxMiB = res.Runs[0].VmHWMMiB, res.Runs[0].VmHWMMiB
	for _, r := range res.Runs {
		res.MinMiB, res.MaxMiB = min(res.MinMiB, r.VmHWMMiB), max(res.MaxMiB, r.VmHWMMiB)
	}
	if res.MinMiB > 0 {
		res.Ratio = res.MaxMiB / res.MinMiB
	}
	return res, nil
}

// memoryRun tallies the election in chunks of chunkSize in a new worker
// process and returns the process's peak resident set.
func (s *electionService) memoryRun(ctx context.Context, cfg MemoryConfig, id int64, ballots, chunkSize int) (MemoryRun, error) {
	run := MemoryRun{Ballots: ballots, ChunkSize: chunkSize}
	t, hwm, err := s.tallyInProcesses(ctx, id, ballots, false, chunkSize, 1, func() (*tallyqProcess, error) {
		return cfg.start(append(workerArgs(cfg.Concurrency, cfg.MemoryBudget), "--gc-percent", strconv.Itoa(cfg.GCPercent)))
	})
	if err != nil {
		return run, err
	}
	run.TallySeconds, run.VmHWMMiB = t.elapsed.Seconds(), float64(hwm[0])/(1<<20)
	return run, nil
}

// tallyInProcesses resets the election's tally (verified or not, in chunks
// of chunkSize), starts n worker processes, tallies, and returns the run
// and each process's peak resident set (VmHWM) in bytes.
func (s *electionService) tallyInProcesses(ctx context.Context, id int64, ballots int, verify bool, chunkSize, n int,
	start func() (*tallyqProcess, error)) (tallyRun, []int64, error) {
	if err := resetTally(ctx, s.pool, id, verify, chunkSize); err != nil {
		return tallyRun{}, nil, err
	}
	if err := vacuum(ctx, s.pool); err != nil {
		return tallyRun{}, nil, err
	}
	// A worker that dies ends the wait for the job.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var procs []*tallyqProcess
	stopAll := func(err error) error {
		for _, p := range procs {
			err = errors.Join(err, p.stop())
		}
		return err
	}
	for range n {
		p, err := start()
		if err != nil {
			return tallyRun{}, nil, stopAll(err)
		}
		procs = append(procs, p)
		go func() {
			<-p.exited
			cancel(fmt.Errorf("a worker process exited during the tally: %w", p.err))
		}()
	}
	t, err := s.tally(wctx, id, ballots)
	if err != nil {
		if cause := context.Cause(wctx); cause != nil && ctx.Err() == nil {
			err = cause
		}
		return t, nil, stopAll(err)
	}
	hwm := make([]int64, n)
	for i, p := range procs {
		if hwm[i], err = peakRSS(p.cmd.Process.Pid); err != nil {
			return t, nil, stopAll(err)
		}
	}
	return t, hwm, stopAll(nil)
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes from
// /proc (Linux).
func peakRSS(pid int) (int64, error) { return residentSet(pid, "VmHWM:") }

// residentSet reads a size field of /proc/PID/status (VmHWM:, VmRSS:) in
// bytes (Linux).
func residentSet(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field)
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process %d: %s %q: %w", pid, field, rest, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("process %d: no %s in /proc/%d/status", pid, field, pid)
}
