package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/tallyq/tallyq/internal/synth"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
)

// PipelineConfig sizes the pipeline scenario.
type PipelineConfig struct {
	Pool PoolConfig `json:"pool"`
	// Ballots is the election's size, of which Spoiled are spoiled.
	Ballots int `json:"ballots"`
	Spoiled int `json:"spoiled"`
	// Missing is how many guardians do not decrypt (the last ones); the
	// others decrypt on the server, one after the other.
	Missing int `json:"missing"`
	// Workers is the in-process worker slots; ChunkSize the tally's.
	Workers   int `json:"workers"`
	ChunkSize int `json:"chunkSize"`
	// Reuse takes an election of this shape that an earlier scenario made
	// from the same pool (see the memory scenario's Spoiled) instead of
	// ingesting one, when there is one.
	Reuse bool `json:"reuse"`
	// AMQPURL selects the RabbitMQ broker on that node; "" selects River.
	// It holds a password, so it stays out of the JSON.
	AMQPURL string `json:"-"`
	// Logger receives the broker's and the engine's logs.
	Logger *slog.Logger `json:"-"`
	// Progress, when set, is told what the scenario is doing.
	Progress func(msg string) `json:"-"`
}

// Broker names the scenario's broker.
func (c PipelineConfig) Broker() string {
	if c.AMQPURL != "" {
		return "rabbitmq"
	}
	return "river"
}

// PipelineResult is the outcome of the pipeline scenario. Times are each
// job's wall time from its creation to COMPLETED, by the database's clock.
type PipelineResult struct {
	Config   PipelineConfig    `json:"config"`
	Broker   string            `json:"broker"`
	Postgres map[string]string `json:"postgres"`
	PoolInfo
	Guardians int `json:"guardians"`
	Quorum    int `json:"quorum"`
	// IngestSeconds is the checked-copies ingest (not part of the pipeline);
	// Reused is true when an earlier scenario's election was taken instead.
	IngestSeconds float64 `json:"ingestSeconds"`
	Reused        bool    `json:"reused"`
	TallySeconds  float64 `json:"tallySeconds"`
	TallyChunks   int     `json:"tallyChunks"`
	// DecryptionSeconds are the guardians' decryption jobs, in order.
	DecryptionSeconds []float64 `json:"decryptionSeconds"`
	// CompensationSeconds is the combine job's first stage (every
	// compensated share); CombineSeconds its second.
	CompensationSeconds float64      `json:"compensationSeconds"`
	CombineSeconds      float64      `json:"combineSeconds"`
	TotalSeconds        float64      `json:"totalSeconds"`
	Exps                PipelineExps `json:"exponentiations"`
}

// PipelineExps counts modular exponentiations: Measured by the groups'
// counter over the decryption and combine jobs, PerChunk what decrypting
// every chunk's subtotal separately needs.
type PipelineExps struct {
	Tally      uint64 `json:"tally"`
	Decryption uint64 `json:"decryption"`
	Combine    uint64 `json:"combineWithCompensation"`
	// Measured is Decryption + Combine.
	Measured uint64 `json:"measured"`
	// TallySelections is the ciphertexts of the encrypted tally
	// (placeholders included); SpoiledSelections those of the spoiled ballots.
	TallySelections   int `json:"tallySelections"`
	SpoiledSelections int `json:"spoiledSelections"`
	// PerChunk is (chunks × tally selections + spoiled selections) × (G +
	// G·(G−1)): every guardian's share of every chunk subtotal, and a
	// compensated share for every ordered pair of guardians made up front
	// (who will be missing is not known when chunks are decrypted), one
	// exponentiation each, proofs not counted: a lower bound.
	PerChunk uint64 `json:"perChunkFormula"`
	// Ratio is PerChunk / Measured: how many times the work our design does.
	Ratio float64 `json:"ratio"`
	// Shares is the decryption shares our design computed (direct and
	// compensated, tally and spoiled selections); PerShare is Measured /
	// Shares: every exponentiation of a share's life (share, proof, its
	// verification, recovery keys) spread over the shares.
	Shares   uint64  `json:"shares"`
	PerShare float64 `json:"exponentiationsPerShare"`
	// PerChunkAtOurCost is PerChunk × PerShare: the per-chunk design at our
	// cost per share (proofs and verification included); RatioAtOurCost is
	// it over Measured.
	PerChunkAtOurCost uint64  `json:"perChunkAtOurCost"`
	RatioAtOurCost    float64 `json:"ratioAtOurCost"`
}

// RunPipeline runs a whole election through the engine with in-process
// workers: tally (unverified), each available guardian's decryption in
// turn, then combine with compensation for the missing guardians, timing
// each job and counting exponentiations.
func RunPipeline(ctx context.Context, pool *pgxpool.Pool, cfg PipelineConfig) (PipelineResult, error) {
	res := PipelineResult{Config: cfg, Broker: cfg.Broker()}
	if cfg.Ballots < 1 || cfg.Spoiled < 0 || cfg.Spoiled > cfg.Ballots || cfg.Workers < 1 || cfg.ChunkSize < 1 || cfg.Missing < 0 {
		return res, fmt.Errorf("pipeline scenario: ballots, workers and chunk size must be positive, spoiled from 0 to ballots, missing not negative: %+v", cfg)
	}
	key, err := NewSealKey()
	if err != nil {
		return res, err
	}
	b, err := startElectionBench(ctx, pool, cfg.Pool, serviceConfig{amqpURL: cfg.AMQPURL, sealKey: key}, cfg.Logger, cfg.Progress)
	if err != nil {
		return res, err
	}
	res.Postgres, res.PoolInfo, res.Config.Pool = b.postgres, b.poolInfo(), b.ballots.Config
	ceremony := b.ballots.Ceremony
	res.Guardians, res.Quorum = len(ceremony.Guardians), int(ceremony.Context.Quorum)
	if available := res.Guardians - cfg.Missing; available < res.Quorum {
		return res, fmt.Errorf("pipeline scenario: %d of %d guardians missing leaves %d, fewer than the quorum of %d", cfg.Missing, res.Guardians, available, res.Quorum)
	}
	shape := Shape{Ballots: cfg.Ballots, Spoiled: cfg.Spoiled}
	var (
		id     int64
		reused bool
	)
	if cfg.Reuse {
		if id, reused, err = b.reuse(ctx, shape); err != nil {
			return res, err
		}
	}
	if !reused {
		var d time.Duration
		if id, d, err = b.ingest(ctx, shape, viaChecked); err != nil {
			return res, err
		}
		res.IngestSeconds = d.Seconds()
	}
	res.Reused = reused
	if _, err := pool.Exec(ctx, `UPDATE elections SET chunk_size = $2 WHERE election_id = $1`, id, cfg.ChunkSize); err != nil {
		return res, fmt.Errorf("set the chunk size: %w", err)
	}
	stop := b.run(ctx, cfg.Workers)
	defer stop() //nolint:errcheck // the error is read below
	if err := b.pipeline(ctx, id, cfg, &res); err != nil {
		return res, errors.Join(err, stop())
	}
	if err := stop(); err != nil {
		return res, err
	}
	return res, b.checkPipeline(ctx, id, cfg)
}

// run starts the engine's workers and maintenance in this process; stop
// ends them and returns their error.
func (s *electionService) run(ctx context.Context, workers int) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.engine.RunMaintenance(gctx) })
	g.Go(func() error { return s.engine.RunWorkers(gctx, jobs.WorkerConfig{Concurrency: workers}) })
	var done bool
	var err error
	return func() error {
		if !done {
			done = true
			cancel()
			if err = g.Wait(); errors.Is(err, context.Canceled) {
				err = nil
			}
		}
		return err
	}
}

func (b *electionBench) pipeline(ctx context.Context, id int64, cfg PipelineConfig, res *PipelineResult) error {
	start := time.Now()
	exps := b.svc.ExpCount()
	tally, err := b.tally(ctx, id, cfg.Ballots)
	if err != nil {
		return err
	}
	res.TallySeconds, res.TallyChunks = tally.elapsed.Seconds(), tally.job.TotalChunks
	res.Exps.Tally = b.svc.ExpCount() - exps
	b.progress(fmt.Sprintf("tally of %d ballots (%d chunks): %.1f s", cfg.Ballots, res.TallyChunks, res.TallySeconds))
	exps = b.svc.ExpCount()
	for i := range res.Guardians - cfg.Missing {
		raw, err := json.Marshal(b.ballots.Ceremony.Private[i])
		if err != nil {
			return err
		}
		guardian := synth.GuardianID(i)
		job, err := b.runJob(ctx, func() (election.Started, error) {
			return b.svc.StartDecryption(ctx, id, guardian, raw, "bench")
		})
		if err != nil {
			return fmt.Errorf("decryption by %s: %w", guardian, err)
		}
		res.DecryptionSeconds = append(res.DecryptionSeconds, elapsed(job).Seconds())
		b.progress(fmt.Sprintf("decryption by %s: %.1f s", guardian, elapsed(job).Seconds()))
	}
	res.Exps.Decryption = b.svc.ExpCount() - exps
	exps = b.svc.ExpCount()
	job, err := b.runJob(ctx, func() (election.Started, error) { return b.svc.StartCombine(ctx, id, "bench") })
	if err != nil {
		return fmt.Errorf("combine: %w", err)
	}
	res.Exps.Combine = b.svc.ExpCount() - exps
	res.TotalSeconds = time.Since(start).Seconds()
	stageEnd, err := firstStageEnd(ctx, b.pool, job)
	if err != nil {
		return err
	}
	res.CompensationSeconds = stageEnd.Sub(job.CreatedAt).Seconds()
	res.CombineSeconds = job.CompletedAt.Sub(stageEnd).Seconds()
	b.progress(fmt.Sprintf("compensation %.1f s, combine %.1f s", res.CompensationSeconds, res.CombineSeconds))
	return b.countSelections(ctx, id, res)
}

// runJob starts a job and waits until it has completed.
func (s *electionService) runJob(ctx context.Context, start func() (election.Started, error)) (jobs.JobStatus, error) {
	started, err := start()
	if err != nil {
		return jobs.JobStatus{}, err
	}
	job, err := WaitTerminal(ctx, s.pool, s.engine, started.Job.JobID)
	if err != nil {
		return job, err
	}
	if job.Status != jobs.StatusCompleted || job.CompletedAt == nil {
		return job, fmt.Errorf("job %s ended %s%s", uuid.UUID(job.JobID), job.Status, errorOf(job))
	}
	return job, nil
}

func errorOf(job jobs.JobStatus) string {
	if job.ErrorMessage == nil {
		return ""
	}
	return ": " + *job.ErrorMessage
}

func elapsed(job jobs.JobStatus) time.Duration { return job.CompletedAt.Sub(job.CreatedAt) }

// firstStageEnd returns when the last chunk of a job's first stage
// finished (its completion time if it has one stage or an empty first).
func firstStageEnd(ctx context.Context, pool *pgxpool.Pool, job jobs.JobStatus) (time.Time, error) {
	var end *time.Time
	err := pool.QueryRow(ctx, `SELECT max(c.finished_at) FROM job_chunks c JOIN election_jobs j USING (job_id)
		WHERE c.job_id = $1 AND cardinality(j.stage_ends) > 1 AND c.chunk_no < j.stage_ends[1]`, job.JobID).Scan(&end)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the end of job %s's first stage: %w", uuid.UUID(job.JobID), err)
	}
	if end == nil {
		return job.CreatedAt, nil
	}
	return *end, nil
}

// countSelections reads what the guardians decrypted and computes the
// per-chunk formula beside the measured count.
func (b *electionBench) countSelections(ctx context.Context, id int64, res *PipelineResult) error {
	e := &res.Exps
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT spoiled), count(*) FILTER (WHERE spoiled)
		FROM decryption_objects WHERE election_id = $1`, id).Scan(&e.TallySelections, &e.SpoiledSelections); err != nil {
		return fmt.Errorf("count decrypted selections: %w", err)
	}
	g := uint64(res.Guardians)
	e.Measured = e.Decryption + e.Combine
	e.PerChunk = (uint64(res.TallyChunks)*uint64(e.TallySelections) + uint64(e.SpoiledSelections)) * (g + g*(g-1))
	available := g - uint64(res.Config.Missing)
	e.Shares = uint64(e.TallySelections+e.SpoiledSelections) * (available + uint64(res.Config.Missing)*available)
	if e.Measured > 0 && e.Shares > 0 {
		e.Ratio = float64(e.PerChunk) / float64(e.Measured)
		e.PerShare = float64(e.Measured) / float64(e.Shares)
		e.PerChunkAtOurCost = uint64(float64(e.PerChunk) * e.PerShare)
		e.RatioAtOurCost = float64(e.PerChunkAtOurCost) / float64(e.Measured)
	}
	return nil
}

// checkPipeline checks the results' ballot counts.
func (s *electionService) checkPipeline(ctx context.Context, id int64, cfg PipelineConfig) error {
	r, err := s.svc.Results(ctx, id)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	if r.BallotsCast != int64(cfg.Ballots-cfg.Spoiled) || r.BallotsSpoiled != int64(cfg.Spoiled) || len(r.SpoiledBallots) != cfg.Spoiled {
		return fmt.Errorf("results count %d cast and %d spoiled (%d decrypted), want %d and %d",
			r.BallotsCast, r.BallotsSpoiled, len(r.SpoiledBallots), cfg.Ballots-cfg.Spoiled, cfg.Spoiled)
	}
	return nil
}
