// Package queue defines the Broker, the pipe that carries chunk messages from
// the job engine to workers. A broker knows nothing of elections or of how
// chunks are counted: it delivers references (job id, chunk number, operation)
// at least once, and lets the engine settle a delivery inside the engine's own
// Postgres transaction. Postgres stays the source of truth; a broker may
// deliver a message twice or lose one, and the engine's claims, leases and
// chunk states absorb both.
//
// Implementations: queue/river (River on Postgres, the default) and, later,
// queue/rabbitmq.
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Message refers to one chunk of one job. It never carries ballots, results
// or secrets.
type Message struct {
	JobID     uuid.UUID `json:"job_id"`
	Chunk     int       `json:"chunk"`
	Operation string    `json:"op"`
}

// String identifies the message in logs.
func (m Message) String() string { return fmt.Sprintf("%s/%s#%d", m.Operation, m.JobID, m.Chunk) }

// Delivery is one delivery of a Message to a handler.
type Delivery struct {
	Message
	// Attempt counts the broker's deliveries of this message, from 1. The
	// engine counts attempts itself; this is for logs.
	Attempt int

	// Handle is the broker's own record of the delivery (River's job row),
	// for the broker's BatchSettler.
	Handle any

	settleTx func(ctx context.Context, tx pgx.Tx) error
}

// NewDelivery returns a delivery whose SettleTx calls settleTx (nil: nothing
// to do in the transaction). Brokers use it.
func NewDelivery(m Message, attempt int, handle any, settleTx func(ctx context.Context, tx pgx.Tx) error) *Delivery {
	return &Delivery{Message: m, Attempt: attempt, Handle: handle, settleTx: settleTx}
}

// SettleTx records, in tx, that the delivery has been handled, so that the
// broker's own bookkeeping commits with the chunk's result (River completes
// its job row here). Brokers that acknowledge after commit do nothing.
func (d *Delivery) SettleTx(ctx context.Context, tx pgx.Tx) error {
	if d.settleTx == nil {
		return nil
	}
	return d.settleTx(ctx, tx)
}

// BatchSettler is implemented by brokers that can settle many deliveries in
// one statement. QueueSettle adds that statement to b, a batch the caller
// sends inside its transaction; its effect must be exactly that of calling
// SettleTx on each delivery.
type BatchSettler interface {
	QueueSettle(b *pgx.Batch, ds []*Delivery)
}

// Handler processes deliveries. The job engine implements it.
type Handler interface {
	// HandleChunk handles one delivery. Returning nil settles it (the broker
	// completes or acknowledges it); an error means the engine could not
	// record anything (say, Postgres is down) and the broker should deliver
	// the message again later.
	HandleChunk(ctx context.Context, d *Delivery) error
	// MaxChunkTimeout is the longest any chunk may run.
	MaxChunkTimeout() time.Duration
	// DeliveryDead tells the engine that the broker gave up on a message
	// without the handler having settled it (River discarded the job;
	// RabbitMQ dead-lettered the message).
	// The engine counts it as a failed attempt of a chunk still waiting
	// for it, so a message the broker keeps giving up on ends in a failed
	// chunk.
	DeliveryDead(ctx context.Context, m Message, reason string) error
}

// Broker carries chunk messages.
type Broker interface {
	// Name is the broker's flag value ("river", "rabbitmq").
	Name() string
	// EnqueueTx queues msgs as part of tx: they are delivered only if tx
	// commits. Messages are delivered fairly across jobs: a message
	// enqueued later is not held back behind all of a large job's.
	EnqueueTx(ctx context.Context, tx pgx.Tx, msgs []Message) error
	// Start begins consuming, calling h for each delivery with at most
	// concurrency deliveries in flight. It returns once consuming has begun.
	Start(ctx context.Context, h Handler, concurrency int) error
	// Stop stops fetching new deliveries and waits for those in flight until
	// ctx is done; then it cancels them (their chunks are released to be
	// delivered again).
	Stop(ctx context.Context) error
	// Ready returns nil when the broker can enqueue and deliver.
	Ready(ctx context.Context) error
}

// ErrNotStarted is returned by Stop on a broker that was never started.
var ErrNotStarted = errors.New("broker not started")
