package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/queue"
)

// MaxChunks bounds one job's chunk count.
const MaxChunks = 10_000_000

// enqueueSlice bounds the messages handed to the broker at once, so that
// a large window does not hold all its messages in memory together.
const enqueueSlice = 10_000

// CreateJob creates a job in its own transaction: its row, one row per chunk
// (COPY) and the broker messages of its first window of chunks commit
// together or not at all.
func (e *Engine) CreateJob(ctx context.Context, p CreateParams) (JobStatus, error) {
	var s JobStatus
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		var err error
		s, err = e.CreateJobTx(ctx, tx, p)
		return err
	})
	if err != nil {
		return JobStatus{}, err
	}
	if s.TotalChunks == 0 {
		if err := e.finalize(ctx, s.JobID); err != nil {
			return s, err
		}
		return e.Status(ctx, s.JobID)
	}
	return s, nil
}

// CreateJobTx creates a job inside the caller's transaction, so that an
// operation can create its job atomically with its own rows. A job with no
// chunks is completed by the maintenance loop (CreateJob does it at once).
func (e *Engine) CreateJobTx(ctx context.Context, tx pgx.Tx, p CreateParams) (JobStatus, error) {
	if _, err := e.operation(p.OperationType); err != nil {
		return JobStatus{}, err
	}
	if p.TotalChunks < 0 || p.TotalChunks > MaxChunks {
		return JobStatus{}, fmt.Errorf("%w: totalChunks must be between 0 and %d, got %d", ErrInvalid, MaxChunks, p.TotalChunks)
	}
	stageEnds, released, err := stageBounds(p.Stages, p.TotalChunks)
	if err != nil {
		return JobStatus{}, err
	}
	released = min(released, e.cfg.EnqueueWindow)
	maxAttempts := p.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = e.cfg.MaxAttempts
	}
	metadata := p.Metadata
	if len(metadata) == 0 {
		metadata = json.RawMessage(`{}`)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return JobStatus{}, fmt.Errorf("new job id: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO election_jobs (job_id, election_id, operation_type, total_chunks, max_attempts, created_by, metadata,
			stage_ends, released_chunks)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		id, p.ElectionID, p.OperationType, p.TotalChunks, maxAttempts, p.CreatedBy, metadata, stageEnds, released); err != nil {
		return JobStatus{}, fmt.Errorf("insert job: %w", err)
	}
	// [16]byte and int32: pgx's native binary encodings (uuid.UUID would go
	// through its driver.Valuer as text, a million times for a large job).
	rawID := [16]byte(id)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"job_chunks"}, []string{"job_id", "chunk_no"},
		pgx.CopyFromSlice(p.TotalChunks, func(i int) ([]any, error) { return []any{rawID, int32(i)}, nil })); err != nil {
		return JobStatus{}, fmt.Errorf("insert %d chunks: %w", p.TotalChunks, err)
	}
	if err := e.enqueueRange(ctx, tx, id, p.OperationType, 0, released); err != nil {
		return JobStatus{}, err
	}
	if err := RecordAudit(ctx, tx, AuditEntry{Actor: p.CreatedBy, Action: AuditStartJob, ElectionID: p.ElectionID, JobID: &id,
		Detail: fmt.Sprintf("%s, %d chunks", p.OperationType, p.TotalChunks)}); err != nil {
		return JobStatus{}, err
	}
	e.log.Info("job created", "job_id", id, "operation", p.OperationType, "chunks", p.TotalChunks, "created_by", p.CreatedBy)
	return statusOf(ctx, tx, id)
}

// enqueueRange enqueues chunks [from, to) of a job in slices.
func (e *Engine) enqueueRange(ctx context.Context, tx pgx.Tx, id uuid.UUID, op string, from, to int) error {
	for lo := from; lo < to; lo += enqueueSlice {
		hi := min(lo+enqueueSlice, to)
		msgs := make([]queue.Message, 0, hi-lo)
		for i := lo; i < hi; i++ {
			msgs = append(msgs, queue.Message{JobID: id, Chunk: i, Operation: op})
		}
		if err := e.broker.EnqueueTx(ctx, tx, msgs); err != nil {
			return fmt.Errorf("enqueue chunks %d-%d of job %s: %w", lo, hi-1, id, err)
		}
	}
	return nil
}

// stageBounds turns stage sizes into each stage's end chunk number and the
// end of the first non-empty stage, which is released at creation.
func stageBounds(stages []int, total int) (ends []int, released int, err error) {
	if len(stages) == 0 {
		return []int{}, total, nil
	}
	sum := 0
	for i, n := range stages {
		if n < 0 || n > MaxChunks {
			return nil, 0, fmt.Errorf("%w: stage %d has %d chunks; a stage has 0 to %d", ErrInvalid, i, n, MaxChunks)
		}
		sum += n
		ends = append(ends, sum)
		if released == 0 {
			released = sum
		}
	}
	if sum != total {
		return nil, 0, fmt.Errorf("%w: stages add up to %d chunks, but totalChunks is %d", ErrInvalid, sum, total)
	}
	return ends, released, nil
}
