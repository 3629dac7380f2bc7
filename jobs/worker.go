package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/internal/retry"
	"github.com/tallyq/tallyq/queue"
)

// WorkerConfig configures the chunk workers of one process.
type WorkerConfig struct {
	// Concurrency is the number of chunk slots; each holds one chunk at a time.
	Concurrency int
	// MemoryBudget is the heap, in bytes, above which the process takes no
	// new chunk (0: no budget).
	MemoryBudget int64
	// ShutdownGrace is how long running chunks may finish after a stop
	// before they are cancelled and released (default 30 s).
	ShutdownGrace time.Duration
	// ComputeNice, from 1 to 19, is the nice value of the OS threads that
	// compute chunks, so that the API, Postgres and lease renewals on the
	// same machine come first when the cores are full (0: chunks compute at
	// the process's priority). Linux only; elsewhere it is logged and
	// ignored.
	ComputeNice int
	// StartWait is how long to keep trying to start the broker while it
	// cannot reach its server (0: try once), as when RabbitMQ starts
	// together with the workers.
	StartWait time.Duration
}

// maxBatch caps how many claims or commits share one transaction.
const maxBatch = 256

// commitLoops is the number of commit transactions in flight at once. A
// commit waits for its WAL flush; Postgres flushes the commits that wait
// together at once, so several loops share each flush (group commit).
const commitLoops = 2

// RunWorkers consumes chunks through the broker until ctx is cancelled, then
// stops fetching, lets running chunks finish within the grace period (or
// releases them) and returns nil.
func (e *Engine) RunWorkers(ctx context.Context, cfg WorkerConfig) error {
	if cfg.Concurrency <= 0 {
		return fmt.Errorf("jobs: worker concurrency must be positive, got %d", cfg.Concurrency)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 30 * time.Second
	}
	if cfg.ComputeNice < 0 || cfg.ComputeNice > 19 {
		return fmt.Errorf("jobs: worker compute nice value must be from 0 to 19, got %d", cfg.ComputeNice)
	}
	// Claims and commits outlive ctx: chunks still running after the stop
	// must be able to commit or release during the grace period.
	bctx, stopBatchers := context.WithCancel(context.WithoutCancel(ctx))
	w := &worker{
		e:      e,
		cfg:    cfg,
		debug:  e.log.Enabled(ctx, slog.LevelDebug),
		leases: map[uuid.UUID]chunkKey{},
	}
	if cfg.ComputeNice > 0 {
		w.compute = startComputeThreads(cfg.Concurrency, cfg.ComputeNice, e.log)
		defer w.compute.stop()
	}
	w.claims = newBatcher(bctx, 2, maxBatch, e.claimBatch)
	w.commits = newBatcher(bctx, commitLoops, maxBatch, e.commitBatch)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); w.heartbeat(bctx) }()
	// The notifier stops after the last commit, so that it announces it.
	nctx, stopNotifier := context.WithCancel(context.WithoutCancel(ctx))
	notifierDone := make(chan struct{})
	go func() { defer close(notifierDone); e.progress.run(nctx, e.pool, e.log) }()
	releaserDone := make(chan struct{})
	go func() { defer close(releaserDone); e.releases.run(nctx, e) }()
	defer func() {
		stopBatchers()
		w.claims.wait()
		w.commits.wait()
		<-hbDone
		stopNotifier()
		<-notifierDone
		<-releaserDone
	}()

	// The broker stops when told to, below, not when ctx ends: River would
	// otherwise cancel running chunks at once, without the grace period.
	start := func(context.Context) error { return e.broker.Start(context.WithoutCancel(ctx), w, cfg.Concurrency) }
	waiting := func(err error, pause time.Duration) {
		e.log.Warn("waiting for the broker", "broker", e.broker.Name(), "error", err, "retryIn", pause)
	}
	if err := retry.Default(cfg.StartWait).Do(ctx, start, waiting); err != nil {
		return fmt.Errorf("start %s broker: %w", e.broker.Name(), err)
	}
	e.log.Info("workers started", "broker", e.broker.Name(), "concurrency", cfg.Concurrency, "memory_budget", cfg.MemoryBudget)
	<-ctx.Done()
	w.stopping.Store(true)
	e.log.Info("workers stopping", "grace", cfg.ShutdownGrace)
	graceCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := e.broker.Stop(graceCtx); err != nil {
		return fmt.Errorf("stop %s broker: %w", e.broker.Name(), err)
	}
	e.log.Info("workers stopped")
	return nil
}

// worker is the queue.Handler of one process's chunk slots.
type worker struct {
	e        *Engine
	cfg      WorkerConfig
	debug    bool // whether per-chunk debug lines are logged
	claims   *batcher[claimReq, claimOut]
	commits  *batcher[commitReq, commitOut]
	stopping atomic.Bool
	compute  *computeThreads // nil: compute on the broker's goroutine

	mu     sync.Mutex
	leases map[uuid.UUID]chunkKey // claim → its chunk
}

var _ queue.Handler = (*worker)(nil)

// MaxChunkTimeout returns the longest chunk timeout of the registered
// operations.
func (w *worker) MaxChunkTimeout() time.Duration {
	w.e.mu.RLock()
	defer w.e.mu.RUnlock()
	var longest time.Duration
	for _, op := range w.e.ops {
		longest = max(longest, op.ChunkTimeout())
	}
	return longest
}

// HandleChunk claims the chunk, computes it outside any transaction and
// commits its outcome in one short transaction fenced by the claim.
func (w *worker) HandleChunk(ctx context.Context, d *queue.Delivery) error {
	op, err := w.e.operation(d.Operation)
	if err != nil {
		return fmt.Errorf("chunk %s: %w; every worker must register the operations the API creates", d.Message, err)
	}
	if err := w.waitForHeadroom(ctx); err != nil {
		return err
	}
	c, err := w.claims.do(ctx, claimReq{jobID: d.JobID, chunk: d.Chunk})
	if err != nil {
		return fmt.Errorf("claim chunk %s: %w", d.Message, err)
	}
	if !c.ok {
		w.e.log.Debug("delivery ignored: chunk settled, claimed by a live worker or job not active", "chunk", d.Message.String(), "delivery", d.Attempt)
		return nil
	}
	w.e.cfg.Observer.ChunkStarted(d.Operation)
	req := commitReq{delivery: d, jobID: d.JobID, chunk: d.Chunk, claim: c.claim}
	if c.attempts > c.maxAttempts {
		req.outcome = outcomeFail
		req.errMsg = fmt.Sprintf("gave up after %d attempts; last: %s", c.maxAttempts, deref(c.lastError, "worker lost"))
		return w.commit(ctx, req, c, time.Now(), 0)
	}
	w.hold(c.claim, chunkKey{d.JobID, d.Chunk})
	defer w.release(c.claim)
	start, heapBefore := time.Now(), uint64(0)
	if w.debug {
		heapBefore = liveHeap()
	}
	res, perr := w.process(ctx, op, Chunk{JobID: d.JobID, Number: d.Chunk, Attempt: c.attempts, ElectionID: c.electionID, Metadata: c.metadata})
	switch {
	case perr == nil:
		req.outcome, req.result = outcomeDone, res
	case w.stopping.Load() && errors.Is(ctx.Err(), context.Canceled):
		req.outcome, req.notBefore = outcomeRelease, time.Now()
	default:
		req = w.e.failedAttempt(req, c.attempts, c.maxAttempts, perr)
	}
	return w.commit(ctx, req, c, start, heapBefore)
}

func (w *worker) commit(ctx context.Context, req commitReq, c claimOut, start time.Time, heapBefore uint64) error {
	// The chunk's own context may be over (timeout, shutdown) while its
	// outcome still has to be recorded; the commit loops stop only after
	// every worker has returned.
	out, err := w.commits.do(context.WithoutCancel(ctx), req)
	elapsed := time.Since(start)
	w.e.cfg.Observer.ChunkFinished(req.delivery.Operation, chunkOutcome(out.outcome, err == nil && out.applied), elapsed)
	if err != nil {
		return fmt.Errorf("commit chunk %s/%d: %w", req.jobID, req.chunk, err)
	}
	if !w.debug {
		return nil
	}
	w.e.log.Debug("chunk",
		"job_id", req.jobID, "chunk", req.chunk, "attempt", c.attempts, "outcome", outcomeState[out.outcome],
		"applied", out.applied, "duration_ms", elapsed.Milliseconds(),
		"heap_before", heapBefore, "heap_after", liveHeap(), "error", req.errMsg)
	return nil
}

// process computes a chunk, on a compute thread if the workers have them.
func (w *worker) process(ctx context.Context, op Operation, c Chunk) (res Result, err error) {
	cctx, cancel := computeContext(ctx, op.ChunkTimeout())
	defer cancel()
	if w.compute == nil {
		res, err = safeProcess(cctx, op, c)
	} else {
		w.compute.run(func() { res, err = safeProcess(cctx, op, c) })
	}
	if err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("chunk timed out after %s: %w", op.ChunkTimeout(), err)
	}
	return res, err
}

// computeContext is the context a chunk computes under: its operation's
// timeout counted from when it starts computing, not from its delivery (a
// message may carry several chunks, computed one after another), and
// cancelled when ctx is, as the workers stop. A deadline of the broker's on
// ctx is not the chunk's.
func computeContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			cancel()
		}
	})
	cancelTimeout := context.CancelFunc(func() {})
	if timeout > 0 {
		cctx, cancelTimeout = context.WithTimeout(cctx, timeout)
	}
	return cctx, func() { stop(); cancelTimeout(); cancel() }
}

// safeProcess runs the operation, turning a panic into an error.
func safeProcess(ctx context.Context, op Operation, c Chunk) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			res = nil
		}
	}()
	res, err = op.Process(ctx, c)
	if err == nil && res == nil {
		res = NoResult
	}
	return res, err
}

// DeliveryDead handles a message the broker gave up on: if its chunk is still
// waiting for it, that counts as a failed attempt.
func (w *worker) DeliveryDead(ctx context.Context, m queue.Message, reason string) error {
	return w.e.deliveryDead(ctx, m, reason)
}

func (e *Engine) deliveryDead(ctx context.Context, m queue.Message, reason string) error {
	var acted, settled bool
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		var (
			state                 ChunkState
			attempts, maxAttempts int
			waiting               bool
		)
		err := tx.QueryRow(ctx, `
			SELECT c.state, c.attempts, j.max_attempts,
				(c.state = 'pending' AND c.not_before IS NULL) OR (c.state = 'running' AND c.lease_until < now())
			FROM job_chunks c JOIN election_jobs j USING (job_id)
			WHERE c.job_id = $1 AND c.chunk_no = $2 AND j.status IN ('QUEUED', 'IN_PROGRESS')
			FOR UPDATE OF c`, m.JobID, m.Chunk).Scan(&state, &attempts, &maxAttempts, &waiting)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !waiting) {
			return nil // settled, or another delivery holds a live claim
		}
		if err != nil {
			return err
		}
		acted = true
		// A dead delivery counts as an attempt, so that a message the broker
		// keeps giving up on (RabbitMQ's delivery limit, River's discard)
		// ends in a failed chunk rather than cycling for ever.
		if attempts+1 < maxAttempts {
			_, err = tx.Exec(ctx, `UPDATE job_chunks SET state = 'pending', lease_until = NULL, not_before = $3, last_error = $4,
				attempts = attempts + 1 WHERE job_id = $1 AND chunk_no = $2`, m.JobID, m.Chunk, time.Now().Add(e.backoff(attempts+1)), reason)
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE job_chunks SET state = 'failed', lease_until = NULL, not_before = NULL,
			last_error = $3, attempts = greatest(attempts, $4), finished_at = now() WHERE job_id = $1 AND chunk_no = $2`,
			m.JobID, m.Chunk, reason, maxAttempts); err != nil {
			return err
		}
		settled = true
		return e.addCounts(ctx, tx, map[uuid.UUID]*[2]int{m.JobID: {0, 1}})
	})
	if err != nil {
		return fmt.Errorf("record dead delivery of %s: %w", m, err)
	}
	if acted {
		e.log.Warn("broker gave up on a chunk message", "chunk", m.String(), "reason", reason, "chunk_failed", settled)
		attempt := ChunkOutcomeRetried
		if settled {
			attempt = ChunkOutcomeFailed
		}
		e.cfg.Observer.ChunkDeliveryDead(m.Operation, attempt)
	}
	if settled {
		return e.settleReady(ctx, []uuid.UUID{m.JobID})
	}
	return nil
}

// claimReq asks for a chunk.
type claimReq struct {
	jobID uuid.UUID
	chunk int
}

// claimOut is a granted claim (ok) with what the chunk needs.
type claimOut struct {
	ok                    bool
	claim                 uuid.UUID
	attempts, maxAttempts int
	electionID            *int64
	metadata              []byte
	lastError             *string
}

// claimBatch claims chunks: each pending chunk, or running chunk whose lease
// has expired, of an active job gets a new claim token and its attempt
// counted; the job becomes IN_PROGRESS on its first claim.
func (e *Engine) claimBatch(ctx context.Context, reqs []claimReq) []batchResult[claimOut] {
	results := make([]batchResult[claimOut], len(reqs))
	jobIDs := make([][16]byte, len(reqs)) // see fenceArgs
	chunks := make([]int32, len(reqs))
	for i, r := range reqs {
		jobIDs[i], chunks[i] = r.jobID, int32(r.chunk)
	}
	got := map[chunkKey]claimOut{}
	var unstarted []uuid.UUID
	err := e.claimTx(ctx, jobIDs, chunks, func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				k          chunkKey
				c          claimOut
				notStarted bool
			)
			if err := rows.Scan((*[16]byte)(&k.job), &k.chunk, (*[16]byte)(&c.claim), &c.attempts, &c.maxAttempts, &c.electionID, &c.metadata, &c.lastError, &notStarted); err != nil {
				return err
			}
			c.ok = true
			got[k] = c
			if notStarted {
				unstarted = append(unstarted, k.job)
			}
		}
		return rows.Err()
	})
	if err == nil && len(unstarted) > 0 {
		e.startJobs(ctx, unstarted)
	}
	for i, r := range reqs {
		if err != nil {
			results[i].err = err
			continue
		}
		// Two deliveries of one chunk in one batch (a message requeued by a
		// retry beside its first) share one updated row: only the first gets
		// the claim, or both would compute and commit under it.
		k := chunkKey{r.jobID, r.chunk}
		results[i].out = got[k]
		delete(got, k)
	}
	return results
}

// claimSQL claims the chunks of a batch; see claimBatch.
const claimSQL = `
			WITH claimed AS (
				UPDATE job_chunks c SET
					state = 'running', attempts = c.attempts + 1, claim = gen_random_uuid(),
					lease_until = now() + $3::interval, not_before = NULL, started_at = now(),
					last_error = CASE WHEN c.state = 'running'
						THEN 'attempt ' || c.attempts || ': worker lost (lease expired)' ELSE c.last_error END
				FROM unnest($1::uuid[], $2::int[]) AS u(job_id, chunk_no), election_jobs j
				WHERE c.job_id = u.job_id AND c.chunk_no = u.chunk_no AND j.job_id = c.job_id
					AND j.status IN ('QUEUED', 'IN_PROGRESS')
					AND ((c.state = 'pending' AND (c.not_before IS NULL OR c.not_before <= now()))
						OR (c.state = 'running' AND c.lease_until < now()))
				RETURNING c.job_id, c.chunk_no, c.claim, c.attempts, j.max_attempts, j.election_id, j.metadata, c.last_error,
					j.status = 'QUEUED' AS queued
			), started AS (
				-- SKIP LOCKED: a job's row may be locked by a cancel, which waits
				-- for these chunk rows (waiting here would deadlock), by the
				-- maintenance loop settling it, or by another claim starting it.
				-- A job skipped here is started by startJobs after this commits.
				UPDATE election_jobs SET status = 'IN_PROGRESS', started_at = coalesce(started_at, now()), updated_at = now()
				WHERE job_id IN (SELECT q.job_id FROM election_jobs q WHERE q.job_id IN (SELECT job_id FROM claimed)
					AND q.status = 'QUEUED' FOR UPDATE SKIP LOCKED)
				RETURNING job_id, pg_notify($4, job_id::text)
			)
			SELECT c.job_id, c.chunk_no, c.claim, c.attempts, c.max_attempts, c.election_id, c.metadata, c.last_error,
				c.queued AND c.job_id NOT IN (SELECT job_id FROM started)
			FROM claimed c`

// startJobs marks IN_PROGRESS those of the given jobs still QUEUED: jobs
// whose rows another transaction held when a claim took their chunks. It
// runs after the claim committed and holds no chunk row, so it may wait for
// the job's row: a cancel holding it ends first (and then the job is not
// QUEUED). A failure leaves the status to the job's next claim; the chunks
// are claimed all the same.
func (e *Engine) startJobs(ctx context.Context, ids []uuid.UUID) {
	_, err := e.pool.Exec(ctx, `UPDATE election_jobs SET status = 'IN_PROGRESS', started_at = coalesce(started_at, now()), updated_at = now()
		WHERE job_id = ANY($1) AND status = 'QUEUED' RETURNING pg_notify($2, job_id::text)`, ids, StatusChannel)
	if err != nil && ctx.Err() == nil {
		e.log.Warn("start jobs whose chunks were claimed", "jobs", len(ids), "error", err)
	}
}

// claimTx runs the claim statement in one round trip, in a transaction that
// commits without waiting for its WAL flush. That is safe: should a crash
// lose the claim, the chunk reverts to its earlier state, its message is
// delivered again, and the worker that computed under the lost claim finds
// it stale at commit (whose own commit does wait for the flush, and thereby
// for every earlier record, claims included).
func (e *Engine) claimTx(ctx context.Context, jobIDs [][16]byte, chunks []int32, scan func(pgx.Rows) error) error {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue(`SET LOCAL synchronous_commit = off`)
	b.Queue(claimSQL, jobIDs, chunks, e.cfg.Lease, StatusChannel)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := scan(rows); err != nil {
		return err
	}
	return br.Close()
}

// hold and release track the claims whose leases this process renews.
func (w *worker) hold(claim uuid.UUID, k chunkKey) {
	w.mu.Lock()
	w.leases[claim] = k
	w.mu.Unlock()
}

func (w *worker) release(claim uuid.UUID) {
	w.mu.Lock()
	delete(w.leases, claim)
	w.mu.Unlock()
}

// heartbeat renews the leases of the chunks this process is computing, a
// third of a lease apart, in one statement.
func (w *worker) heartbeat(ctx context.Context) {
	t := time.NewTicker(w.e.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		n := len(w.leases)
		jobIDs, chunks, claims := make([][16]byte, 0, n), make([]int32, 0, n), make([][16]byte, 0, n)
		for c, k := range w.leases {
			jobIDs, chunks, claims = append(jobIDs, k.job), append(chunks, int32(k.chunk)), append(claims, c)
		}
		w.mu.Unlock()
		if n == 0 {
			continue
		}
		// By primary key: the claim column has no index.
		if _, err := w.e.pool.Exec(ctx, `UPDATE job_chunks c SET lease_until = now() + $4::interval
			FROM unnest($1::uuid[], $2::int[], $3::uuid[]) AS u(job_id, chunk_no, claim)
			WHERE c.job_id = u.job_id AND c.chunk_no = u.chunk_no AND c.claim = u.claim AND c.state = 'running'`,
			jobIDs, chunks, claims, w.e.cfg.Lease); err != nil && ctx.Err() == nil {
			w.e.log.Warn("renew chunk leases", "chunks", n, "error", err)
		}
	}
}

// waitForHeadroom blocks while the live heap is over the memory budget,
// collecting garbage first, so that the process takes no new chunk then.
func (w *worker) waitForHeadroom(ctx context.Context) error {
	budget := w.cfg.MemoryBudget
	if budget <= 0 || liveHeap() <= uint64(budget) {
		return nil
	}
	runtime.GC()
	if liveHeap() <= uint64(budget) {
		return nil
	}
	w.e.log.Warn("memory budget exceeded; taking no new chunk until the heap shrinks", "heap", liveHeap(), "budget", budget)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for liveHeap() > uint64(budget) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			debug.FreeOSMemory()
		}
	}
	return nil
}

// liveHeap returns the bytes of heap objects, live or not yet collected.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func deref(s *string, def string) string {
	if s == nil || *s == "" {
		return def
	}
	return *s
}
