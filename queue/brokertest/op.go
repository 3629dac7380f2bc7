package brokertest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
)

// OpType is the operation type of the suite's test operation.
const OpType = "BROKERTEST"

// testTables are the rows the test operation writes: one per applied chunk
// result and one per completion step.
const testTables = `
	CREATE TABLE IF NOT EXISTS brokertest_applied (job_id uuid NOT NULL, chunk_no int NOT NULL);
	CREATE TABLE IF NOT EXISTS brokertest_completions (job_id uuid NOT NULL);`

// chunkRef names one chunk of one job.
type chunkRef struct {
	job   uuid.UUID
	chunk int
}

// op is the suite's test operation. A chunk's result inserts a row into
// brokertest_applied, so a double application shows; Complete inserts one
// into brokertest_completions. Its behaviour per chunk is scripted.
type op struct {
	mu        sync.Mutex
	failUntil map[int]int  // the chunk fails while its attempt is ≤ the value
	poison    map[int]bool // the chunk panics on every attempt
	gate      func(ctx context.Context, c jobs.Chunk) error
	calls     map[chunkRef]int // Process calls, one per granted claim
}

func newOp() *op {
	return &op{failUntil: map[int]int{}, poison: map[int]bool{}, calls: map[chunkRef]int{}}
}

func (o *op) Type() string                { return OpType }
func (o *op) ChunkTimeout() time.Duration { return time.Minute }

func (o *op) Process(ctx context.Context, c jobs.Chunk) (jobs.Result, error) {
	o.mu.Lock()
	o.calls[chunkRef{c.JobID, c.Number}]++
	gate, failUntil, poisoned := o.gate, o.failUntil[c.Number], o.poison[c.Number]
	o.mu.Unlock()
	if gate != nil {
		if err := gate(ctx, c); err != nil {
			return nil, err
		}
	}
	if c.Attempt <= failUntil {
		return nil, fmt.Errorf("scripted failure of chunk %d attempt %d", c.Number, c.Attempt)
	}
	if poisoned {
		panic(fmt.Sprintf("poison chunk %d", c.Number))
	}
	return jobs.ResultFunc(func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO brokertest_applied (job_id, chunk_no) VALUES ($1, $2)`, c.JobID, c.Number)
		return err
	}), nil
}

func (o *op) Complete(ctx context.Context, tx pgx.Tx, job jobs.JobStatus) error {
	_, err := tx.Exec(ctx, `INSERT INTO brokertest_completions (job_id) VALUES ($1)`, job.JobID)
	return err
}

// processCalls returns how often Process ran for the chunk.
func (o *op) processCalls(job uuid.UUID, chunk int) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[chunkRef{job, chunk}]
}

// recorder counts, per message, the deliveries a handler returned nil for:
// the deliveries the broker was told to settle.
type recorder struct {
	mu      sync.Mutex
	settled map[queue.Message]int
}

func (r *recorder) add(m queue.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.settled == nil {
		r.settled = map[queue.Message]int{}
	}
	r.settled[m]++
}

func (r *recorder) count(m queue.Message) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settled[m]
}

// recordingBroker is a broker whose handler's results are recorded.
type recordingBroker struct {
	queue.Broker
	rec *recorder
}

func (b *recordingBroker) Start(ctx context.Context, h queue.Handler, concurrency int) error {
	return b.Broker.Start(ctx, recordingHandler{Handler: h, rec: b.rec}, concurrency)
}

// recordingSettler keeps the wrapped broker's batch settling visible to the
// engine, which looks for it by type assertion.
type recordingSettler struct {
	*recordingBroker
	queue.BatchSettler
}

// recording wraps b so that rec sees every settled delivery.
func recording(b queue.Broker, rec *recorder) queue.Broker {
	rb := &recordingBroker{Broker: b, rec: rec}
	if bs, ok := b.(queue.BatchSettler); ok {
		return recordingSettler{recordingBroker: rb, BatchSettler: bs}
	}
	return rb
}

type recordingHandler struct {
	queue.Handler
	rec *recorder
}

func (h recordingHandler) HandleChunk(ctx context.Context, d *queue.Delivery) error {
	err := h.Handler.HandleChunk(ctx, d)
	if err == nil {
		h.rec.add(d.Message)
	}
	return err
}
