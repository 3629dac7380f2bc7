// Package rabbitmq is the queue.Broker that carries chunk messages through
// RabbitMQ (amqp091-go), for deployments that outgrow one database's queue
// throughput. Postgres stays the source of truth:
//
//   - Publishing goes through an outbox table (amqp_outbox) of ranges:
//     EnqueueTx inserts one row per run of consecutive chunks in the
//     engine's transaction; a relay publishes the chunks of each range in
//     batches, persistent and with publisher confirms, and moves the range's
//     cursor past the confirmed ones. A crash between publish and cursor
//     publishes again; the engine's claim guard absorbs the duplicate.
//   - Settling a delivery writes nothing to the outbox: Postgres already
//     knows which chunks still await a delivery (the engine's view
//     queue_awaiting_delivery). A range is deleted once none of its chunks
//     does, and a reconciler publishes again the chunks that still await one
//     long after their range was published, so a message the broker lost is
//     not a lost chunk.
//   - Fairness: the relay keeps about MaxInFlight chunks waiting in each
//     queue (its depth, read from the node), and takes the next chunks
//     round-robin across jobs, so a job enqueued later waits behind at most
//     that many, not behind all of a large job's.
//   - Packing: while many chunks wait per consumer slot, a message carries
//     up to ChunksPerMessage consecutive chunks of a job; the consumer hands
//     each to a slot and acknowledges the message once all are recorded.
//     The messages shrink to one chunk as the backlog drains (packer).
//   - Topology: one durable quorum queue per operation (<prefix>.<operation
//     in lower case>), bound to a direct exchange <prefix> for other
//     publishers, with an explicit delivery limit
//     and at-least-once dead-lettering to <prefix>.dead, whose consumer
//     reports each message to Handler.DeliveryDead.
//   - A delivery is acknowledged only after the handler returned nil, that
//     is after the engine committed; an error requeues it after a pause.
//   - The relay publishes straight to each queue (the default exchange) a
//     bare persistent message: queue.Message, its outbox range's seq and the
//     count of chunks it carries in JSON, encoded and decoded without
//     reflection (message.go).
//   - amqp091-go does not reconnect; the broker does, with backoff, and
//     declares its topology again each time. Ready fails while it is
//     disconnected.
package rabbitmq

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/internal/rawurl"
	"github.com/tallyq/tallyq/queue"
)

// Config configures the RabbitMQ broker.
type Config struct {
	// URL is the AMQP URL, credentials included (amqp://user:pass@host:port/vhost).
	// The guest/guest account is refused unless the host is a loopback address.
	URL string
	// Operations are the operation types whose chunks the broker carries;
	// each gets its own queue. EnqueueTx refuses any other.
	Operations []string
	// QueuePrefix names the exchanges and queues (default "tallyq").
	QueuePrefix string
	// DeliveryLimit is each queue's x-delivery-limit: how often RabbitMQ
	// may hand a message out again before it dead-letters it. It is a
	// backstop (the engine counts attempts in Postgres) and must stay well
	// above what killed workers cause (default 20).
	DeliveryLimit int
	// MaxInFlight bounds the chunks waiting in each operation's queue, as
	// the relays see its depth before a batch (default 2000). It bounds how
	// long a job enqueued later waits behind earlier ones.
	MaxInFlight int
	// ChunksPerMessage is the most consecutive chunks of a job that one
	// message carries (default DefaultChunksPerMessage, at most 256; 1: a
	// message per chunk). A
	// message carries more than one only while more than two chunks per
	// consumer slot wait to be published, so that a large backlog of cheap
	// chunks costs the node and the relay fewer messages, and the last
	// chunks of a job still spread over every slot one by one.
	ChunksPerMessage int
	// PublishBatch is the most messages the relay publishes per transaction
	// (default 1000).
	PublishBatch int
	// RepublishAfter is how long after its range was published a chunk may
	// still await a delivery before the reconciler publishes it again
	// (default the longest chunk timeout plus ten minutes, and at least one
	// hour).
	RepublishAfter time.Duration
	// PollInterval is how often the relay looks for ranges when no
	// notification arrives, and how often it looks for room when a queue is
	// full (default 200 ms). Settled ranges are deleted every second or
	// every PollInterval, whichever is longer.
	PollInterval time.Duration
	// RetryDelay is how long a delivery that the handler could not record
	// (Postgres down) waits before it is requeued (default 1 s).
	RetryDelay time.Duration
	// Logger receives the broker's logs (default slog.Default()).
	Logger *slog.Logger
}

// DefaultChunksPerMessage is Config.ChunksPerMessage's default.
const DefaultChunksPerMessage = 8

func (c Config) withDefaults() Config {
	if c.QueuePrefix == "" {
		c.QueuePrefix = "tallyq"
	}
	if c.DeliveryLimit <= 0 {
		c.DeliveryLimit = 20
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 2000
	}
	if c.ChunksPerMessage <= 0 {
		c.ChunksPerMessage = DefaultChunksPerMessage
	}
	if c.PublishBatch <= 0 {
		c.PublishBatch = 1000
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Broker carries chunk messages through RabbitMQ, publishing through an
// outbox in Postgres.
type Broker struct {
	pool   *pgxpool.Pool
	cfg    Config
	uri    amqp.URI
	routes map[string]string // operation → routing key (and queue suffix)

	// Confirmed publishes of the relays since New, and the chunks they
	// carried.
	publishedMessages, publishedChunks atomic.Int64

	mu       sync.Mutex
	run      *runner // nil until Start and after Stop
	starting bool    // Start is connecting
}

var _ queue.Broker = (*Broker)(nil)

// New returns a RabbitMQ broker publishing through the outbox in pool's
// database. It checks the configuration but does not connect: EnqueueTx
// needs only Postgres, and Start connects.
func New(pool *pgxpool.Pool, cfg Config) (*Broker, error) {
	cfg = cfg.withDefaults()
	if pool == nil {
		return nil, errors.New("rabbitmq broker: no database pool")
	}
	uri, err := checkURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.ChunksPerMessage > maxChunksPerMessage {
		return nil, fmt.Errorf("rabbitmq broker: ChunksPerMessage %d is more than the %d a consumer accepts", cfg.ChunksPerMessage, maxChunksPerMessage)
	}
	if len(cfg.Operations) == 0 {
		return nil, errors.New("rabbitmq broker: no operations configured; each operation gets a queue")
	}
	routes := make(map[string]string, len(cfg.Operations))
	seen := map[string]string{}
	for _, op := range cfg.Operations {
		key := strings.ToLower(op)
		if key == "" || key == "dead" {
			return nil, fmt.Errorf("rabbitmq broker: operation %q cannot name a queue", op)
		}
		if other, dup := seen[key]; dup {
			return nil, fmt.Errorf("rabbitmq broker: operations %q and %q would share the queue %s.%s", other, op, cfg.QueuePrefix, key)
		}
		seen[key] = op
		routes[op] = key
	}
	return &Broker{pool: pool, cfg: cfg, uri: uri, routes: routes}, nil
}

// CheckURL returns an error if raw is not an AMQP URL the broker accepts:
// it must parse, and the default guest/guest account is refused on a host
// other than loopback, where RabbitMQ itself would refuse it too, only later
// and less clearly. New checks it; commands check it with their flags.
func CheckURL(raw string) error {
	_, err := checkURL(raw)
	return err
}

func checkURL(raw string) (amqp.URI, error) {
	if raw == "" {
		return amqp.URI{}, errors.New("rabbitmq broker: no AMQP URL; set TALLYQ_AMQP_URL (amqp://user:password@host:5672/vhost)")
	}
	uri, err := amqp.ParseURI(raw)
	if err != nil {
		// A url.Error quotes the URL, or a part of it such as a "port"
		// that is really a password with a '#' in it: say nothing of it.
		var ue *url.Error
		if errors.As(err, &ue) {
			return amqp.URI{}, errors.New("rabbitmq broker: AMQP URL is not valid: it does not parse as amqp://user:password@host:port/vhost (percent-encode special characters in the password)")
		}
		return amqp.URI{}, fmt.Errorf("rabbitmq broker: AMQP URL is not valid: %w", err)
	}
	if rawurl.AtAfterAuthority(raw) {
		// What looks like the host or vhost may hold the password.
		return amqp.URI{}, errors.New("rabbitmq broker: AMQP URL is not valid: its '@' comes after the host, so no user and password were read from it: percent-encode '/' (%2F), '?' (%3F) and '#' (%23) in the password, and '@' (%40) in the vhost")
	}
	if uri.Username == "guest" && uri.Password == "guest" && !isLoopback(uri.Host) {
		return amqp.URI{}, fmt.Errorf("rabbitmq broker: refusing the default guest/guest account on %s, which is not a loopback host: create a user of its own for tallyq and put it in TALLYQ_AMQP_URL", uri.Host)
	}
	return uri, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Published returns how many messages this broker's relay has published
// and had confirmed since New, and how many chunks they carried (messages
// carry several while many chunks wait: Config.ChunksPerMessage).
func (b *Broker) Published() (messages, chunks int64) {
	return b.publishedMessages.Load(), b.publishedChunks.Load()
}

// Name returns "rabbitmq".
func (b *Broker) Name() string { return "rabbitmq" }

// Exchange is the name of the direct exchange the operation queues are
// bound to, by their operation in lower case; the relay itself publishes
// straight to the queues.
func (b *Broker) Exchange() string { return b.cfg.QueuePrefix }

// QueueName returns the queue of an operation's chunk messages.
func (b *Broker) QueueName(operation string) string {
	return b.cfg.QueuePrefix + "." + strings.ToLower(operation)
}

// DeadQueue is the name of the queue of dead-lettered messages.
func (b *Broker) DeadQueue() string { return b.cfg.QueuePrefix + ".dead" }

func (b *Broker) deadExchange() string { return b.cfg.QueuePrefix + ".dlx" }

// outboxChannel is the Postgres notification channel EnqueueTx signals the
// relays on.
const outboxChannel = "tallyq_amqp_outbox"

// enqueueSQL inserts outbox ranges and notifies the relays when the
// transaction commits.
const enqueueSQL = `
	WITH inserted AS (
		INSERT INTO amqp_outbox (job_id, operation, first_chunk, end_chunk, next_chunk)
		SELECT job_id, operation, first_chunk, end_chunk, first_chunk
		FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[]) AS u(job_id, operation, first_chunk, end_chunk)
		RETURNING 1
	)
	SELECT pg_notify($5, '') FROM (SELECT count(*) FROM inserted) n`

// EnqueueTx inserts msgs into the outbox in tx, as ranges of consecutive
// chunks, and notifies the relays when tx commits. A chunk enqueued again
// (a retry, an expired lease) gets a range of its own and is published
// again.
func (b *Broker) EnqueueTx(ctx context.Context, tx pgx.Tx, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		if _, ok := b.routes[m.Operation]; !ok {
			return fmt.Errorf("rabbitmq broker: operation %q has no queue; the configured operations are %s", m.Operation, strings.Join(b.cfg.Operations, ", "))
		}
	}
	ranges := rangesOf(msgs)
	jobIDs := make([][16]byte, len(ranges)) // [16]byte: pgx's native uuid encoding
	ops := make([]string, len(ranges))
	firsts := make([]int32, len(ranges))
	ends := make([]int32, len(ranges))
	for i, r := range ranges {
		jobIDs[i], ops[i], firsts[i], ends[i] = r.jobID, r.operation, r.first, r.end
	}
	if _, err := tx.Exec(ctx, enqueueSQL, jobIDs, ops, firsts, ends, outboxChannel); err != nil {
		return fmt.Errorf("insert %d messages into the AMQP outbox: %w", len(msgs), err)
	}
	return nil
}

// chunkRange is chunks first to end-1 of a job, all of one operation.
type chunkRange struct {
	jobID      [16]byte
	operation  string
	first, end int32
}

// rangesOf groups msgs into ranges of consecutive chunks, each chunk once.
func rangesOf(msgs []queue.Message) []chunkRange {
	sorted := slices.Clone(msgs)
	slices.SortFunc(sorted, func(a, b queue.Message) int {
		return cmp.Or(bytes.Compare(a.JobID[:], b.JobID[:]), strings.Compare(a.Operation, b.Operation), cmp.Compare(a.Chunk, b.Chunk))
	})
	var out []chunkRange
	for _, m := range sorted {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.jobID == m.JobID && last.operation == m.Operation && int(last.end) >= m.Chunk {
				last.end = max(last.end, int32(m.Chunk)+1)
				continue
			}
		}
		out = append(out, chunkRange{jobID: m.JobID, operation: m.Operation, first: int32(m.Chunk), end: int32(m.Chunk) + 1})
	}
	return out
}

// defaultConsumerTimeout is RabbitMQ's default consumer_timeout, node-wide.
const defaultConsumerTimeout = 30 * time.Minute

// Start connects, declares the topology and starts the relay, the
// reconciler, one consumer per operation queue (prefetch concurrency, at
// most concurrency handlers at once) and the dead-letter consumer. It
// returns an error if the first connection fails; later losses are
// reconnected.
func (b *Broker) Start(ctx context.Context, h queue.Handler, concurrency int) error {
	if concurrency <= 0 {
		return fmt.Errorf("start RabbitMQ broker: concurrency must be positive, got %d", concurrency)
	}
	b.mu.Lock()
	if b.run != nil || b.starting {
		b.mu.Unlock()
		return errors.New("start RabbitMQ broker: already started")
	}
	// Connecting may take a while; Ready must not wait for it meanwhile.
	b.starting = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.starting = false
		b.mu.Unlock()
	}()
	republish := b.cfg.RepublishAfter
	if republish <= 0 {
		republish = max(time.Hour, h.MaxChunkTimeout()+10*time.Minute)
	}
	if longest := h.MaxChunkTimeout(); longest >= defaultConsumerTimeout {
		b.cfg.Logger.Warn("chunks may run as long as RabbitMQ's default consumer_timeout, after which the node closes the channel of an unacknowledged delivery (the broker reconnects, the message comes again); set consumer_timeout in rabbitmq.conf above the longest chunk timeout",
			"longest_chunk_timeout", longest, "default_consumer_timeout", defaultConsumerTimeout)
	}
	r := newRunner(b, h, concurrency, republish)
	if err := r.start(ctx); err != nil {
		return fmt.Errorf("start RabbitMQ broker: %w", err)
	}
	b.mu.Lock()
	b.run = r
	b.mu.Unlock()
	return nil
}

// Stop cancels the consumers, waits for the handlers in flight until ctx is
// done, then cancels them (the engine releases their chunks) and waits for
// them to return; then it stops the relay and closes the connection, which
// returns every unacknowledged message to its queue.
func (b *Broker) Stop(ctx context.Context) error {
	b.mu.Lock()
	r := b.run
	b.run = nil
	b.mu.Unlock()
	if r == nil {
		return queue.ErrNotStarted
	}
	return r.stop(ctx)
}

// Ready returns nil while the broker is connected. A broker that was not
// started (a process without workers) checks that it can connect.
func (b *Broker) Ready(ctx context.Context) error {
	b.mu.Lock()
	r := b.run
	b.mu.Unlock()
	if r != nil {
		return r.ready()
	}
	conn, err := b.dial(ctx)
	if err != nil {
		return err
	}
	closeConn(conn, closeTimeout)
	return nil
}

// dial connects to the configured node, giving up when ctx is done.
func (b *Broker) dial(ctx context.Context) (*amqp.Connection, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := amqp.DialConfig(b.cfg.URL, amqp.Config{
		Heartbeat:  10 * time.Second,
		Properties: amqp.Table{"connection_name": "tallyq " + b.cfg.QueuePrefix},
		Dial: func(network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Bound the handshake (amqp091 clears the deadline after it),
			// by ctx too.
			dl := time.Now().Add(10 * time.Second)
			if d, ok := ctx.Deadline(); ok && d.Before(dl) {
				dl = d
			}
			if err := c.SetDeadline(dl); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to RabbitMQ at %s:%d: %w", b.uri.Host, b.uri.Port, err)
	}
	return conn, nil
}
