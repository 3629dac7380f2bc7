package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
)

// SeedBallotsPerWorkerSecond is the seed system's tally rate: 2,000 chunks
// of 50 ballots in 33 minutes on its workers, about 5 ballots/s per worker.
const SeedBallotsPerWorkerSecond = 5.0

// anchorBatch is how many ballots the in-memory anchor decodes and
// validates together, as a tally chunk does (jobs/election's validateBatch).
const anchorBatch = 16

// TallyConfig sizes the tally scenario.
type TallyConfig struct {
	Pool PoolConfig
	// Ballots is the election's size.
	Ballots int
	// Workers is the number of in-process worker slots and of the
	// in-memory anchor's goroutines.
	Workers int
	// ChunkSize is the tally's ballots per chunk.
	ChunkSize int
	// VerifiedBallots, when positive, is the size of a second election
	// (stored as checked copies) that the verified rounds tally instead, in
	// chunks of VerifiedChunkSize (0: ChunkSize): a verified 4096-bit tally
	// is a hundred times slower than an unverified one.
	VerifiedBallots, VerifiedChunkSize int
	// Rounds alternates the in-memory anchor and the queue this many times
	// unverified; VerifiedRounds (at most Rounds) verified too. A verified
	// 4096-bit tally takes minutes, an unverified one seconds.
	Rounds, VerifiedRounds int
	// Logger receives River's and the engine's logs.
	Logger *slog.Logger `json:"-"`
	// Progress, when set, is told what the scenario is doing.
	Progress func(msg string) `json:"-"`
}

// TallyResult is the outcome of the tally scenario. Rates are ballots per
// second; a queue rate is the ballots over the tally job's time from
// creation to COMPLETED.
type TallyResult struct {
	Config   TallyConfig       `json:"config"`
	Postgres map[string]string `json:"postgres"`
	PoolInfo
	IngestSeconds float64 `json:"ingestSeconds"`

	Unverified TallyRates `json:"unverified"`
	Verified   TallyRates `json:"verified"`
	// PerProof is the in-memory rate, verified, checking each ballot's
	// proofs one by one (ValidateBallot) rather than in batches
	// (ValidateBallots, what the tally job and Verified's anchor do).
	PerProofPerSec []float64 `json:"perProofInMemoryPerSec"`
	PerProofMedian float64   `json:"perProofInMemoryMedian"`
	// BatchSpeedup is Verified.InMemoryMedian / PerProofMedian.
	BatchSpeedup float64 `json:"batchSpeedup"`
}

// verifyMode is how the in-memory anchor checks ballots.
type verifyMode int

const (
	unverified verifyMode = iota
	batched               // ValidateBallots on a few ballots at once
	perProof              // ValidateBallot on each ballot
)

// TallyRates are one mode's rates through the queue and in memory.
type TallyRates struct {
	QueuePerSec    []float64 `json:"queuePerSec"`
	InMemoryPerSec []float64 `json:"inMemoryPerSec"`
	QueueMedian    float64   `json:"queueMedian"`
	InMemoryMedian float64   `json:"inMemoryMedian"`
	// Ratio is the median of each round's queue rate over the in-memory
	// rate measured just before it (pairedRatio).
	Ratio float64 `json:"ratio"`
	// PerWorker is QueueMedian / Workers; SeedRatio is PerWorker over the
	// seed system's 5 ballots/s per worker.
	PerWorker float64 `json:"queuePerWorker"`
	SeedRatio float64 `json:"seedRatio"`
	// QueueCPU is the CPU per ballot of the queue runs, split by process.
	QueueCPU []BallotCPU `json:"queueCPU"`
}

// BallotCPU is CPU time per ballot, split by process.
type BallotCPU struct {
	SelfMicros     float64 `json:"selfMicrosPerBallot"`
	PostgresMicros float64 `json:"postgresMicrosPerBallot"`
}

func (r *TallyRates) summarize(workers int) {
	r.QueueMedian, r.InMemoryMedian = median(r.QueuePerSec), median(r.InMemoryPerSec)
	r.Ratio = pairedRatio(r.QueuePerSec, r.InMemoryPerSec)
	r.PerWorker = r.QueueMedian / float64(workers)
	r.SeedRatio = r.PerWorker / SeedBallotsPerWorkerSecond
}

// RunTally measures the tally job's ballots per second, unverified and
// verified, against the in-memory rate of the same operations on the same
// stored ballots with as many goroutines as worker slots, alternating them.
// It creates an election from the pool and tallies it again and again.
func RunTally(ctx context.Context, pool *pgxpool.Pool, cfg TallyConfig) (TallyResult, error) {
	res := TallyResult{Config: cfg}
	if cfg.Ballots < 1 || cfg.Workers < 1 || cfg.ChunkSize < 1 || cfg.Rounds < 1 || cfg.VerifiedRounds < 0 || cfg.VerifiedRounds > cfg.Rounds ||
		cfg.VerifiedBallots < 0 || cfg.VerifiedChunkSize < 0 {
		return res, fmt.Errorf("tally scenario: ballots, workers, chunk size and rounds must be positive, verified rounds from 0 to rounds: %+v", cfg)
	}
	b, err := startElectionBench(ctx, pool, cfg.Pool, serviceConfig{}, cfg.Logger, cfg.Progress)
	if err != nil {
		return res, err
	}
	res.Postgres, res.PoolInfo, res.Config.Pool = b.postgres, b.poolInfo(), b.ballots.Config
	id, d, err := b.ingest(ctx, Shape{Ballots: cfg.Ballots}, viaUpload)
	if err != nil {
		return res, err
	}
	res.IngestSeconds = d.Seconds()
	plain, err := b.tallied(ctx, id, cfg.Ballots, cfg.ChunkSize, cfg.Workers, b.ballots)
	if err != nil {
		return res, err
	}
	verified := plain
	if cfg.VerifiedRounds > 0 && cfg.VerifiedBallots > 0 {
		if id, _, err = b.ingest(ctx, Shape{Ballots: cfg.VerifiedBallots}, viaChecked); err != nil {
			return res, err
		}
		if verified, err = b.tallied(ctx, id, cfg.VerifiedBallots, cmp.Or(cfg.VerifiedChunkSize, cfg.ChunkSize), cfg.Workers, b.ballots); err != nil {
			return res, err
		}
	}
	if err := settleStorage(ctx, pool, b.progress); err != nil {
		return res, err
	}
	for round := range cfg.Rounds {
		for _, verify := range []bool{false, true} {
			if verify && round >= cfg.VerifiedRounds {
				continue
			}
			rates, e := &res.Unverified, plain
			if verify {
				rates, e = &res.Verified, verified
			}
			mode := unverified
			if verify {
				mode = batched
				rate, err := e.anchor.rate(ctx, perProof)
				if err != nil {
					return res, fmt.Errorf("in-memory anchor, proof by proof: %w", err)
				}
				res.PerProofPerSec = append(res.PerProofPerSec, rate)
			}
			rate, err := e.anchor.rate(ctx, mode)
			if err != nil {
				return res, fmt.Errorf("in-memory anchor: %w", err)
			}
			rates.InMemoryPerSec = append(rates.InMemoryPerSec, rate)
			rate, cpu, err := b.queueRate(ctx, e, verify)
			if err != nil {
				return res, fmt.Errorf("tally through the queue: %w", err)
			}
			rates.QueuePerSec = append(rates.QueuePerSec, rate)
			rates.QueueCPU = append(rates.QueueCPU, cpu)
			b.progress(fmt.Sprintf("round %d, verify=%v: queue %.0f ballots/s, in memory %.0f ballots/s",
				round+1, verify, rate, rates.InMemoryPerSec[len(rates.InMemoryPerSec)-1]))
		}
	}
	res.Unverified.summarize(cfg.Workers)
	res.Verified.summarize(cfg.Workers)
	if res.PerProofMedian = median(res.PerProofPerSec); res.PerProofMedian > 0 {
		res.BatchSpeedup = res.Verified.InMemoryMedian / res.PerProofMedian
	}
	return res, nil
}

// talliedElection is an election the tally scenario tallies again and
// again, with its in-memory anchor.
type talliedElection struct {
	id                          int64
	ballots, chunkSize, workers int
	anchor                      *inMemory
}

// tallied reads an election's stored ballots into its in-memory anchor and
// warms the anchor up.
func (s *electionService) tallied(ctx context.Context, id int64, ballots, chunkSize, workers int, p *Pool) (*talliedElection, error) {
	data, err := readStored(ctx, s.pool, id, "data")
	if err != nil {
		return nil, err
	}
	forms, err := readStored(ctx, s.pool, id, election.UnverifiedTallyReads)
	if err != nil {
		return nil, err
	}
	e := &talliedElection{id: id, ballots: ballots, chunkSize: chunkSize, workers: workers,
		anchor: &inMemory{pool: p, data: data, forms: forms, workers: workers}}
	if err := e.anchor.warmUp(ctx); err != nil {
		return nil, fmt.Errorf("in-memory anchor: %w", err)
	}
	return e, nil
}

// queueRate tallies the election once through the queue with its workers
// in-process slots and returns ballots per second and the CPU per ballot.
func (s *electionService) queueRate(ctx context.Context, e *talliedElection, verify bool) (float64, BallotCPU, error) {
	if err := resetTally(ctx, s.pool, e.id, verify, e.chunkSize); err != nil {
		return 0, BallotCPU{}, err
	}
	if err := vacuum(ctx, s.pool); err != nil {
		return 0, BallotCPU{}, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- s.engine.RunWorkers(wctx, jobs.WorkerConfig{Concurrency: e.workers}) }()
	cpu := readCPU()
	run, err := s.tally(ctx, e.id, e.ballots)
	cost := costPer(cpu, e.ballots)
	stop()
	if werr := <-errc; err == nil {
		err = werr
	}
	if err != nil {
		return 0, BallotCPU{}, err
	}
	return float64(e.ballots) / run.elapsed.Seconds(), BallotCPU(cost), nil
}

// readStored reads the SQL expression column of the election's stored ballots, in
// ballot order: their full encoding ("data") or what an unverified tally reads.
func readStored(ctx context.Context, pool *pgxpool.Pool, id int64, column string) ([][]byte, error) {
	rows, err := pool.Query(ctx, `SELECT `+column+` FROM ballots WHERE election_id = $1 ORDER BY ballot_no`, id)
	if err != nil {
		return nil, fmt.Errorf("read ballots: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("read ballots: %w", err)
	}
	return out, nil
}

// inMemory is the anchor: what a tally chunk computes, on ballots already
// in memory, with nothing else in the way.
type inMemory struct {
	pool    *Pool
	data    [][]byte // the full encodings, which a verified tally reads
	forms   [][]byte // what an unverified tally reads: the cast ballots' tally forms
	workers int
}

// warmUp runs both modes on a few ballots, so that what is prepared once
// per election (such as the public key's tables) is not in the first round.
func (m *inMemory) warmUp(ctx context.Context) error {
	n := min(len(m.data), 2*anchorBatch)
	few := &inMemory{pool: m.pool, data: m.data[:n], forms: m.forms[:n], workers: m.workers}
	for _, mode := range []verifyMode{unverified, batched, perProof} {
		if _, err := few.rate(ctx, mode); err != nil {
			return err
		}
	}
	return nil
}

// rate decodes, validates (as mode says) and multiplies every ballot, in
// batches taken by the workers in turn, and returns ballots per second.
// Unverified, it does what an unverified tally chunk does: read the cast
// ballots' tally forms (their ciphertexts without proofs) into a buffer of
// reused integers, and decode a spoiled ballot in full.
func (m *inMemory) rate(ctx context.Context, mode verifyMode) (float64, error) {
	var next atomic.Int64
	tallies := make([]*record.Tally, m.workers)
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range tallies {
		t := m.pool.Election.NewTally()
		tallies[w] = t
		g.Go(func() error {
			if mode == unverified {
				return m.workUnverified(gctx, &next, t)
			}
			return m.work(gctx, &next, t, mode)
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	total := tallies[0]
	for _, t := range tallies[1:] {
		total.Merge(t)
	}
	elapsed := time.Since(start)
	if n := total.Cast() + total.Spoiled(); n != len(m.data) {
		return 0, fmt.Errorf("counted %d ballots of %d", n, len(m.data))
	}
	return float64(len(m.data)) / elapsed.Seconds(), nil
}

// take returns the next batch of stored ballots, or nil when none are left.
func take(stored [][]byte, next *atomic.Int64) [][]byte {
	from := int(next.Add(anchorBatch)) - anchorBatch
	if from >= len(stored) {
		return nil
	}
	return stored[from:min(from+anchorBatch, len(stored))]
}

func (m *inMemory) work(ctx context.Context, next *atomic.Int64, t *record.Tally, mode verifyMode) error {
	g, el := m.pool.Group, m.pool.Election
	batch := make([]*record.SubmittedBallot, 0, anchorBatch)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		data := take(m.data, next)
		if data == nil {
			return nil
		}
		batch = batch[:0]
		for _, d := range data {
			b, err := record.DecodeCompact(g, d)
			if err != nil {
				return err
			}
			batch = append(batch, b)
		}
		switch mode {
		case batched:
			if err := errors.Join(el.ValidateBallots(batch)...); err != nil {
				return err
			}
		case perProof:
			for _, b := range batch {
				if err := el.ValidateBallot(b); err != nil {
					return err
				}
			}
		}
		for _, b := range batch {
			if err := t.Add(b); err != nil {
				return err
			}
		}
	}
}

func (m *inMemory) workUnverified(ctx context.Context, next *atomic.Int64, t *record.Tally) error {
	view, buf := record.NewViewDecoder(m.pool.Group), m.pool.Election.NewTallyBuffer()
	for data := take(m.forms, next); data != nil; data = take(m.forms, next) {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, d := range data {
			v, err := view.Decode(d)
			if err != nil {
				return err
			}
			if v.State == record.BallotSpoiled {
				if _, err := record.DecodeCompact(m.pool.Group, d); err != nil {
					return err
				}
			}
			if err := buf.Add(v); err != nil {
				return err
			}
		}
	}
	return buf.MergeInto(t)
}

// settleStorage makes freshly loaded ballots look as they would on any
// later day, before rounds are timed: VACUUM sets the rows' hint bits and
// visibility (else the first round's reads write every page they touch) and
// CHECKPOINT writes out the load, so that no round pays for it. CHECKPOINT
// needs the pg_checkpoint role; without it the rounds run anyway, and
// progress says so.
func settleStorage(ctx context.Context, pool *pgxpool.Pool, progress func(string)) error {
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE ballots`); err != nil {
		return fmt.Errorf("vacuum the loaded ballots: %w", err)
	}
	if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil {
		progress(fmt.Sprintf("no CHECKPOINT before the rounds (it needs the pg_checkpoint role: %v); the first may pay for writing out the loaded ballots", err))
	}
	return nil
}
