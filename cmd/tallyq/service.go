package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/tallyq/tallyq/internal/metrics"
	"github.com/tallyq/tallyq/internal/seal"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
	"github.com/tallyq/tallyq/migrations"
	"github.com/tallyq/tallyq/queue"
	"github.com/tallyq/tallyq/queue/rabbitmq"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// service is a running job engine: what serve and worker share.
type service struct {
	logger    *slog.Logger
	pool      *pgxpool.Pool
	engine    *jobs.Engine
	elections *election.Service
	metrics   *metrics.Registry // the process's metrics, observing the engine's workers
	opts      engineOptions
}

// startService connects to the database, refuses a schema that is not
// current, and builds the broker and the engine, sealing guardian secrets
// with the key in TALLYQ_SECRET_KEY.
func startService(ctx context.Context, logger *slog.Logger, opts engineOptions, slots int) (*service, error) {
	key, err := secretKey(logger)
	if err != nil {
		return nil, err
	}
	return startServiceWithKey(ctx, logger, opts, slots, key)
}

// startServiceWithKey is startService with the sealing key given (nil for
// none), for `tallyq demo`, which makes one when the environment has none.
func startServiceWithKey(ctx context.Context, logger *slog.Logger, opts engineOptions, slots int, key *seal.Key) (_ *service, err error) {
	pool, err := connect(ctx, opts.databaseURL, slots, opts.connectWait, logger)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			pool.Close()
		}
	}()
	if err := migrations.New(pool).Check(ctx); err != nil {
		return nil, err
	}
	broker, err := newBroker(pool, opts, logger)
	if err != nil {
		return nil, err
	}
	reg := metrics.New(metrics.Config{Operations: election.Operations(), MemoryBudget: int64(opts.memoryBudget),
		Logger: logger.With("component", "metrics")})
	engine, err := jobs.NewEngine(pool, broker, jobs.Config{
		MaxAttempts: opts.maxAttempts,
		Lease:       opts.lease,
		Logger:      logger.With("component", "engine"),
		Observer:    reg,
	})
	if err != nil {
		return nil, err
	}
	elections, err := election.New(pool, engine, election.Config{ChunkSize: opts.chunkSize, SecretKey: key,
		Logger: logger.With("component", "election")})
	if err != nil {
		return nil, err
	}
	return &service{logger: logger, pool: pool, engine: engine, elections: elections, metrics: reg, opts: opts}, nil
}

// newBroker builds the broker --broker names.
func newBroker(pool *pgxpool.Pool, opts engineOptions, logger *slog.Logger) (queue.Broker, error) {
	if opts.broker.value == "rabbitmq" {
		b, err := rabbitmq.New(pool, rabbitmq.Config{
			URL:         opts.amqpURL,
			Operations:  election.Operations(),
			QueuePrefix: opts.amqpPrefix,
			Logger:      logger.With("component", "rabbitmq"),
		})
		if err != nil {
			return nil, err // not a nil *Broker in a non-nil interface
		}
		return b, nil
	}
	return riverbroker.New(pool, riverbroker.Config{Logger: logger.With("component", "river")})
}

// secretKey reads TALLYQ_SECRET_KEY, which seals guardian secrets. Without
// it the service runs, but server-side decryption is refused.
func secretKey(logger *slog.Logger) (*seal.Key, error) {
	key, err := seal.KeyFromEnv()
	if errors.Is(err, seal.ErrNoKey) {
		logger.Warn("no " + seal.EnvVar + ": server-side guardian decryption is disabled (guardians can still decrypt offline)")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &key, nil
}

// setMemoryLimit makes the Go runtime collect harder as the heap nears the
// budget, leaving a tenth of it for what the runtime does not count.
func setMemoryLimit(budget int64, logger *slog.Logger) {
	if budget <= 0 {
		return
	}
	limit := budget / 10 * 9
	debug.SetMemoryLimit(limit)
	logger.Info("memory limit set", "budget", formatByteSize(budget), "goMemLimit", limit)
}

// setGCPercent sets the garbage collector's target (GOGC) to percent, or
// leaves the runtime's (the GOGC variable, else 100) for 0.
func setGCPercent(percent int, logger *slog.Logger) {
	if percent <= 0 {
		return
	}
	debug.SetGCPercent(percent)
	logger.Info("GC target set", "gcPercent", percent)
}

// run runs slots chunk workers (none if 0), the maintenance loop and extra
// (the HTTP server, if any) until ctx is cancelled or one of them fails;
// then it waits for all of them to wind down and closes the pool.
func (s *service) run(parent context.Context, slots int, extra func(ctx context.Context) error) error {
	defer s.pool.Close()
	setMemoryLimit(int64(s.opts.memoryBudget), s.logger)
	g, ctx := errgroup.WithContext(parent)
	g.Go(func() error {
		if err := s.engine.RunMaintenance(ctx); err != nil {
			return fmt.Errorf("maintenance: %w", err)
		}
		return nil
	})
	if slots > 0 {
		g.Go(func() error {
			err := s.engine.RunWorkers(ctx, jobs.WorkerConfig{
				Concurrency:   slots,
				MemoryBudget:  int64(s.opts.memoryBudget),
				ShutdownGrace: s.opts.shutdownGrace,
				ComputeNice:   s.opts.computeNice,
				StartWait:     s.opts.connectWait,
			})
			if err != nil {
				return fmt.Errorf("workers: %w", err)
			}
			return nil
		})
	}
	if extra != nil {
		g.Go(func() error { return extra(ctx) })
	}
	<-ctx.Done()
	s.logger.Info("shutting down", "grace", s.opts.shutdownGrace)
	err := g.Wait()
	if err != nil && parent.Err() != nil && errors.Is(err, context.Canceled) {
		// The signal came while a part was still starting; it stopped
		// with the context, which is a clean stop too.
		s.logger.Info("stopped during start-up", "detail", err)
		err = nil
	}
	if err == nil {
		s.logger.Info("stopped")
	}
	return err
}
