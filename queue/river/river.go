// Package riverbroker is the default queue.Broker: chunk messages are River
// jobs in the same Postgres as everything else, fetched with
// FOR UPDATE SKIP LOCKED and completed inside the engine's transaction with
// river.JobCompleteTx.
//
// While a job has many chunks waiting, a River job carries up to
// Config.ChunksPerMessage consecutive ones, which its worker claims and
// computes one after another; the last one's commit completes it.
// River's cost is per job (insert, fetch, completion): at 8 chunks a job it
// is an eighth a chunk.
//
// Fairness: River fetches available jobs by (priority, scheduled_at, id). Each
// enqueued batch gets scheduled_at keys in the past that start at the queue's
// current frontier (the earliest available key) and step by a microsecond, so
// the chunks of a job created later interleave one for one with what is
// already queued instead of waiting behind it: round-robin across jobs.
package riverbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/tallyq/tallyq/queue"
)

// Kind is the River job kind of chunk messages.
const Kind = "tallyq_chunk"

// Config configures the River broker. The zero value is usable.
type Config struct {
	// Queue is the River queue chunks go to (default "tallyq").
	Queue string
	// MaxAttempts bounds River's own redeliveries of one message, which
	// happen only when the engine could not record anything (database
	// down) or a worker vanished; the engine counts chunk attempts itself.
	// Default 25.
	MaxAttempts int
	// RescueAfter is River's RescueStuckJobsAfter: how long a River job may
	// stay running before River's rescuer makes it available again. It must
	// exceed ChunksPerMessage times the longest chunk timeout, so that River
	// never hands chunks that are still computing to a second worker; the
	// default is that plus ten minutes, and at least one hour. A worker
	// lost before it claimed its chunk is found sooner (see OrphanAfter), and
	// one lost after, by the engine's lease.
	RescueAfter time.Duration
	// FetchCooldown is the least time between two fetches (default 2 ms).
	FetchCooldown time.Duration
	// FetchPollInterval is the fallback poll period when no notification
	// arrives (default 500 ms).
	FetchPollInterval time.Duration
	// DeadSweepInterval is how often discarded and orphaned River jobs are
	// reported to the engine (default 5 s).
	DeadSweepInterval time.Duration
	// OrphanAfter is how long a River job may be running before it is
	// reported to the engine as possibly orphaned: its worker died after
	// River handed it the job but before it claimed the chunk. The engine
	// ignores the report if the chunk is claimed (default 1 min).
	OrphanAfter time.Duration
	// ChunksPerMessage is the most consecutive chunks of one job a River job
	// carries (default DefaultChunksPerMessage, at most 256; 1: a job per
	// chunk). Runs of chunks long enough to keep every slot busy (see
	// PackSlots) go several to a job: River's cost is per job.
	ChunksPerMessage int
	// PackSlots is about how many chunk slots the deployment's workers run in
	// all: a run of n chunks enqueued together goes in jobs of n/(2×PackSlots)
	// chunks, at most ChunksPerMessage, shrinking to one as the run ends
	// (default DefaultPackSlots).
	PackSlots int
	// Logger receives River's and the broker's logs (default slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Queue == "" {
		c.Queue = "tallyq"
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 25
	}
	if c.FetchCooldown <= 0 {
		c.FetchCooldown = 2 * time.Millisecond
	}
	if c.FetchPollInterval <= 0 {
		c.FetchPollInterval = 500 * time.Millisecond
	}
	if c.DeadSweepInterval <= 0 {
		c.DeadSweepInterval = 5 * time.Second
	}
	if c.OrphanAfter <= 0 {
		c.OrphanAfter = time.Minute
	}
	if c.ChunksPerMessage <= 0 {
		c.ChunksPerMessage = DefaultChunksPerMessage
	}
	if c.PackSlots <= 0 {
		c.PackSlots = DefaultPackSlots
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Broker carries chunk messages as River jobs.
type Broker struct {
	pool   *pgxpool.Pool
	cfg    Config
	insert *river.Client[pgx.Tx]

	mu        sync.Mutex
	work      *river.Client[pgx.Tx]
	fetchPool *pgxpool.Pool
	stopDead  context.CancelFunc
	deadDone  chan struct{}
}

var _ queue.Broker = (*Broker)(nil)

// New returns a River broker on pool. It can enqueue at once; Start makes it
// consume.
func New(pool *pgxpool.Pool, cfg Config) (*Broker, error) {
	cfg = cfg.withDefaults()
	if cfg.ChunksPerMessage > maxChunksPerMessage {
		return nil, fmt.Errorf("River broker: ChunksPerMessage %d is over the most a job may carry, %d", cfg.ChunksPerMessage, maxChunksPerMessage)
	}
	insert, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("create River client: %w", err)
	}
	return &Broker{pool: pool, cfg: cfg, insert: insert}, nil
}

// Name returns "river".
func (b *Broker) Name() string { return "river" }

// chunkArgs is a chunk message as River job arguments: Count consecutive
// chunks of the job from Message.Chunk on (0: one).
type chunkArgs struct {
	queue.Message
	Count int `json:"count,omitempty"`
}

func (chunkArgs) Kind() string { return Kind }

// chunkHooks is the hook list of every chunk job; River looks it up per job,
// so it is built once. Nothing modifies it.
var chunkHooks = []rivertype.Hook{&availableHook{}}

// Hooks makes past scheduled_at keys insert as available (see availableHook).
func (chunkArgs) Hooks() []rivertype.Hook { return chunkHooks }

// availableHook marks a job whose scheduled_at is not in the future as
// available. River marks every job with an explicit ScheduledAt as scheduled,
// to be promoted by its scheduler seconds later; our keys are fairness keys
// in the past, so the job may run at once.
type availableHook struct{ river.HookDefaults }

func (*availableHook) InsertBegin(_ context.Context, p *rivertype.JobInsertParams) error {
	if p.ScheduledAt != nil && !p.ScheduledAt.After(time.Now()) && p.State == rivertype.JobStateScheduled {
		p.State = rivertype.JobStateAvailable
	}
	return nil
}

// EnqueueTx inserts the messages as River jobs with COPY, a long run of
// consecutive chunks of one job several to a job (see pack), keyed for
// round-robin fairness (see the package comment).
func (b *Broker) EnqueueTx(ctx context.Context, tx pgx.Tx, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	packed := b.pack(msgs)
	base, err := b.frontier(ctx, tx, len(packed))
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, len(packed))
	for i, a := range packed {
		params[i] = river.InsertManyParams{
			Args: a,
			InsertOpts: &river.InsertOpts{
				Queue:       b.cfg.Queue,
				MaxAttempts: b.cfg.MaxAttempts,
				ScheduledAt: base.Add(time.Duration(i) * time.Microsecond),
			},
		}
	}
	if _, err := b.insert.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("insert %d River jobs: %w", len(msgs), err)
	}
	return nil
}

// frontier returns the first fairness key for n new messages: the earliest
// key still waiting in the queue, but never so late that the last of the n
// keys would lie in the future.
func (b *Broker) frontier(ctx context.Context, tx pgx.Tx, n int) (time.Time, error) {
	var earliest *time.Time
	err := tx.QueryRow(ctx, `
		SELECT scheduled_at FROM river_job
		WHERE state = 'available' AND queue = $1 AND priority = 1
		ORDER BY scheduled_at LIMIT 1`, b.cfg.Queue).Scan(&earliest)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("read queue frontier: %w", err)
	}
	latest := time.Now().Add(-time.Duration(n+1) * time.Microsecond)
	if earliest == nil || earliest.After(latest) {
		return latest, nil
	}
	return *earliest, nil
}

// Start starts a River client working the queue with concurrency workers.
func (b *Broker) Start(ctx context.Context, h queue.Handler, concurrency int) error {
	if concurrency <= 0 {
		return fmt.Errorf("start River broker: concurrency must be positive, got %d", concurrency)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.work != nil {
		return errors.New("start River broker: already started")
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &chunkWorker{handler: h}); err != nil {
		return fmt.Errorf("register River worker: %w", err)
	}
	rescueAfter, err := b.rescueAfter(h)
	if err != nil {
		return err
	}
	fetchPool, err := asyncPool(ctx, b.pool, concurrency)
	if err != nil {
		return err
	}
	client, err := river.NewClient(riverpgxv5.New(fetchPool), &river.Config{
		Logger:               b.cfg.Logger,
		Queues:               map[string]river.QueueConfig{b.cfg.Queue: {MaxWorkers: concurrency}},
		Workers:              workers,
		MaxAttempts:          b.cfg.MaxAttempts,
		FetchCooldown:        b.cfg.FetchCooldown,
		FetchPollInterval:    b.cfg.FetchPollInterval,
		RescueStuckJobsAfter: rescueAfter,
		// No River timeout: the engine times each chunk's computation from
		// when it starts; a River job of several chunks runs them in turn.
		JobTimeout: -1,
	})
	if err != nil {
		return fmt.Errorf("create River worker client: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		fetchPool.Close()
		return fmt.Errorf("start River client: %w", err)
	}
	b.work, b.fetchPool = client, fetchPool
	deadCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.stopDead = cancel
	b.deadDone = make(chan struct{})
	go b.sweepDead(deadCtx, h)
	return nil
}

// QueueSettle adds to b the statement that completes the River jobs of
// many deliveries: the update river.JobCompleteTx makes for one job (state
// completed, finalized now, if still running), for all of them at once, so
// that a commit of many chunks costs one statement instead of one per chunk.
func (b *Broker) QueueSettle(batch *pgx.Batch, ds []*queue.Delivery) {
	ids := make([]int64, 0, len(ds))
	for _, d := range ds {
		if row, ok := d.Handle.(*rivertype.JobRow); ok {
			ids = append(ids, row.ID)
		}
	}
	batch.Queue(`UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = ANY($1) AND state = 'running'`, ids)
}

var _ queue.BatchSettler = (*Broker)(nil)

// Stop stops fetching and waits for running chunks until ctx is done, then
// cancels them.
func (b *Broker) Stop(ctx context.Context) error {
	b.mu.Lock()
	client, cancel, done, fetchPool := b.work, b.stopDead, b.deadDone, b.fetchPool
	b.work, b.fetchPool = nil, nil
	b.mu.Unlock()
	if client == nil {
		return queue.ErrNotStarted
	}
	defer fetchPool.Close()
	cancel()
	<-done
	err := client.Stop(ctx)
	if err == nil {
		return nil
	}
	// The grace period is over: cancel what still runs, so the engine
	// releases those chunks, and wait for River to wind down.
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopCancel()
	if cerr := client.StopAndCancel(stopCtx); cerr != nil {
		return fmt.Errorf("stop River client: %w", errors.Join(err, cerr))
	}
	return nil
}

// rescueAfter returns River's rescue delay for the handler's operations: a
// job of several chunks runs them one after another.
func (b *Broker) rescueAfter(h queue.Handler) (time.Duration, error) {
	longest := h.MaxChunkTimeout() * time.Duration(b.cfg.ChunksPerMessage)
	if b.cfg.RescueAfter == 0 {
		return max(time.Hour, longest+10*time.Minute), nil
	}
	if b.cfg.RescueAfter <= longest {
		return 0, fmt.Errorf("start River broker: RescueAfter %s must exceed ChunksPerMessage times the longest chunk timeout, %s; raise it or lower ChunksPerMessage", b.cfg.RescueAfter, longest)
	}
	return b.cfg.RescueAfter, nil
}

// asyncPool opens the pool of the River client that fetches chunk jobs. Its
// sessions commit without waiting for the WAL flush: a fetch that a crash
// loses only makes its jobs available again, and the chunks' claims and
// fences absorb the second delivery. Everything that must be durable, the
// chunk's result and River's completion of its job, commits in the engine's
// transactions on the main pool, which wait for the flush as usual.
func asyncPool(ctx context.Context, main *pgxpool.Pool, concurrency int) (*pgxpool.Pool, error) {
	cfg := main.Config().Copy()
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	cfg.MaxConns = int32(min(max(4, concurrency/8), 16))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open River fetch pool: %w", err)
	}
	return pool, nil
}

// Ready checks that River's tables answer.
func (b *Broker) Ready(ctx context.Context) error {
	var one int
	if err := b.pool.QueryRow(ctx, `SELECT 1 FROM river_job LIMIT 0`).Scan(&one); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("River tables unreachable: %w", err)
	}
	return nil
}

// chunkWorker hands River jobs to the engine.
type chunkWorker struct {
	river.WorkerDefaults[chunkArgs]
	handler queue.Handler
}

func (w *chunkWorker) Work(ctx context.Context, job *river.Job[chunkArgs]) error {
	msgs, err := job.Args.messages()
	if err != nil {
		return river.JobCancel(err)
	}
	// Each chunk is claimed only once the one before has committed, so that
	// those a lost worker never reached were never claimed and lose no
	// attempt (rescuePacks gives the job back). The last chunk's commit
	// completes the River job.
	last := len(msgs) - 1
	for i, m := range msgs {
		if i > 0 && ctx.Err() != nil {
			// Stopping: the rest go to the next worker at once, the job's
			// attempt not counted.
			return river.JobSnooze(0)
		}
		d := queue.NewDelivery(m, job.Attempt, nil, nil)
		if i == last {
			d = settledDelivery(ctx, job, m)
		}
		if err := w.handler.HandleChunk(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// settledDelivery is the delivery of m, the last chunk of job, whose commit
// transaction completes the River job with the chunk's result.
func settledDelivery(ctx context.Context, job *river.Job[chunkArgs], m queue.Message) *queue.Delivery {
	// The settle step runs in the engine's commit transaction, possibly
	// after this job's context has been cancelled; it needs only the
	// client that River put in the context.
	settleCtx := context.WithoutCancel(ctx)
	return queue.NewDelivery(m, job.Attempt, job.JobRow, func(_ context.Context, tx pgx.Tx) error {
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](settleCtx, tx, job); err != nil {
			return fmt.Errorf("complete River job %d: %w", job.ID, err)
		}
		return nil
	})
}

// sweepDead reports discarded chunk jobs to the engine once each, marking
// them in their metadata so that every process sees them reported.
func (b *Broker) sweepDead(ctx context.Context, h queue.Handler) {
	defer close(b.deadDone)
	t := time.NewTicker(b.cfg.DeadSweepInterval)
	defer t.Stop()
	for {
		if err := b.reportDead(ctx, h); err != nil && ctx.Err() == nil {
			b.cfg.Logger.Warn("report discarded River jobs", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Broker) reportDead(ctx context.Context, h queue.Handler) error {
	return errors.Join(
		b.report(ctx, h, `state = 'discarded'`, "tallyq_dead_reported", nil,
			func(id int64, why string) string { return "River discarded the message: " + why }),
		b.report(ctx, h, `state = 'running' AND attempted_at < now() - $2::interval AND `+singleChunkSQL, "tallyq_orphan_reported", b.cfg.OrphanAfter,
			func(id int64, _ string) string {
				return fmt.Sprintf("River job %d was handed to a worker over %s ago and the chunk was never claimed: the worker was lost", id, b.cfg.OrphanAfter)
			}),
		b.rescuePacks(ctx),
	)
}

// ChunksCarriedSQL is the SQL expression of how many chunks a river_job row
// of Kind carries.
const ChunksCarriedSQL = `coalesce((args->>'count')::int, 1)`

// singleChunkSQL holds for a River chunk job of one chunk.
const singleChunkSQL = ChunksCarriedSQL + ` <= 1`

// rescuePacks makes a River job of several chunks available again when its
// worker is gone: it has been running for over OrphanAfter and none of its
// chunks shows life, that is, is claimed under a live lease or finished
// within OrphanAfter (a live worker is never between two of them for
// longer than a commit). Its worker claimed each chunk only when it reached
// it, so the chunks it never reached were never claimed: given back to
// River rather than reported dead, as a lone chunk's job is, they lose no
// attempt. The chunk it died in comes back through its lease too.
func (b *Broker) rescuePacks(ctx context.Context) error {
	tag, err := b.pool.Exec(ctx, `
		UPDATE river_job SET state = 'available'
		WHERE id IN (
			SELECT r.id FROM river_job r
			WHERE r.kind = $1 AND r.state = 'running' AND r.attempted_at < now() - $2::interval
				AND NOT `+singleChunkSQL+`
				AND NOT EXISTS (
					SELECT 1 FROM job_chunks c
					WHERE c.job_id = (r.args->>'job_id')::uuid
						AND c.chunk_no >= (r.args->>'chunk')::int
						AND c.chunk_no < (r.args->>'chunk')::int + (r.args->>'count')::int
						AND ((c.state = 'running' AND c.lease_until >= now()) OR c.finished_at >= now() - $2::interval))
			ORDER BY r.id LIMIT 100
			FOR UPDATE OF r SKIP LOCKED)
			AND state = 'running'`, Kind, b.cfg.OrphanAfter)
	if err != nil {
		return fmt.Errorf("give back River jobs of lost workers: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		b.cfg.Logger.Warn("River jobs of several chunks given back: their worker was lost", "jobs", n)
	}
	return nil
}

// report hands the chunk jobs matching where to the engine as dead, once
// each: it marks them with the metadata key mark, so that every process of
// a deployment reports each one once.
func (b *Broker) report(ctx context.Context, h queue.Handler, where, mark string, arg any, reason func(id int64, lastErr string) string) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	args := []any{Kind}
	if arg != nil {
		args = append(args, arg)
	}
	rows, err := tx.Query(ctx, `
		SELECT id, args, coalesce(errors[array_length(errors, 1)]->>'error', 'no error recorded')
		FROM river_job
		WHERE kind = $1 AND `+where+` AND NOT (metadata ? '`+mark+`')
		ORDER BY id LIMIT 100
		FOR UPDATE SKIP LOCKED`, args...)
	if err != nil {
		return err
	}
	type dead struct {
		id      int64
		args    chunkArgs
		lastErr string
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dead, error) {
		var d dead
		err := r.Scan(&d.id, &d.args, &d.lastErr)
		return d, err
	})
	if err != nil {
		return err
	}
	for _, d := range found {
		msgs, err := d.args.messages()
		if err != nil {
			b.cfg.Logger.Warn("River job of another writer's arguments marked reported", "river_job", d.id, "error", err)
		}
		for _, m := range msgs {
			if err := h.DeliveryDead(ctx, m, reason(d.id, d.lastErr)); err != nil {
				return fmt.Errorf("report River job %d: %w", d.id, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE river_job SET metadata = metadata || jsonb_build_object($2::text, true) WHERE id = $1`, d.id, mark); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
