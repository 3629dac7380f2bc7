package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/migrations"
	"github.com/tallyq/tallyq/queue"
)

// Config tunes the engine. The zero value gives the defaults.
type Config struct {
	// MaxAttempts is how often a chunk is tried before it is failed (default 5).
	MaxAttempts int
	// Lease is how long a claim stays valid without a heartbeat; a chunk
	// whose worker stops renewing it is handed out again (default 30 s).
	Lease time.Duration
	// BackoffBase is the first retry's delay; each later one doubles, with
	// jitter (default 1 s).
	BackoffBase time.Duration
	// BackoffMax caps the retry delay (default 5 min).
	BackoffMax time.Duration
	// SweepInterval is the maintenance period: due retries, expired leases,
	// settled jobs (default 1 s).
	SweepInterval time.Duration
	// CounterShards is the number of counter rows per job (default 16).
	CounterShards int
	// EnqueueWindow is how many of a job's chunks are enqueued on the broker
	// ahead of its settled ones (default DefaultEnqueueWindow): a job is
	// created with its first window enqueued, and more are enqueued as
	// chunks settle, so creating a job of millions of chunks writes only
	// their rows at once. It does not limit how many chunks run at once.
	EnqueueWindow int
	// Logger receives the engine's logs (default slog.Default()).
	Logger *slog.Logger
	// Observer is told of every chunk attempt of this process's workers,
	// for metrics (nil: nobody).
	Observer Observer
}

func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.CounterShards <= 0 {
		c.CounterShards = 16
	}
	if c.EnqueueWindow <= 0 {
		c.EnqueueWindow = DefaultEnqueueWindow
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	return c
}

// Engine runs jobs: it creates them, hands their chunks to workers through a
// broker, commits results with exact counters and drives their lifecycle.
type Engine struct {
	pool   *pgxpool.Pool
	broker queue.Broker
	cfg    Config
	log    *slog.Logger

	mu  sync.RWMutex
	ops map[string]Operation

	progress *progressNotifier
	releases *releaser
}

// NewEngine returns an engine using pool for its state and broker for chunk
// messages.
func NewEngine(pool *pgxpool.Pool, broker queue.Broker, cfg Config) (*Engine, error) {
	if pool == nil || broker == nil {
		return nil, errors.New("jobs: NewEngine needs a pool and a broker")
	}
	cfg = cfg.withDefaults()
	return &Engine{pool: pool, broker: broker, cfg: cfg, log: cfg.Logger, ops: map[string]Operation{},
		progress: newProgressNotifier(), releases: newReleaser()}, nil
}

// Register makes op available to CreateJob and to workers. Every process
// that runs workers must register the same operations.
func (e *Engine) Register(op Operation) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.ops[op.Type()]; dup {
		return fmt.Errorf("jobs: operation %q registered twice", op.Type())
	}
	e.ops[op.Type()] = op
	return nil
}

func (e *Engine) operation(name string) (Operation, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	op, ok := e.ops[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownOperation, name)
	}
	return op, nil
}

// Ready returns nil when the database answers, its schema is current and
// the broker is ready.
func (e *Engine) Ready(ctx context.Context) error {
	if err := e.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if err := migrations.New(e.pool).Check(ctx); err != nil {
		return err
	}
	if err := e.broker.Ready(ctx); err != nil {
		return fmt.Errorf("broker %s not ready: %w", e.broker.Name(), err)
	}
	return nil
}

// backoff returns the delay before retrying after the given failed attempt:
// exponential, capped, with jitter over its upper half so that chunks that
// failed together do not retry together.
func (e *Engine) backoff(attempt int) time.Duration {
	d := e.cfg.BackoffBase
	for i := 1; i < attempt && d < e.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, e.cfg.BackoffMax)
	half := d / 2
	return half + rand.N(half+1)
}
