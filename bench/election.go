package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/seal"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
	"github.com/tallyq/tallyq/queue"
	"github.com/tallyq/tallyq/queue/rabbitmq"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// electionService is the election pipeline as `tallyq serve` and `tallyq
// worker` build it: a broker and engine with their default settings.
type electionService struct {
	pool   *pgxpool.Pool
	engine *jobs.Engine
	svc    *election.Service
}

// serviceConfig says which broker an election service uses and whether it
// can decrypt on the server.
type serviceConfig struct {
	// amqpURL selects the RabbitMQ broker on that node; "" selects River.
	amqpURL string
	// sealKey, when set, seals guardian secrets so that the service can
	// decrypt on the server: hex, as TALLYQ_SECRET_KEY takes it (NewSealKey).
	sealKey string
	// queuePrefix names the RabbitMQ queues (default benchPrefix-pipeline).
	queuePrefix string
}

func newElectionService(pool *pgxpool.Pool, cfg serviceConfig, logger *slog.Logger) (*electionService, error) {
	var (
		broker queue.Broker
		err    error
	)
	if cfg.amqpURL != "" {
		broker, err = rabbitmq.New(pool, rabbitmq.Config{URL: cfg.amqpURL, Operations: election.Operations(), QueuePrefix: cmp.Or(cfg.queuePrefix, benchPrefix+"-pipeline"), Logger: logger})
	} else {
		broker, err = riverbroker.New(pool, riverbroker.Config{Logger: logger})
	}
	if err != nil {
		return nil, err
	}
	engine, err := jobs.NewEngine(pool, broker, jobs.Config{Logger: logger})
	if err != nil {
		return nil, err
	}
	ecfg := election.Config{Logger: logger}
	if cfg.sealKey != "" {
		key, err := seal.ParseKey(cfg.sealKey)
		if err != nil {
			return nil, err
		}
		ecfg.SecretKey = &key
	}
	svc, err := election.New(pool, engine, ecfg)
	if err != nil {
		return nil, err
	}
	return &electionService{pool: pool, engine: engine, svc: svc}, nil
}

// NewSealKey returns a random key for sealing guardian secrets, in hex as
// TALLYQ_SECRET_KEY takes it.
func NewSealKey() (string, error) {
	b := make([]byte, seal.KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// PoolInfo says which ballot pool a scenario used.
type PoolInfo struct {
	PoolSize   int  `json:"poolSize"`
	PoolReused bool `json:"poolReused"`
}

// electionBench is what the scenarios that tally ballots start from: the
// database's settings, the ballot pool and the election service.
type electionBench struct {
	*electionService
	postgres map[string]string
	ballots  *Pool
	progress func(string)
}

// startElectionBench reads the settings, loads (or generates) the pool and
// builds the service; progress may be nil.
func startElectionBench(ctx context.Context, pool *pgxpool.Pool, pc PoolConfig, sc serviceConfig, logger *slog.Logger, progress func(string)) (*electionBench, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if progress == nil {
		progress = func(string) {}
	}
	settings, err := PostgresSettings(ctx, pool)
	if err != nil {
		return nil, err
	}
	bp, err := LoadPool(ctx, pc)
	if err != nil {
		return nil, err
	}
	progress(poolNote(bp))
	s, err := newElectionService(pool, sc, logger)
	if err != nil {
		return nil, err
	}
	return &electionBench{electionService: s, postgres: settings, ballots: bp, progress: progress}, nil
}

// startWithElection is startElectionBench with a River service, then an
// election of that many cast ballots stored as checked copies.
func startWithElection(ctx context.Context, pool *pgxpool.Pool, pc PoolConfig, ballots int, logger *slog.Logger, progress func(string)) (*electionBench, int64, error) {
	b, err := startElectionBench(ctx, pool, pc, serviceConfig{}, logger, progress)
	if err != nil {
		return nil, 0, err
	}
	id, _, err := b.ingest(ctx, Shape{Ballots: ballots}, viaChecked)
	return b, id, err
}

func (b *electionBench) poolInfo() PoolInfo {
	return PoolInfo{PoolSize: len(b.ballots.Ballots), PoolReused: b.ballots.Reused}
}

func poolNote(p *Pool) string {
	how := "generated and cached"
	if p.Reused {
		how = "reused"
	}
	return fmt.Sprintf("ballot pool: %d distinct %s-group ballots, %s (%s)", len(p.Ballots), p.Config.Group, how, p.Dir)
}

// ingestPath is how an election's ballots reach the database.
type ingestPath int

const (
	// viaUpload streams NDJSON through the service's upload path, as
	// `tallyq import` and the API do.
	viaUpload ingestPath = iota
	// viaChecked stores relabelled copies of checked pool ballots through
	// the service's IngestChecked, skipping JSON and per-copy checks.
	viaChecked
)

// ingest creates an election of shape s from the pool, unverified, and
// returns its id and the ingest's duration.
func (b *electionBench) ingest(ctx context.Context, s Shape, path ingestPath) (int64, time.Duration, error) {
	start := time.Now()
	ingest, how := b.ballots.Ingest, "uploaded"
	if path == viaChecked {
		ingest, how = b.ballots.IngestChecked, "stored (checked copies)"
	}
	id, err := ingest(ctx, b.svc, s, false)
	d := time.Since(start)
	if err == nil {
		b.progress(fmt.Sprintf("%s %d ballots (%d spoiled) in %.1f s (%.0f ballots/s)", how, s.Ballots, s.Spoiled, d.Seconds(), float64(s.Ballots)/d.Seconds()))
	}
	return id, d, err
}

// reuse finds the latest election made from the pool with exactly the
// shape s that is OPEN or TALLIED (ingested by an earlier scenario, not yet
// decrypted), resets its tally, and returns its id; found is false when
// there is none.
func (b *electionBench) reuse(ctx context.Context, s Shape) (id int64, found bool, err error) {
	err = b.pool.QueryRow(ctx, `SELECT election_id FROM elections e
		WHERE created_by = $1 AND ballot_count = $2 AND state IN ('OPEN', 'TALLIED')
		AND (SELECT count(*) FROM ballots WHERE election_id = e.election_id AND state = $4) = $3
		ORDER BY election_id DESC LIMIT 1`, b.ballots.creator(), s.Ballots, s.Spoiled, int16(record.BallotSpoiled)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("look for an election of %d ballots to reuse: %w", s.Ballots, err)
	}
	var chunkSize int
	if err := b.pool.QueryRow(ctx, `SELECT chunk_size FROM elections WHERE election_id = $1`, id).Scan(&chunkSize); err != nil {
		return 0, false, err
	}
	if err := resetTally(ctx, b.pool, id, false, chunkSize); err != nil {
		return 0, false, err
	}
	b.progress(fmt.Sprintf("reusing election %d: %d ballots (%d spoiled) from an earlier scenario", id, s.Ballots, s.Spoiled))
	return id, true, nil
}

// resetTally returns a tallied election to OPEN with no tally, verifying
// its ballots or not, in chunks of chunkSize, so that the same stored
// ballots are tallied again. It knows the pipeline's tables; the scenarios'
// tests keep it in step with the schema.
func resetTally(ctx context.Context, pool *pgxpool.Pool, id int64, verify bool, chunkSize int) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, table := range []string{"decryption_objects", "spoiled_selections", "tally_subtotals", "invalid_ballots"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE election_id = $1`, id); err != nil {
				return fmt.Errorf("reset tally of election %d: %s: %w", id, table, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE elections SET state = 'OPEN', tally_job = NULL, verify_ballots = $2, chunk_size = $3
			WHERE election_id = $1`, id, verify, chunkSize); err != nil {
			return fmt.Errorf("reset tally of election %d: %w", id, err)
		}
		return nil
	})
}

// tallyRun is one tally job's outcome.
type tallyRun struct {
	job     jobs.JobStatus
	elapsed time.Duration // created → COMPLETED, by the database's clock
}

// tally starts the election's tally job and waits until it is terminal;
// the workers (here or in another process) must be running. It checks that
// every ballot was counted and none was found invalid.
func (s *electionService) tally(ctx context.Context, id int64, ballots int) (tallyRun, error) {
	started, err := s.svc.StartTally(ctx, id, "bench")
	if err != nil {
		return tallyRun{}, err
	}
	if !started.Created {
		return tallyRun{}, fmt.Errorf("election %d already had a tally job %s", id, started.Job.JobID)
	}
	job, err := WaitTerminal(ctx, s.pool, s.engine, started.Job.JobID)
	if err != nil {
		return tallyRun{}, err
	}
	if err := checkTallied(ctx, s.pool, id, job, ballots); err != nil {
		return tallyRun{}, err
	}
	return tallyRun{job: job, elapsed: job.CompletedAt.Sub(job.CreatedAt)}, nil
}

func checkTallied(ctx context.Context, pool *pgxpool.Pool, id int64, job jobs.JobStatus, ballots int) error {
	if job.Status != jobs.StatusCompleted || job.CompletedAt == nil {
		msg := ""
		if job.ErrorMessage != nil {
			msg = ": " + *job.ErrorMessage
		}
		return fmt.Errorf("tally job %s ended %s%s", uuid.UUID(job.JobID), job.Status, msg)
	}
	var counted, invalid int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(cast_count + spoiled), 0), coalesce(sum(invalid), 0)
		FROM tally_subtotals WHERE election_id = $1`, id).Scan(&counted, &invalid); err != nil {
		return fmt.Errorf("read subtotals: %w", err)
	}
	if counted != int64(ballots) || invalid != 0 {
		return fmt.Errorf("the tally counted %d valid and %d invalid ballots of %d", counted, invalid, ballots)
	}
	return nil
}
