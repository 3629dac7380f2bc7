// Package jobs is tallyq's job engine: jobs split into chunks, exact progress
// counters, retries with backoff, leases, fair scheduling and the lifecycle
// QUEUED → IN_PROGRESS → COMPLETED | FAILED | CANCELLED. The work itself is
// done by Operations registered with the engine; chunk messages travel through
// a queue.Broker, which the engine never looks behind.
package jobs

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Status is a job's lifecycle state.
type Status string

// Job statuses, as the seed frontend reads them.
const (
	StatusQueued     Status = "QUEUED"
	StatusInProgress Status = "IN_PROGRESS"
	StatusCompleted  Status = "COMPLETED"
	StatusFailed     Status = "FAILED"
	StatusCancelled  Status = "CANCELLED"
)

// Terminal reports whether a job in status s changes no more by itself.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusQueued, StatusInProgress, StatusCompleted, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// ChunkState is the state of one chunk.
type ChunkState string

// Chunk states.
const (
	ChunkPending   ChunkState = "pending"
	ChunkRunning   ChunkState = "running"
	ChunkDone      ChunkState = "done"
	ChunkFailed    ChunkState = "failed"
	ChunkCancelled ChunkState = "cancelled"
)

// JobStatus is a job as clients see it. Its JSON is exactly the seed
// frontend's status response plus chunksPerSecond and etaSeconds.
type JobStatus struct {
	JobID           uuid.UUID  `json:"jobId"`
	Status          Status     `json:"status"`
	TotalChunks     int        `json:"totalChunks"`
	ProcessedChunks int        `json:"processedChunks"`
	FailedChunks    int        `json:"failedChunks"`
	ProgressPercent float64    `json:"progressPercent"`
	StartedAt       *time.Time `json:"startedAt"`
	CompletedAt     *time.Time `json:"completedAt"`
	ErrorMessage    *string    `json:"errorMessage"`
	OperationType   string     `json:"operationType"`
	ElectionID      *int64     `json:"electionId"`
	ChunksPerSecond float64    `json:"chunksPerSecond"`
	EtaSeconds      *float64   `json:"etaSeconds"`

	// The fields below are for the engine and operations; the status
	// response carries exactly the fields above.
	CreatedAt time.Time       `json:"-"`
	CreatedBy string          `json:"-"`
	Metadata  json.RawMessage `json:"-"`

	// released is how many chunks have been enqueued (the end of the
	// stages released so far); stageEnds is each stage's end chunk number.
	released  int
	stageEnds []int
}

// CreateParams describes a job to create.
type CreateParams struct {
	// OperationType names a registered Operation.
	OperationType string
	// ElectionID is the election the job works on, if any.
	ElectionID *int64
	// TotalChunks is the number of chunks, numbered 0 … TotalChunks-1.
	TotalChunks int
	// CreatedBy names who asked for the job, for the audit trail.
	CreatedBy string
	// Metadata is stored with the job and handed to every chunk.
	Metadata json.RawMessage
	// MaxAttempts overrides the engine's default when positive.
	MaxAttempts int
	// Stages splits the chunks, in number order, into stages of the given
	// sizes (summing to TotalChunks): a stage's chunks are enqueued only
	// when every chunk before them is done. Empty means one stage.
	Stages []int
}

// ListParams filters and pages List.
type ListParams struct {
	ElectionID *int64
	Status     Status
	// Limit is the page size (1 … 500; 0 means 50).
	Limit int
	// After is the cursor returned with the previous page, or empty.
	After string
}

// ListPage is one page of jobs, newest first.
type ListPage struct {
	Jobs []JobStatus `json:"jobs"`
	// Next is the cursor of the next page, empty on the last page.
	Next string `json:"next,omitempty"`
}

// Errors returned by the engine; test with errors.Is.
var (
	// ErrJobNotFound means no job has the given id.
	ErrJobNotFound = errors.New("job not found")
	// ErrConflict means the job is not in a state that allows the request.
	ErrConflict = errors.New("job state does not allow this")
	// ErrInvalid means the request's parameters are invalid.
	ErrInvalid = errors.New("invalid job parameters")
	// ErrUnknownOperation means no operation of that type is registered.
	ErrUnknownOperation = errors.New("unknown operation type")
)
