package jobs

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Operation is one kind of job: an election operation (TALLY, DECRYPTION,
// COMPENSATION, COMBINE) or a test operation. The engine splits a job into
// TotalChunks chunks, calls Process for each outside any transaction, applies
// the Result in the transaction that marks the chunk done and counts it, and
// calls Complete exactly once, in the transaction that marks the job
// COMPLETED, after every chunk is done.
type Operation interface {
	// Type is the operation's name, stored as the job's operation_type.
	Type() string
	// ChunkTimeout bounds one chunk's Process; a chunk running longer is
	// cancelled and counts as a failed attempt.
	ChunkTimeout() time.Duration
	// Process computes one chunk. It may read from Postgres but holds no
	// transaction open; its effect happens only through the Result.
	Process(ctx context.Context, c Chunk) (Result, error)
	// Complete runs once when the job's last chunk has committed, inside the
	// transaction that marks the job COMPLETED. An error fails the job
	// (retrying the job runs Complete again).
	Complete(ctx context.Context, tx pgx.Tx, job JobStatus) error
}

// Chunk identifies the chunk an Operation is asked to process.
type Chunk struct {
	JobID      uuid.UUID
	Number     int
	Attempt    int
	ElectionID *int64
	// Metadata is the job's metadata, as given to CreateJob.
	Metadata json.RawMessage
}

// Result is a chunk's computed effect, applied inside the commit transaction.
// ApplyTx runs at most once per chunk in a committed transaction: the engine
// calls it only for the attempt whose claim is still valid, and rolls it back
// with everything else if the transaction fails.
type Result interface {
	ApplyTx(ctx context.Context, tx pgx.Tx) error
}

// ResultFunc adapts a function to Result.
type ResultFunc func(ctx context.Context, tx pgx.Tx) error

// ApplyTx calls f.
func (f ResultFunc) ApplyTx(ctx context.Context, tx pgx.Tx) error { return f(ctx, tx) }

// NoResult is the Result of a chunk with no effect besides being counted.
var NoResult Result = ResultFunc(func(context.Context, pgx.Tx) error { return nil })
