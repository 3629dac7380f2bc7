package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tallyq/tallyq/queue"
)

// foldCounters moves a job's shard counts into its row. The DELETE returns
// the versions it removes, so an increment committed concurrently is either
// in what it returns or lands in a new shard row afterwards; never lost.
const foldCounters = `
	WITH d AS (DELETE FROM job_counter_shards WHERE job_id = $1 RETURNING processed, failed)
	UPDATE election_jobs SET
		processed_chunks = processed_chunks + coalesce((SELECT sum(processed) FROM d), 0),
		failed_chunks = failed_chunks + coalesce((SELECT sum(failed) FROM d), 0),
		updated_at = now()
	WHERE job_id = $1`

// lockJob locks a job's row for a lifecycle transition and returns its status.
func lockJob(ctx context.Context, tx pgx.Tx, id uuid.UUID) (JobStatus, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM election_jobs WHERE job_id = $1 FOR UPDATE`, id); err != nil {
		return JobStatus{}, fmt.Errorf("lock job %s: %w", id, err)
	}
	return statusOf(ctx, tx, id)
}

// finalize settles a job whose chunks are all done or failed: exactly once,
// because the transition is guarded by the job's row lock and its status,
// not by who saw the counter reach the total.
func (e *Engine) finalize(ctx context.Context, id uuid.UUID) error {
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		s, err := lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		if s.Status.Terminal() {
			return nil
		}
		settled := s.ProcessedChunks + s.FailedChunks
		if s.midStage() {
			// A window, not a stage: failures are judged when the stage ends.
			if s.released-settled > e.lowWater() {
				return nil
			}
			return e.release(ctx, tx, s, settled)
		}
		if settled < s.released {
			return nil
		}
		if _, err := tx.Exec(ctx, foldCounters, id); err != nil {
			return fmt.Errorf("fold counters of job %s: %w", id, err)
		}
		if s.FailedChunks > 0 {
			return e.markFailed(ctx, tx, s)
		}
		if s.released < s.TotalChunks {
			return e.release(ctx, tx, s, settled)
		}
		return e.complete(ctx, tx, s)
	})
}

// complete runs the operation's completion step and marks the job COMPLETED,
// or FAILED with the step's error (the step's writes are rolled back).
func (e *Engine) complete(ctx context.Context, tx pgx.Tx, s JobStatus) error {
	op, err := e.operation(s.OperationType)
	if err != nil {
		return err
	}
	stepErr := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { return op.Complete(ctx, sp, s) })
	if stepErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := "completion step failed: " + stepErr.Error()
		e.log.Error("job failed", "job_id", s.JobID, "operation", s.OperationType, "error", msg)
		return setStatus(ctx, tx, s.JobID, StatusFailed, &msg)
	}
	e.log.Info("job completed", "job_id", s.JobID, "operation", s.OperationType, "chunks", s.TotalChunks)
	return setStatus(ctx, tx, s.JobID, StatusCompleted, nil)
}

// markFailed marks a settled job with failed chunks FAILED, naming the first
// failed chunk and its error.
func (e *Engine) markFailed(ctx context.Context, tx pgx.Tx, s JobStatus) error {
	var (
		chunk    int
		attempts int
		lastErr  *string
	)
	err := tx.QueryRow(ctx, `SELECT chunk_no, attempts, last_error FROM job_chunks
		WHERE job_id = $1 AND state = 'failed' ORDER BY chunk_no LIMIT 1`, s.JobID).Scan(&chunk, &attempts, &lastErr)
	if err != nil {
		return fmt.Errorf("read failed chunk of job %s: %w", s.JobID, err)
	}
	reason := "unknown error"
	if lastErr != nil {
		reason = *lastErr
	}
	msg := fmt.Sprintf("chunk %d failed after %d attempts: %s", chunk, attempts, reason)
	if s.FailedChunks > 1 {
		msg += fmt.Sprintf(" (%d chunks failed in all)", s.FailedChunks)
	}
	e.log.Error("job failed", "job_id", s.JobID, "operation", s.OperationType, "failed_chunks", s.FailedChunks, "error", msg)
	return setStatus(ctx, tx, s.JobID, StatusFailed, &msg)
}

// StatusChannel is the Postgres notification channel on which the engine
// announces, with the job id as payload, every change of a job's status.
const StatusChannel = "tallyq_job_status"

func setStatus(ctx context.Context, tx pgx.Tx, id uuid.UUID, st Status, errMsg *string) error {
	_, err := tx.Exec(ctx, `UPDATE election_jobs SET status = $2, error_message = $3,
		completed_at = CASE WHEN $2 IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN now() END,
		updated_at = now() WHERE job_id = $1`, id, string(st), errMsg)
	if err != nil {
		return fmt.Errorf("set job %s %s: %w", id, st, err)
	}
	return notifyStatus(ctx, tx, id)
}

// notifyStatus announces a status change; Postgres delivers it on commit.
func notifyStatus(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, StatusChannel, id.String()); err != nil {
		return fmt.Errorf("notify status of job %s: %w", id, err)
	}
	return nil
}

// Cancel stops a QUEUED or IN_PROGRESS job: its pending chunks are cancelled;
// chunks already running finish and are counted.
func (e *Engine) Cancel(ctx context.Context, id uuid.UUID, by string) (JobStatus, error) {
	// The cancel locks the job's pending chunks while claims lock some of
	// them in their own order: Postgres may end either in a deadlock, and a
	// cancel is tried again (a claim's message is delivered again).
	err := retryDeadlock(ctx, func() error {
		return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			s, err := lockJob(ctx, tx, id)
			if err != nil {
				return err
			}
			if s.Status.Terminal() {
				return fmt.Errorf("%w: job %s is %s; only QUEUED or IN_PROGRESS jobs can be cancelled", ErrConflict, id, s.Status)
			}
			if _, err := tx.Exec(ctx, `UPDATE job_chunks SET state = 'cancelled', not_before = NULL, finished_at = now()
			WHERE job_id = $1 AND state = 'pending'`, id); err != nil {
				return fmt.Errorf("cancel chunks of job %s: %w", id, err)
			}
			msg := "cancelled by " + by
			if err := setStatus(ctx, tx, id, StatusCancelled, &msg); err != nil {
				return err
			}
			return RecordAudit(ctx, tx, AuditEntry{Actor: by, Action: AuditCancelJob, ElectionID: s.ElectionID, JobID: &id,
				Detail: fmt.Sprintf("%s, was %s", s.OperationType, s.Status)})
		})
	})
	if err != nil {
		return JobStatus{}, err
	}
	e.log.Info("job cancelled", "job_id", id, "by", by)
	return e.Status(ctx, id)
}

// Retry resumes a FAILED or CANCELLED job: it goes back to IN_PROGRESS and
// only its failed and cancelled chunks are queued again, with fresh attempts.
func (e *Engine) Retry(ctx context.Context, id uuid.UUID, by string) (JobStatus, error) {
	requeued := 0
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		s, err := lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		if s.Status != StatusFailed && s.Status != StatusCancelled {
			return fmt.Errorf("%w: job %s is %s; only FAILED or CANCELLED jobs can be retried", ErrConflict, id, s.Status)
		}
		if _, err := tx.Exec(ctx, foldCounters, id); err != nil {
			return fmt.Errorf("fold counters of job %s: %w", id, err)
		}
		// Chunks of stages not yet released go back to pending but wait
		// for their stage.
		rows, err := tx.Query(ctx, `WITH reset AS (UPDATE job_chunks SET state = 'pending', attempts = 0, claim = NULL,
			lease_until = NULL, not_before = NULL, finished_at = NULL
			WHERE job_id = $1 AND state IN ('failed', 'cancelled') RETURNING chunk_no)
			SELECT chunk_no FROM reset WHERE chunk_no < $2`, id, s.released)
		if err != nil {
			return fmt.Errorf("reset chunks of job %s: %w", id, err)
		}
		chunks, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("reset chunks of job %s: %w", id, err)
		}
		requeued = len(chunks)
		if _, err := tx.Exec(ctx, `UPDATE election_jobs SET status = 'IN_PROGRESS', error_message = NULL,
			completed_at = NULL, failed_chunks = 0, started_at = coalesce(started_at, now()), updated_at = now()
			WHERE job_id = $1`, id); err != nil {
			return fmt.Errorf("resume job %s: %w", id, err)
		}
		if err := notifyStatus(ctx, tx, id); err != nil {
			return err
		}
		if err := RecordAudit(ctx, tx, AuditEntry{Actor: by, Action: AuditRetryJob, ElectionID: s.ElectionID, JobID: &id,
			Detail: fmt.Sprintf("%s, was %s, %d chunks queued again", s.OperationType, s.Status, requeued)}); err != nil {
			return err
		}
		msgs := make([]queue.Message, len(chunks))
		for i, c := range chunks {
			msgs[i] = queue.Message{JobID: id, Chunk: c, Operation: s.OperationType}
		}
		return e.broker.EnqueueTx(ctx, tx, msgs)
	})
	if err != nil {
		return JobStatus{}, err
	}
	e.log.Info("job retried", "job_id", id, "by", by, "requeued_chunks", requeued)
	if requeued == 0 {
		// Nothing to redo but the completion step (it had failed).
		if err := e.finalize(ctx, id); err != nil {
			return JobStatus{}, err
		}
	}
	return e.Status(ctx, id)
}

// settleReady finalizes those of the given jobs (nil: of all active jobs)
// whose enqueued chunks are all settled, and releases the next window of
// those running low within a stage.
func (e *Engine) settleReady(ctx context.Context, ids []uuid.UUID) error {
	rows, err := e.pool.Query(ctx, `SELECT j.job_id`+statusFrom+`
		WHERE ($1::uuid[] IS NULL OR j.job_id = ANY($1)) AND j.status IN ('QUEUED', 'IN_PROGRESS')
		AND j.released_chunks - j.processed_chunks - j.failed_chunks - coalesce(s.processed, 0) - coalesce(s.failed, 0)
			<= CASE WHEN `+midStageSQL+` THEN $2 ELSE 0 END`, ids, e.lowWater())
	if err != nil {
		return fmt.Errorf("check settled jobs: %w", err)
	}
	ready, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("check settled jobs: %w", err)
	}
	var errs []error
	for _, id := range ready {
		if err := e.finalize(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("finalize job %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// release enqueues a job's next chunks: up to a window beyond its settled
// ones, never past the end of the stage they belong to. A new stage's
// release is announced as a status change.
func (e *Engine) release(ctx context.Context, tx pgx.Tx, s JobStatus, settled int) error {
	next := min(s.stageEndAfter(), settled+e.cfg.EnqueueWindow)
	if next <= s.released {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE election_jobs SET released_chunks = $2, updated_at = now() WHERE job_id = $1`,
		s.JobID, next); err != nil {
		return fmt.Errorf("release chunks %d-%d of job %s: %w", s.released, next-1, s.JobID, err)
	}
	if err := e.enqueueRange(ctx, tx, s.JobID, s.OperationType, s.released, next); err != nil {
		return err
	}
	e.logRelease(ctx, s, next)
	if s.midStage() {
		return nil
	}
	return notifyStatus(ctx, tx, s.JobID)
}

// Settle finalizes a job whose chunks are all settled, at once rather than
// at the maintenance loop's next sweep; it does nothing to any other job.
// Operations call it after creating a job with no chunks.
func (e *Engine) Settle(ctx context.Context, id uuid.UUID) error {
	return e.finalize(ctx, id)
}

// deadlockTries bounds retryDeadlock.
const deadlockTries = 5

// deadlockDetected is Postgres's SQLSTATE deadlock_detected.
const deadlockDetected = "40P01"

// retryDeadlock runs tx, a whole transaction, again while Postgres ends it
// as the victim of a deadlock, up to deadlockTries times.
func retryDeadlock(ctx context.Context, tx func() error) error {
	for try := 1; ; try++ {
		err := tx()
		var pgErr *pgconn.PgError
		if err == nil || try == deadlockTries || !errors.As(err, &pgErr) || pgErr.Code != deadlockDetected || ctx.Err() != nil {
			return err
		}
	}
}
