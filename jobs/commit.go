package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/queue"
)

// outcome is what an attempt ends in.
type outcome int

const (
	outcomeDone    outcome = iota // the result is applied and the chunk counted
	outcomeRetry                  // the chunk waits for its backoff, then is queued again
	outcomeFail                   // the chunk is failed for good and counted as failed
	outcomeRelease                // the worker gives the chunk back unfinished (shutdown)
)

var outcomeState = map[outcome]ChunkState{
	outcomeDone: ChunkDone, outcomeRetry: ChunkPending, outcomeFail: ChunkFailed, outcomeRelease: ChunkPending,
}

// commitReq is one attempt's end, to be committed.
type commitReq struct {
	delivery  *queue.Delivery
	jobID     uuid.UUID
	chunk     int
	claim     uuid.UUID
	outcome   outcome
	result    Result
	errMsg    string
	notBefore time.Time
}

// commitOut tells a worker whether its attempt's effect was committed
// (false: its claim was stale or the chunk already settled; nothing changed).
type commitOut struct {
	applied bool
	outcome outcome // as committed: an unappliable result turns done into a retry or fail
}

// commitBatch commits many attempts in one transaction; if that fails it
// commits them one by one, so that one bad result cannot hold back others.
func (e *Engine) commitBatch(ctx context.Context, reqs []commitReq) []batchResult[commitOut] {
	results := make([]batchResult[commitOut], len(reqs))
	applied, hints, err := e.commitTx(ctx, reqs)
	if err == nil {
		for i := range reqs {
			results[i].out = commitOut{applied: applied[i], outcome: reqs[i].outcome}
		}
		e.afterCommit(ctx, reqs, applied, hints)
		return results
	}
	if len(reqs) > 1 {
		e.log.Warn("batch commit failed; committing chunks one by one", "chunks", len(reqs), "error", err)
	}
	for i, r := range reqs {
		results[i] = e.commitOne(ctx, r)
	}
	return results
}

// commitOne commits a single attempt; a result that cannot be applied turns
// into a failed attempt of its chunk.
func (e *Engine) commitOne(ctx context.Context, r commitReq) batchResult[commitOut] {
	one := []commitReq{r}
	applied, hints, err := e.commitTx(ctx, one)
	if err != nil && r.outcome == outcomeDone && ctx.Err() == nil {
		var applyErr *applyError
		if errors.As(err, &applyErr) {
			one[0] = e.failedAttempt(r, applyErr.attempts, applyErr.maxAttempts, fmt.Errorf("apply result: %w", applyErr.err))
			applied, hints, err = e.commitTx(ctx, one)
		}
	}
	if err != nil {
		return batchResult[commitOut]{err: err}
	}
	e.afterCommit(ctx, one, applied, hints)
	return batchResult[commitOut]{out: commitOut{applied: applied[0], outcome: one[0].outcome}}
}

// applyError is an operation's ApplyTx failing, as opposed to the database.
type applyError struct {
	err                   error
	attempts, maxAttempts int
}

func (a *applyError) Error() string { return a.err.Error() }
func (a *applyError) Unwrap() error { return a.err }

// commitTx is the one short transaction of invariant 2: fence every attempt
// by its claim and count the settled ones (one statement), apply the results
// of those that held their claim, and settle the broker's deliveries. It
// reports which attempts applied and which jobs may have just settled or
// run low.
func (e *Engine) commitTx(ctx context.Context, reqs []commitReq) ([]bool, settleHints, error) {
	applied := make([]bool, len(reqs))
	var hints settleHints
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		fenced, settled, err := e.fenceAndSettle(ctx, tx, reqs)
		if err != nil {
			return err
		}
		for i, r := range reqs {
			f, ok := fenced.chunks[chunkKey{r.jobID, r.chunk}]
			if !ok {
				continue
			}
			applied[i] = true
			if r.outcome == outcomeDone && r.result != nil {
				if err := r.result.ApplyTx(ctx, tx); err != nil {
					return &applyError{err: err, attempts: f.attempts, maxAttempts: f.maxAttempts}
				}
			}
		}
		hints = fenced.hints
		if settled {
			return nil
		}
		for _, r := range reqs {
			if err := r.delivery.SettleTx(ctx, tx); err != nil {
				return fmt.Errorf("settle delivery %s: %w", r.delivery.Message, err)
			}
		}
		return nil
	})
	return applied, hints, err
}

type chunkKey struct {
	job   uuid.UUID
	chunk int
}

type fencedChunk struct {
	attempts, maxAttempts int
}

// fenceResult is what fence found.
type fenceResult struct {
	chunks map[chunkKey]fencedChunk
	hints  settleHints
}

// settleHints are what a commit saw of its jobs' remaining chunks.
type settleHints struct {
	// nearlySettled are jobs with so few chunks left, as the commit saw
	// them, that they may be settled once it commits.
	nearlySettled []uuid.UUID
	// runningLow are jobs with so few enqueued chunks left in a stage with
	// more to come that their next window is due.
	runningLow []uuid.UUID
}

// nearlySettledMargin is how many unsettled chunks, as one commit sees
// them, may belong to other commits in flight at the same time. A job within
// the margin is checked after commit; beyond it, the last commit will see it.
const nearlySettledMargin = 4 * maxBatch

// fenceSQL moves every chunk whose claim is still valid (and which is still
// running) to its outcome's state, adds the settled ones to one counter shard
// per job (in job order, so concurrent commits cannot deadlock on shards), and
// returns the fenced chunks with their job's unsettled count as this
// statement's snapshot saw it (without its own additions).
const fenceSQL = `
	WITH fenced AS (
		UPDATE job_chunks c SET
			state = u.state,
			last_error = CASE WHEN u.err = '' THEN c.last_error ELSE u.err END,
			not_before = u.not_before,
			lease_until = NULL,
			attempts = c.attempts - CASE WHEN u.release THEN 1 ELSE 0 END,
			finished_at = CASE WHEN u.state IN ('done', 'failed') THEN now() END
		FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $7::bool[])
			AS u(job_id, chunk_no, claim, state, err, not_before, release)
		WHERE c.job_id = u.job_id AND c.chunk_no = u.chunk_no AND c.claim = u.claim AND c.state = 'running'
		RETURNING c.job_id, c.chunk_no, c.attempts, c.state
	), counted AS (
		INSERT INTO job_counter_shards (job_id, shard, processed, failed)
		SELECT job_id, $8::smallint, count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'failed')
		FROM fenced WHERE state IN ('done', 'failed')
		GROUP BY job_id ORDER BY job_id
		ON CONFLICT (job_id, shard) DO UPDATE SET
			processed = job_counter_shards.processed + excluded.processed,
			failed = job_counter_shards.failed + excluded.failed
		RETURNING job_id
	)
	, unsettled AS (
		SELECT j.job_id, j.max_attempts, j.released_chunks - j.processed_chunks - j.failed_chunks
			- coalesce((SELECT sum(s.processed + s.failed) FROM job_counter_shards s WHERE s.job_id = j.job_id), 0) AS n,
			` + midStageSQL + ` AS windowed
		FROM election_jobs j WHERE j.job_id IN (SELECT job_id FROM fenced)
	)
	SELECT f.job_id, f.chunk_no, f.attempts, f.state, u.max_attempts, u.n, u.windowed
	FROM fenced f JOIN unsettled u USING (job_id)
	LEFT JOIN (SELECT count(*) FROM counted) n ON true`

// fenceAndSettle runs the fence and, when the broker can settle a batch in
// one statement, that statement, in one round trip. It reports whether the
// deliveries are settled.
func (e *Engine) fenceAndSettle(ctx context.Context, tx pgx.Tx, reqs []commitReq) (fenceResult, bool, error) {
	bs, batched := e.broker.(queue.BatchSettler)
	if !batched || len(reqs) == 1 {
		res, err := e.fence(ctx, tx.Query, reqs)
		return res, false, err
	}
	b := &pgx.Batch{}
	b.Queue(fenceSQL, e.fenceArgs(ctx, reqs)...)
	ds := make([]*queue.Delivery, len(reqs))
	for i, r := range reqs {
		ds[i] = r.delivery
	}
	bs.QueueSettle(b, ds)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	res, err := e.fence(ctx, func(context.Context, string, ...any) (pgx.Rows, error) { return br.Query() }, reqs)
	if err != nil {
		return res, false, err
	}
	if _, err := br.Exec(); err != nil {
		return res, false, fmt.Errorf("settle %d deliveries: %w", len(ds), err)
	}
	return res, true, br.Close()
}

func (e *Engine) fenceArgs(ctx context.Context, reqs []commitReq) []any {
	// [16]byte, not uuid.UUID: pgx encodes it natively, while uuid.UUID
	// goes through its driver.Valuer as text.
	var (
		jobIDs, claims [][16]byte
		chunks         []int32
		states, errs   []string
		notBefore      []*time.Time
		release        []bool
	)
	for _, r := range reqs {
		jobIDs = append(jobIDs, r.jobID)
		chunks = append(chunks, int32(r.chunk))
		claims = append(claims, r.claim)
		states = append(states, string(outcomeState[r.outcome]))
		errs = append(errs, r.errMsg)
		var nb *time.Time
		if r.outcome == outcomeRetry || r.outcome == outcomeRelease {
			t := r.notBefore
			nb = &t
		}
		notBefore = append(notBefore, nb)
		release = append(release, r.outcome == outcomeRelease)
	}
	return []any{jobIDs, chunks, claims, states, errs, notBefore, release, int16(shardOf(ctx, e.cfg.CounterShards))}
}

// fence runs the fence statement through query and reads what it returns.
func (e *Engine) fence(ctx context.Context, query func(context.Context, string, ...any) (pgx.Rows, error), reqs []commitReq) (fenceResult, error) {
	res := fenceResult{chunks: map[chunkKey]fencedChunk{}}
	rows, err := query(ctx, fenceSQL, e.fenceArgs(ctx, reqs)...)
	if err != nil {
		return res, fmt.Errorf("fence chunks: %w", err)
	}
	defer rows.Close()
	unsettled := map[uuid.UUID]int{}
	windowed := map[uuid.UUID]bool{}
	for rows.Next() {
		var (
			k         chunkKey
			f         fencedChunk
			state     ChunkState
			remaining int
			midStage  bool
		)
		if err := rows.Scan((*[16]byte)(&k.job), &k.chunk, &f.attempts, &state, &f.maxAttempts, &remaining, &midStage); err != nil {
			return res, fmt.Errorf("fence chunks: %w", err)
		}
		res.chunks[k] = f
		if _, seen := unsettled[k.job]; !seen {
			unsettled[k.job] = remaining
			windowed[k.job] = midStage
		}
		if state == ChunkDone || state == ChunkFailed {
			unsettled[k.job]--
		}
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("fence chunks: %w", err)
	}
	for id, n := range unsettled {
		switch {
		case windowed[id] && n <= e.lowWater():
			res.hints.runningLow = append(res.hints.runningLow, id)
		case !windowed[id] && n <= nearlySettledMargin:
			res.hints.nearlySettled = append(res.hints.nearlySettled, id)
		}
	}
	return res, nil
}

// addCounts adds done and failed counts to one random shard of each job, in
// job order so that concurrent transactions cannot deadlock on shard rows.
func (e *Engine) addCounts(ctx context.Context, tx pgx.Tx, deltas map[uuid.UUID]*[2]int) error {
	if len(deltas) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(deltas))
	for id, d := range deltas {
		if d[0] != 0 || d[1] != 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	shard := int16(shardOf(ctx, e.cfg.CounterShards))
	shards := make([]int16, len(ids))
	processed := make([]int32, len(ids))
	failed := make([]int32, len(ids))
	for i, id := range ids {
		shards[i] = shard
		processed[i] = int32(deltas[id][0])
		failed[i] = int32(deltas[id][1])
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO job_counter_shards (job_id, shard, processed, failed)
		SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::int[], $4::int[])
		ON CONFLICT (job_id, shard) DO UPDATE SET
			processed = job_counter_shards.processed + excluded.processed,
			failed = job_counter_shards.failed + excluded.failed`, ids, shards, processed, failed)
	if err != nil {
		return fmt.Errorf("add to job counters: %w", err)
	}
	return nil
}

// shardKey carries a commit loop's counter shard in its context.
type shardKey struct{}

// shardOf returns the counter shard of the commit loop running ctx: each
// loop has its own, so the loops of one process never wait for each other's
// counter rows; processes start at random offsets.
func shardOf(ctx context.Context, shards int) int {
	if s, ok := ctx.Value(shardKey{}).(int); ok {
		return s % shards
	}
	return rand.N(shards)
}

// afterCommit announces the progress of the committed attempts' jobs,
// asks for the next window of those running low and finalizes those whose
// last chunks may just have settled.
func (e *Engine) afterCommit(ctx context.Context, reqs []commitReq, applied []bool, hints settleHints) {
	for i, r := range reqs {
		if applied[i] && (r.outcome == outcomeDone || r.outcome == outcomeFail) {
			e.progress.touch(r.jobID)
		}
	}
	e.releases.ask(hints.runningLow)
	if len(hints.nearlySettled) == 0 {
		return
	}
	if err := e.settleReady(ctx, hints.nearlySettled); err != nil {
		// The maintenance loop settles it later.
		e.log.Warn("settle jobs after commit", "error", err)
	}
}

// failedAttempt turns an attempt into a retry or, at the last attempt, a
// failure of its chunk.
func (e *Engine) failedAttempt(r commitReq, attempts, maxAttempts int, cause error) commitReq {
	r.result = nil
	r.errMsg = fmt.Sprintf("attempt %d: %v", attempts, cause)
	if attempts >= maxAttempts {
		r.outcome = outcomeFail
		return r
	}
	r.outcome = outcomeRetry
	r.notBefore = time.Now().Add(e.backoff(attempts))
	return r
}
