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
}

// commitBatch commits many attempts in one transaction; if that fails it
// commits them one by one, so that one bad result cannot hold back others.
func (e *Engine) commitBatch(ctx context.Context, reqs []commitReq) []batchResult[commitOut] {
	results := make([]batchResult[commitOut], len(reqs))
	applied, err := e.commitTx(ctx, reqs)
	if err == nil {
		for i := range reqs {
			results[i].out.applied = applied[i]
		}
		e.afterCommit(ctx, reqs, applied)
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
	applied, err := e.commitTx(ctx, one)
	if err != nil && r.outcome == outcomeDone && ctx.Err() == nil {
		var applyErr *applyError
		if errors.As(err, &applyErr) {
			one[0] = e.failedAttempt(r, applyErr.attempts, applyErr.maxAttempts, fmt.Errorf("apply result: %w", applyErr.err))
			applied, err = e.commitTx(ctx, one)
		}
	}
	if err != nil {
		return batchResult[commitOut]{err: err}
	}
	e.afterCommit(ctx, one, applied)
	return batchResult[commitOut]{out: commitOut{applied: applied[0]}}
}

// applyError is an operation's ApplyTx failing, as opposed to the database.
type applyError struct {
	err                   error
	attempts, maxAttempts int
}

func (a *applyError) Error() string { return a.err.Error() }
func (a *applyError) Unwrap() error { return a.err }

// commitTx is the one short transaction of invariant 2: fence every attempt
// by its claim, apply the results of those that hold it, add to the counters
// and settle the broker's deliveries. It reports which attempts applied.
func (e *Engine) commitTx(ctx context.Context, reqs []commitReq) ([]bool, error) {
	applied := make([]bool, len(reqs))
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		fenced, err := fence(ctx, tx, reqs)
		if err != nil {
			return err
		}
		deltas := map[uuid.UUID]*[2]int{}
		for i, r := range reqs {
			f, ok := fenced[chunkKey{r.jobID, r.chunk}]
			if !ok {
				continue
			}
			applied[i] = true
			if r.outcome == outcomeDone && r.result != nil {
				if err := r.result.ApplyTx(ctx, tx); err != nil {
					return &applyError{err: err, attempts: f.attempts, maxAttempts: f.maxAttempts}
				}
			}
			d := deltas[r.jobID]
			if d == nil {
				d = &[2]int{}
				deltas[r.jobID] = d
			}
			switch r.outcome {
			case outcomeDone:
				d[0]++
			case outcomeFail:
				d[1]++
			}
		}
		if err := e.addCounts(ctx, tx, deltas); err != nil {
			return err
		}
		for _, r := range reqs {
			if err := r.delivery.SettleTx(ctx, tx); err != nil {
				return fmt.Errorf("settle delivery %s: %w", r.delivery.Message, err)
			}
		}
		return nil
	})
	return applied, err
}

type chunkKey struct {
	job   uuid.UUID
	chunk int
}

type fencedChunk struct {
	attempts, maxAttempts int
}

// fence moves every chunk whose claim is still valid (and which is still
// running) to its outcome's state, in one statement, and returns those.
func fence(ctx context.Context, tx pgx.Tx, reqs []commitReq) (map[chunkKey]fencedChunk, error) {
	var (
		jobIDs, claims []uuid.UUID
		chunks         []int32
		states, errs   []string
		notBefore      []*time.Time
		release        []bool
	)
	for _, r := range reqs {
		if r.delivery != nil && r.claim == uuid.Nil {
			continue // settle only
		}
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
	fenced := map[chunkKey]fencedChunk{}
	if len(jobIDs) == 0 {
		return fenced, nil
	}
	rows, err := tx.Query(ctx, `
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
		RETURNING c.job_id, c.chunk_no, c.attempts,
			(SELECT max_attempts FROM election_jobs j WHERE j.job_id = c.job_id)`,
		jobIDs, chunks, claims, states, errs, notBefore, release)
	if err != nil {
		return nil, fmt.Errorf("fence chunks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k chunkKey
			f fencedChunk
		)
		if err := rows.Scan(&k.job, &k.chunk, &f.attempts, &f.maxAttempts); err != nil {
			return nil, fmt.Errorf("fence chunks: %w", err)
		}
		fenced[k] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fence chunks: %w", err)
	}
	return fenced, nil
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
	shard := int16(rand.N(e.cfg.CounterShards))
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

// afterCommit finalizes the jobs whose last chunks may just have settled.
func (e *Engine) afterCommit(ctx context.Context, reqs []commitReq, applied []bool) {
	var ids []uuid.UUID
	for i, r := range reqs {
		if applied[i] && (r.outcome == outcomeDone || r.outcome == outcomeFail) && !slices.Contains(ids, r.jobID) {
			ids = append(ids, r.jobID)
		}
	}
	if len(ids) == 0 {
		return
	}
	if err := e.settleReady(ctx, ids); err != nil {
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
