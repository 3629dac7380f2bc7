package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/internal/resultcheck"
	"github.com/tallyq/tallyq/internal/synth"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
)

// Server is a server a chaos run crashes once and starts again: a
// *pgserver.Server, of scripts/postgres.sh or (attached with that script)
// scripts/rabbitmq.sh.
type Server interface {
	// Crash kills the server without a clean shutdown.
	Crash(ctx context.Context) error
	// Stop shuts it down cleanly.
	Stop(ctx context.Context) error
	// Restart starts it again with its data.
	Restart(ctx context.Context) error
	// URL is where it listens once started.
	URL() string
}

// ChaosConfig sizes a chaos run: an election through the whole pipeline on
// worker processes that are killed at random while Postgres (and the
// RabbitMQ node) crash once.
type ChaosConfig struct {
	Pool PoolConfig `json:"pool"`
	// Ballots is the election's size, of which Spoiled are spoiled; Verify
	// has the tally check every ballot's proofs.
	Ballots int  `json:"ballots"`
	Spoiled int  `json:"spoiled"`
	Verify  bool `json:"verify"`
	// Missing is how many guardians do not decrypt (compensated for).
	Missing   int `json:"missing"`
	ChunkSize int `json:"chunkSize"`
	// Workers is how many `tallyq worker --concurrency 1` processes run.
	Workers int `json:"workers"`
	// KillMin and KillMax bound the random pause between two kills.
	KillMin time.Duration `json:"killMin"`
	KillMax time.Duration `json:"killMax"`
	// Downtime is how long a crashed server stays down.
	Downtime time.Duration `json:"downtime"`
	// Lease and MaxAttempts are the workers' --lease and --max-attempts.
	Lease       time.Duration `json:"lease"`
	MaxAttempts int           `json:"maxAttempts"`
	// Stall is how long a job may make no progress before the run calls
	// it stuck and fails.
	Stall time.Duration `json:"stall"`
	// Seed chooses the kills' times and victims (0: random).
	Seed uint64 `json:"seed"`
	// AMQPURL selects the RabbitMQ broker on that node; "" selects River.
	AMQPURL string `json:"-"`
	// Postgres is the server of the database (required); RabbitMQ the node
	// of AMQPURL (required with it).
	Postgres Server `json:"-"`
	RabbitMQ Server `json:"-"`
	// Processes starts the workers.
	Processes `json:"-"`
	Logger    *slog.Logger     `json:"-"`
	Progress  func(msg string) `json:"-"`
}

// Broker names the run's broker.
func (c ChaosConfig) Broker() string {
	if c.AMQPURL != "" {
		return "rabbitmq"
	}
	return "river"
}

func (c ChaosConfig) validate() error {
	switch {
	case c.Ballots < 1 || c.Spoiled < 0 || c.Spoiled > c.Ballots || c.ChunkSize < 1 || c.Missing < 0:
		return fmt.Errorf("chaos run: ballots and chunk size must be positive, spoiled from 0 to ballots, missing not negative: %+v", c)
	case c.Workers < 2:
		return fmt.Errorf("chaos run: want at least 2 worker processes (one is killed at a time), got %d", c.Workers)
	case c.KillMin <= 0 || c.KillMax < c.KillMin || c.Downtime <= 0 || c.Stall <= 0 || c.Lease <= 0 || c.MaxAttempts < 1:
		return fmt.Errorf("chaos run: kill interval, downtime, stall, lease and attempts must be positive, the interval's max not below its min: %+v", c)
	case c.Postgres == nil:
		return errors.New("chaos run: no Postgres server to crash (run it under scripts/with-servers.sh, which exports TALLYQ_TEST_PG_DIR)")
	case c.AMQPURL != "" && c.RabbitMQ == nil:
		return errors.New("chaos run: no RabbitMQ node to crash (TALLYQ_TEST_RABBITMQ=1 scripts/with-servers.sh exports TALLYQ_TEST_RABBITMQ_DIR)")
	case c.Tallyq == "" || c.DatabaseURL == "":
		return errors.New("chaos run: the tallyq binary and the database URL of the workers are required")
	}
	return nil
}

// ChaosResult is what a chaos run survived and what its audit found.
type ChaosResult struct {
	Config ChaosConfig `json:"config"`
	Broker string      `json:"broker"`
	PoolInfo
	Guardians int `json:"guardians"`
	Quorum    int `json:"quorum"`
	// Faults are the kills and crashes injected.
	Faults ChaosFaults `json:"faults"`
	// Jobs are the pipeline's jobs in order, as the audit read them.
	Jobs []ChaosJob `json:"jobs"`
	// Audit is what the result tables hold, each checked against the
	// election.
	Audit ChaosAudit `json:"audit"`
	// ResultsMatch is true when the decrypted results equal the plaintext
	// the voters chose (a run that returns no error always has it).
	ResultsMatch bool    `json:"resultsMatch"`
	Seconds      float64 `json:"seconds"`
}

// ChaosFaults counts the faults a run injected.
type ChaosFaults struct {
	// Kills is the SIGKILLs of worker processes; KillsInChunk those of a
	// worker that reported a chunk in flight just before.
	Kills        int `json:"kills"`
	KillsInChunk int `json:"killsInChunk"`
	// Exits is the worker processes that exited by themselves (for
	// instance failing to start while a server was down), restarted too.
	Exits int `json:"exits"`
	// Starts is every worker process started.
	Starts int `json:"starts"`
	// PostgresCrashes and RabbitMQCrashes count the servers killed and
	// started again; RabbitMQCleanRestarts the clean restarts of the node
	// (see injectFaults).
	PostgresCrashes       int `json:"postgresCrashes"`
	RabbitMQCrashes       int `json:"rabbitmqCrashes"`
	RabbitMQCleanRestarts int `json:"rabbitmqCleanRestarts"`
}

// ChaosJob is one job of the pipeline as the audit found it.
type ChaosJob struct {
	Operation string `json:"operation"`
	Guardian  string `json:"guardian,omitempty"`
	JobID     string `json:"jobId"`
	Status    string `json:"status"`
	Total     int    `json:"totalChunks"`
	Processed int    `json:"processedChunks"`
	Failed    int    `json:"failedChunks"`
	// DoneChunks counts the job's chunk rows in state done; Attempts sums
	// their attempts, so Attempts - Total attempts were cut short (a kill,
	// a crash) and run again; MaxAttempts is the most any chunk took.
	DoneChunks  int `json:"doneChunks"`
	Attempts    int `json:"attempts"`
	MaxAttempts int `json:"maxAttempts"`
}

// ChaosAudit is the rows each stage left, which the audit checks against
// the election: every chunk's effect exactly once.
type ChaosAudit struct {
	// Subtotals is the tally's rows, one per chunk; BallotsCounted their
	// ballots (cast, spoiled and invalid), each chunk's equal to its range.
	Subtotals      int `json:"subtotals"`
	BallotsCounted int `json:"ballotsCounted"`
	// Objects is what the guardians decrypt; Shares, CompensatedShares and
	// Plaintexts the rows of each per object.
	Objects           int `json:"objects"`
	Shares            int `json:"shares"`
	CompensatedShares int `json:"compensatedShares"`
	Plaintexts        int `json:"plaintexts"`
	// RetriedAttempts sums, over every job, the attempts run again.
	RetriedAttempts int `json:"retriedAttempts"`
}

// RunChaos runs an election through tally, decryptions, compensation and
// combine on cfg.Workers `tallyq worker` processes while a monkey SIGKILLs
// a random one every KillMin–KillMax (and starts another), Postgres is
// crashed once during the tally (and, on RabbitMQ, the node is killed
// once). Then it checks that the results equal the voters' plaintext,
// that every job completed with every chunk counted once, and that every
// result table holds each chunk's effect exactly once.
func RunChaos(ctx context.Context, pool *pgxpool.Pool, cfg ChaosConfig) (ChaosResult, error) {
	res := ChaosResult{Config: cfg, Broker: cfg.Broker()}
	if err := cfg.validate(); err != nil {
		return res, err
	}
	key, err := NewSealKey()
	if err != nil {
		return res, err
	}
	b, err := startElectionBench(ctx, pool, cfg.Pool, serviceConfig{amqpURL: cfg.AMQPURL, sealKey: key, queuePrefix: chaosPrefix}, cfg.Logger, cfg.Progress)
	if err != nil {
		return res, err
	}
	res.PoolInfo, res.Config.Pool = b.poolInfo(), b.ballots.Config
	res.Guardians, res.Quorum = len(b.ballots.Ceremony.Guardians), int(b.ballots.Ceremony.Context.Quorum)
	if res.Guardians-cfg.Missing < res.Quorum {
		return res, fmt.Errorf("chaos run: %d of %d guardians missing leaves fewer than the quorum of %d", cfg.Missing, res.Guardians, res.Quorum)
	}
	shape := Shape{Ballots: cfg.Ballots, Spoiled: cfg.Spoiled}
	want, err := b.ballots.Expected(shape)
	if err != nil {
		return res, err
	}
	id, _, err := b.ingest(ctx, shape, viaChecked)
	if err != nil {
		return res, err
	}
	if err := resetTally(ctx, pool, id, cfg.Verify, cfg.ChunkSize); err != nil {
		return res, err
	}
	start := time.Now()
	m := startMonkey(ctx, cfg, b.progress, cfg.workerArgs(), cfg.workerEnv(key)...)
	run := chaosRun{electionBench: b, cfg: cfg, id: id}
	jobsErr := run.pipeline(ctx, m)
	faults, monkeyErr := m.stop()
	res.Faults, res.Seconds = faults, time.Since(start).Seconds()
	if err := errors.Join(jobsErr, run.faultsErr, monkeyErr); err != nil {
		return res, err
	}
	if res.Faults.Kills == 0 {
		return res, errors.New("chaos run: the pipeline ended before the first kill; make the election larger")
	}
	b.progress(fmt.Sprintf("survived %d kills (%d inside a chunk), %d Postgres and %d RabbitMQ crashes; auditing",
		res.Faults.Kills, res.Faults.KillsInChunk, res.Faults.PostgresCrashes, res.Faults.RabbitMQCrashes))
	if res.Jobs, err = run.auditJobs(ctx); err != nil {
		return res, err
	}
	if res.Audit, err = run.auditTables(ctx, res.Guardians); err != nil {
		return res, err
	}
	for _, j := range res.Jobs {
		res.Audit.RetriedAttempts += j.Attempts - j.Total
	}
	if err := run.checkResults(ctx, want); err != nil {
		return res, err
	}
	res.ResultsMatch = true
	return res, nil
}

// chaosPrefix names the chaos run's RabbitMQ queues.
const chaosPrefix = benchPrefix + "-chaos"

// workerArgs are the arguments of every worker process.
func (c ChaosConfig) workerArgs() []string {
	args := []string{"worker", "--concurrency", "1", "--metrics-addr", "127.0.0.1:0",
		"--lease", c.Lease.String(), "--max-attempts", strconv.Itoa(c.MaxAttempts),
		"--log-level", "info", "--log-format", "json", "--broker", c.Broker()}
	if c.AMQPURL != "" {
		args = append(args, "--amqp-queue-prefix", chaosPrefix)
	}
	return args
}

// workerEnv passes the secrets by the environment, never the command line.
func (c ChaosConfig) workerEnv(sealKey string) []string {
	env := []string{"TALLYQ_SECRET_KEY=" + sealKey}
	if c.AMQPURL != "" {
		env = append(env, "TALLYQ_AMQP_URL="+c.AMQPURL)
	}
	return env
}

// Expected is what decrypting an election of shape s made from the pool
// must give.
func (p *Pool) Expected(s Shape) (*synth.Expected, error) {
	source, err := p.sources(s)
	if err != nil {
		return nil, err
	}
	x := synth.NewExpected(p.Manifest)
	for i := range s.Ballots {
		k, err := source(i)
		if err != nil {
			return nil, err
		}
		plain := *p.Plaintexts[k]
		plain.ObjectID = BallotID(i)
		x.Add(p.Manifest, &plain, p.Ballots[k].State)
	}
	return x, nil
}

// chaosRun is one run's pipeline and audit.
type chaosRun struct {
	*electionBench
	cfg ChaosConfig
	id  int64
	// jobs are the pipeline's jobs in order, with the guardian of each
	// decryption.
	jobs []chaosJobRef
	// faultsErr is the fault injector's error, once it has finished.
	faultsErr error
}

type chaosJobRef struct {
	id       uuid.UUID
	guardian string
}

// pipeline runs tally, decryptions and combine, with the faults injected
// during the tally.
func (r *chaosRun) pipeline(ctx context.Context, m *monkey) (err error) {
	tally, err := r.startJob(ctx, func() (election.Started, error) { return r.svc.StartTally(ctx, r.id, "chaos") })
	if err != nil {
		return fmt.Errorf("start the tally: %w", err)
	}
	faults := make(chan error, 1)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { faults <- r.injectFaults(fctx, tally, m) }()
	defer func() {
		if err != nil { // the faults wait for a tally that may never progress
			cancel()
		}
		r.faultsErr = <-faults
	}()
	if err := r.finish(ctx, "tally", "", tally); err != nil {
		return err
	}
	for i := range len(r.ballots.Ceremony.Guardians) - r.cfg.Missing {
		raw, err := json.Marshal(r.ballots.Ceremony.Private[i])
		if err != nil {
			return err
		}
		guardian := synth.GuardianID(i)
		if _, err := r.start(ctx, "decryption by "+guardian, guardian, func() (election.Started, error) {
			return r.svc.StartDecryption(ctx, r.id, guardian, raw, "chaos")
		}); err != nil {
			return err
		}
	}
	_, err = r.start(ctx, "compensation and combine", "", func() (election.Started, error) { return r.svc.StartCombine(ctx, r.id, "chaos") })
	return err
}

// start starts a job and waits until it has completed.
func (r *chaosRun) start(ctx context.Context, what, guardian string, start func() (election.Started, error)) (uuid.UUID, error) {
	id, err := r.startJob(ctx, start)
	if err != nil {
		return id, fmt.Errorf("start the %s: %w", what, err)
	}
	return id, r.finish(ctx, what, guardian, id)
}

// startJob starts a job, trying again while the database is down (a
// start that did commit returns the same job).
func (r *chaosRun) startJob(ctx context.Context, start func() (election.Started, error)) (uuid.UUID, error) {
	var started election.Started
	err := r.retry(ctx, func() (err error) {
		started, err = start()
		return err
	})
	return started.Job.JobID, err
}

// finish waits until a started job has completed.
func (r *chaosRun) finish(ctx context.Context, what, guardian string, id uuid.UUID) error {
	r.jobs = append(r.jobs, chaosJobRef{id: id, guardian: guardian})
	job, err := r.await(ctx, id)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if job.Status != jobs.StatusCompleted {
		return fmt.Errorf("%s: job %s ended %s%s", what, id, job.Status, errorOf(job))
	}
	r.progress(fmt.Sprintf("%s: %d chunks completed", what, job.TotalChunks))
	return nil
}

// retry calls f until it succeeds, for at most the stall time: the
// database may be down for a moment.
func (r *chaosRun) retry(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(r.cfg.Stall)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("still failing after %s: %w", r.cfg.Stall, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// await polls a job until it is terminal. A job whose counts do not move
// for the stall time is stuck, and so is the run.
func (r *chaosRun) await(ctx context.Context, id uuid.UUID) (jobs.JobStatus, error) {
	var (
		last    jobs.JobStatus
		lastErr error
	)
	moved := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := r.engine.Status(ctx, id)
		switch {
		case err != nil:
			lastErr = err
		case s.Status.Terminal():
			return s, nil
		case s.ProcessedChunks != last.ProcessedChunks || s.FailedChunks != last.FailedChunks || s.Status != last.Status:
			last, moved = s, time.Now()
		}
		if time.Since(moved) > r.cfg.Stall {
			return last, fmt.Errorf("job %s is stuck: %d of %d chunks processed and no progress for %s (last error reading it: %v)",
				id, last.ProcessedChunks, last.TotalChunks, r.cfg.Stall, lastErr)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-tick.C:
		}
	}
}

// injectFaults crashes the servers while the tally runs: Postgres once a
// third of its chunks are processed, the RabbitMQ node (SIGKILL) at two
// thirds. A fault whose moment the tally passes quickly happens at once,
// during the decryptions. Before the kill the node is restarted cleanly
// once its queues have carried chunks: RabbitMQ 3.10 may lose a quorum
// queue declared seconds before its node is killed (see
// queue/rabbitmq/fault_test.go), which is RabbitMQ's to fix, not ours.
func (r *chaosRun) injectFaults(ctx context.Context, tally uuid.UUID, m *monkey) error {
	if r.cfg.RabbitMQ != nil {
		if err := r.waitProgress(ctx, tally, 0); err != nil {
			return err
		}
		if err := r.bounce(ctx, "RabbitMQ (clean restart)", r.cfg.RabbitMQ, false); err != nil {
			return err
		}
		m.count(func(f *ChaosFaults) { f.RabbitMQCleanRestarts++ })
	}
	if err := r.waitProgress(ctx, tally, 1.0/3); err != nil {
		return err
	}
	if err := r.bounce(ctx, "Postgres", r.cfg.Postgres, true); err != nil {
		return err
	}
	m.count(func(f *ChaosFaults) { f.PostgresCrashes++ })
	if r.cfg.RabbitMQ == nil {
		return nil
	}
	if err := r.waitProgress(ctx, tally, 2.0/3); err != nil {
		return err
	}
	if err := r.bounce(ctx, "RabbitMQ", r.cfg.RabbitMQ, true); err != nil {
		return err
	}
	m.count(func(f *ChaosFaults) { f.RabbitMQCrashes++ })
	return nil
}

// waitProgress waits until more than fraction of the job's chunks are
// processed, or it is terminal.
func (r *chaosRun) waitProgress(ctx context.Context, id uuid.UUID, fraction float64) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := r.engine.Status(ctx, id)
		if err == nil && (s.Status.Terminal() || float64(s.ProcessedChunks) > fraction*float64(s.TotalChunks)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// bounce crashes (or cleanly stops) a server, leaves it down for the
// downtime and starts it again where it was.
func (r *chaosRun) bounce(ctx context.Context, name string, s Server, crash bool) error {
	url := s.URL()
	down, verb := s.Stop, "stopped"
	if crash {
		down, verb = s.Crash, "crashed"
	}
	if err := down(ctx); err != nil {
		return fmt.Errorf("chaos run: %s: %w", name, err)
	}
	r.progress(fmt.Sprintf("%s %s; down for %s", name, verb, r.cfg.Downtime))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(r.cfg.Downtime):
	}
	if err := s.Restart(ctx); err != nil {
		return fmt.Errorf("chaos run: start %s again: %w", name, err)
	}
	if s.URL() != url {
		return fmt.Errorf("chaos run: %s came back on another port, where the workers cannot find it", name)
	}
	r.progress(name + " started again")
	return nil
}

// auditJobs reads every job of the pipeline and checks it completed with
// every chunk done once and counted once.
func (r *chaosRun) auditJobs(ctx context.Context) ([]ChaosJob, error) {
	var out []ChaosJob
	for _, ref := range r.jobs {
		s, err := r.engine.Status(ctx, ref.id)
		if err != nil {
			return out, err
		}
		j := ChaosJob{Operation: s.OperationType, Guardian: ref.guardian, JobID: ref.id.String(), Status: string(s.Status),
			Total: s.TotalChunks, Processed: s.ProcessedChunks, Failed: s.FailedChunks}
		if err := r.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'done'), coalesce(sum(attempts), 0), coalesce(max(attempts), 0)
			FROM job_chunks WHERE job_id = $1`, ref.id).Scan(&j.DoneChunks, &j.Attempts, &j.MaxAttempts); err != nil {
			return out, fmt.Errorf("audit job %s's chunks: %w", ref.id, err)
		}
		out = append(out, j)
		if s.Status != jobs.StatusCompleted || j.Processed != j.Total || j.Failed != 0 || j.DoneChunks != j.Total {
			return out, fmt.Errorf("audit: %s job %s is %s with %d of %d chunks processed, %d failed and %d done",
				j.Operation, j.JobID, j.Status, j.Processed, j.Total, j.Failed, j.DoneChunks)
		}
	}
	return out, nil
}

// auditQuery is one check of the result tables: a query of one count and
// the count it must be.
type auditQuery struct {
	what string
	sql  string
	want int
	into *int
}

// auditTables checks that each stage's rows are each chunk's effect once:
// a subtotal per tally chunk counting exactly its range of ballots, a
// share per object and available guardian, a compensated share per object,
// missing and available guardian, a plaintext per object.
func (r *chaosRun) auditTables(ctx context.Context, guardians int) (ChaosAudit, error) {
	var a ChaosAudit
	tallyChunks := (r.cfg.Ballots + r.cfg.ChunkSize - 1) / r.cfg.ChunkSize
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM decryption_objects WHERE election_id = $1`, r.id).Scan(&a.Objects); err != nil {
		return a, fmt.Errorf("audit: count decryption objects: %w", err)
	}
	available := guardians - r.cfg.Missing
	var wrongRanges int
	for _, q := range []auditQuery{
		{"tally subtotals", `SELECT count(*) FROM tally_subtotals WHERE election_id = $1`, tallyChunks, &a.Subtotals},
		{"ballots counted by the subtotals", `SELECT coalesce(sum(cast_count + spoiled + invalid), 0) FROM tally_subtotals WHERE election_id = $1`, r.cfg.Ballots, &a.BallotsCounted},
		// Ballots are numbered densely from the first, so chunk c holds
		// ballots first + c·size to first + (c+1)·size - 1.
		{"subtotals whose count differs from their chunk's ballots", `
			WITH e AS (SELECT chunk_size, (SELECT min(ballot_no) FROM ballots WHERE election_id = $1) AS first FROM elections WHERE election_id = $1),
			per_chunk AS (SELECT (b.ballot_no - e.first) / e.chunk_size AS chunk_no, count(*) AS n FROM ballots b, e WHERE b.election_id = $1 GROUP BY 1)
			SELECT count(*) FROM tally_subtotals t LEFT JOIN per_chunk p USING (chunk_no)
			WHERE t.election_id = $1 AND (t.cast_count + t.spoiled + t.invalid) IS DISTINCT FROM p.n`, 0, &wrongRanges},
		{"decryption shares", `SELECT count(*) FROM decryption_shares WHERE election_id = $1`, a.Objects * available, &a.Shares},
		{"compensated shares", `SELECT count(*) FROM compensated_shares WHERE election_id = $1`, a.Objects * available * r.cfg.Missing, &a.CompensatedShares},
		{"plaintext results", `SELECT count(*) FROM plaintext_results WHERE election_id = $1`, a.Objects, &a.Plaintexts},
	} {
		if err := r.pool.QueryRow(ctx, q.sql, r.id).Scan(q.into); err != nil {
			return a, fmt.Errorf("audit: %s: %w", q.what, err)
		}
		if *q.into != q.want {
			return a, fmt.Errorf("audit: %d %s, want %d", *q.into, q.what, q.want)
		}
	}
	if a.Objects == 0 {
		return a, errors.New("audit: the election has nothing to decrypt")
	}
	return a, nil
}

// checkResults compares the decrypted results with the voters' plaintext.
func (r *chaosRun) checkResults(ctx context.Context, want *synth.Expected) error {
	res, err := r.svc.Results(ctx, r.id)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	if err := resultcheck.Compare(res, want); err != nil {
		return fmt.Errorf("results differ from the voters' plaintext: %w", err)
	}
	return nil
}
