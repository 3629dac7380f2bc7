package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/queue"
)

// maintenanceBatch bounds the chunks one maintenance pass touches per step.
const maintenanceBatch = 1000

// RunMaintenance runs the maintenance loop until ctx is done: it queues
// retries whose backoff is over, reclaims chunks whose worker stopped renewing
// its lease, and settles jobs whose last chunk committed without being
// settled (its worker died in between). Any number of processes may run it.
func (e *Engine) RunMaintenance(ctx context.Context) error {
	t := time.NewTicker(e.cfg.SweepInterval)
	defer t.Stop()
	for {
		if err := e.maintain(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("maintenance pass", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// maintain runs one maintenance pass.
func (e *Engine) maintain(ctx context.Context) error {
	return errors.Join(e.expireLeases(ctx), e.enqueueDue(ctx), e.settleAll(ctx))
}

// enqueueDue queues again the pending chunks whose not-before time has come.
func (e *Engine) enqueueDue(ctx context.Context) error {
	for {
		n := 0
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `
				WITH due AS (
					SELECT c.job_id, c.chunk_no, j.operation_type
					FROM job_chunks c JOIN election_jobs j USING (job_id)
					WHERE c.state = 'pending' AND c.not_before <= now() AND j.status IN ('QUEUED', 'IN_PROGRESS')
					ORDER BY c.not_before LIMIT $1
					FOR UPDATE OF c SKIP LOCKED
				)
				UPDATE job_chunks c SET not_before = NULL FROM due
				WHERE c.job_id = due.job_id AND c.chunk_no = due.chunk_no
				RETURNING c.job_id, c.chunk_no, due.operation_type`, maintenanceBatch)
			if err != nil {
				return err
			}
			msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (queue.Message, error) {
				var m queue.Message
				err := r.Scan(&m.JobID, &m.Chunk, &m.Operation)
				return m, err
			})
			if err != nil {
				return err
			}
			n = len(msgs)
			return e.broker.EnqueueTx(ctx, tx, msgs)
		})
		if err != nil {
			return fmt.Errorf("queue due retries: %w", err)
		}
		if n < maintenanceBatch {
			return nil
		}
	}
}

// expireLeases hands out again the chunks whose worker stopped renewing its
// claim (killed, partitioned, hung), or fails them once out of attempts.
func (e *Engine) expireLeases(ctx context.Context) error {
	var touched []uuid.UUID
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH expired AS (
				SELECT c.job_id, c.chunk_no, c.attempts >= j.max_attempts AS exhausted
				FROM job_chunks c JOIN election_jobs j USING (job_id)
				WHERE c.state = 'running' AND c.lease_until < now()
				LIMIT $1
				FOR UPDATE OF c SKIP LOCKED
			)
			UPDATE job_chunks c SET
				state = CASE WHEN expired.exhausted THEN 'failed' ELSE 'pending' END,
				not_before = CASE WHEN expired.exhausted THEN NULL ELSE now() END,
				finished_at = CASE WHEN expired.exhausted THEN now() END,
				lease_until = NULL,
				last_error = 'attempt ' || c.attempts || ': worker lost (lease expired)'
			FROM expired
			WHERE c.job_id = expired.job_id AND c.chunk_no = expired.chunk_no
			RETURNING c.job_id, expired.exhausted`, maintenanceBatch)
		if err != nil {
			return err
		}
		deltas := map[uuid.UUID]*[2]int{}
		for rows.Next() {
			var (
				id        uuid.UUID
				exhausted bool
			)
			if err := rows.Scan(&id, &exhausted); err != nil {
				rows.Close()
				return err
			}
			if deltas[id] == nil {
				deltas[id] = &[2]int{}
				touched = append(touched, id)
			}
			if exhausted {
				deltas[id][1]++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(touched) > 0 {
			e.log.Warn("chunk leases expired; chunks handed out again", "jobs", len(touched))
		}
		return e.addCounts(ctx, tx, deltas)
	})
	if err != nil {
		return fmt.Errorf("expire leases: %w", err)
	}
	if len(touched) == 0 {
		return nil
	}
	return e.settleReady(ctx, touched)
}

// settleAll finalizes every active job whose chunks are all settled.
func (e *Engine) settleAll(ctx context.Context) error {
	return e.settleReady(ctx, nil)
}
