package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/queue"
)

// runner is a started broker: its session, consumers, relay and reconciler.
type runner struct {
	b              *Broker
	h              queue.Handler
	concurrency    int
	republishAfter time.Duration
	log            *slog.Logger

	session    atomic.Pointer[session] // nil while disconnected
	reconnects atomic.Int64
	handled    atomic.Int64 // chunks handled
	errMu      sync.Mutex
	lastErr    error

	work chan task     // to the concurrency slots
	wake chan struct{} // wakes the relay

	cancelBG context.CancelFunc
	bg       sync.WaitGroup // slots, supervisor, relay, reconciler, listener, dead consumer

	handlerCtx     context.Context
	cancelHandlers context.CancelFunc
	mu             sync.Mutex
	stopping       bool
	stopCh         chan struct{}
	handlers       sync.WaitGroup
}

func newRunner(b *Broker, h queue.Handler, concurrency int, republishAfter time.Duration) *runner {
	return &runner{
		b: b, h: h, concurrency: concurrency, republishAfter: republishAfter, log: b.cfg.Logger,
		work:   make(chan task),
		wake:   make(chan struct{}, 1),
		stopCh: make(chan struct{}),
	}
}

// start opens the first session and starts the background loops.
func (r *runner) start(ctx context.Context) error {
	r.handlerCtx, r.cancelHandlers = context.WithCancel(context.WithoutCancel(ctx))
	bgCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancelBG = cancel
	s, err := r.open(ctx, true)
	if err != nil {
		cancel()
		r.cancelHandlers()
		r.bg.Wait()
		return err
	}
	r.session.Store(s)
	r.bg.Add(r.concurrency)
	for range r.concurrency {
		go func() { defer r.bg.Done(); r.slot() }()
	}
	r.bg.Add(4)
	go r.supervise(bgCtx, s)
	go func() { defer r.bg.Done(); r.relay(bgCtx) }()
	go func() { defer r.bg.Done(); r.listen(bgCtx) }()
	go func() { defer r.bg.Done(); r.reconcile(bgCtx) }()
	return nil
}

// stop: see Broker.Stop.
func (r *runner) stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopping = true
	close(r.stopCh)
	r.mu.Unlock()
	if s := r.session.Load(); s != nil {
		s.cancelConsumers()
	}
	done := make(chan struct{})
	go func() { r.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.log.Warn("shutdown grace over; cancelling the chunks still running")
		r.cancelHandlers()
		<-done
	}
	r.cancelHandlers()
	r.cancelBG()
	r.bg.Wait()
	return nil
}

func (r *runner) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

func (r *runner) setErr(err error) {
	r.errMu.Lock()
	r.lastErr = err
	r.errMu.Unlock()
}

// ready: see Broker.Ready.
func (r *runner) ready() error {
	if r.session.Load() != nil {
		return nil
	}
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return fmt.Errorf("not connected to RabbitMQ at %s:%d (reconnecting; last error: %v)", r.b.uri.Host, r.b.uri.Port, r.lastErr)
}

func (r *runner) wakeRelay() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// packet is one delivery and the chunks it carries, each handled by a slot
// of its own; the last to finish acknowledges the delivery, or requeues it
// if any chunk's handler failed.
type packet struct {
	d       amqp.Delivery
	attempt int
	pending atomic.Int32
	failed  atomic.Bool
}

// task is one chunk of a packet, for a slot.
type task struct {
	p *packet
	m queue.Message
}

// dispatch decodes an operation queue's deliveries and hands their chunks
// to the slots, each as soon as one is free. It returns when the channel
// closes or the broker stops; deliveries it did not hand out in full
// return to the queue when the connection closes.
func (r *runner) dispatch(deliveries <-chan amqp.Delivery) {
	for d := range deliveries {
		ms, err := decode(d)
		if err != nil {
			// Dead-lettered; the dead-letter consumer logs and drops it.
			r.log.Error("rejecting a message that is not a chunk message", "error", err, "message_id", d.MessageId)
			_ = d.Reject(false)
			continue
		}
		p := &packet{d: d, attempt: int(headerInt(d.Headers, "x-delivery-count")) + 1}
		p.pending.Store(int32(len(ms)))
		for _, m := range ms {
			if !r.handOut(task{p, m}) {
				return
			}
		}
	}
}

// handOut gives t to a free slot; it returns false, handing out nothing,
// once the broker stops.
func (r *runner) handOut(t task) bool {
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		return false
	}
	r.handlers.Add(1)
	r.mu.Unlock()
	select {
	case r.work <- t:
		return true
	case <-r.stopCh:
		r.handlers.Done()
		return false
	}
}

// slot handles chunks one at a time until the broker stops. The slots live
// as long as the broker: a goroutine per chunk would grow a fresh stack
// through the engine's calls for every chunk.
func (r *runner) slot() {
	for {
		select {
		case t := <-r.work:
			r.handle(t)
		case <-r.stopCh:
			return
		}
	}
}

// handle runs the handler on one chunk of a delivery; the delivery's last
// chunk to finish acknowledges it if every handler returned nil, and
// otherwise requeues it after RetryDelay.
func (r *runner) handle(t task) {
	defer r.handlers.Done()
	// The engine times the chunk's computation itself, from when it has a slot.
	ctx := r.handlerCtx
	// Nothing to settle in the engine's transaction: the outbox learns from
	// the chunk's state that its message is no longer needed.
	if err := r.h.HandleChunk(ctx, queue.NewDelivery(t.m, t.p.attempt, nil, nil)); err != nil {
		r.log.Warn("chunk message not recorded; requeueing it", "chunk", t.m.String(), "error", err, "retry_in", r.b.cfg.RetryDelay)
		t.p.failed.Store(true)
	}
	if r.handled.Add(1)%int64(r.b.publishStep()) == 0 {
		r.wakeRelay() // room for a step of chunks, at least in this process's queues
	}
	if t.p.pending.Add(-1) > 0 {
		return
	}
	if t.p.failed.Load() {
		select {
		case <-time.After(r.b.cfg.RetryDelay):
		case <-r.stopCh:
		}
		// Chunks of it that did commit find themselves settled when it
		// comes again. If the channel is gone, it is requeued anyway.
		_ = t.p.d.Nack(false, true)
		return
	}
	if err := t.p.d.Ack(false); err != nil {
		r.log.Debug("ack after the channel closed; the message comes again and finds its chunks settled", "chunk", t.m.String(), "error", err)
	}
}

// decode reads a chunk message and returns the chunks it carries.
func decode(d amqp.Delivery) ([]queue.Message, error) {
	env, err := decodeEnvelope(d.Body)
	m := env.Message
	if err != nil {
		return nil, fmt.Errorf("decode chunk message: %w", err)
	}
	if m.JobID == uuid.Nil || m.Operation == "" || m.Chunk < 0 {
		return nil, fmt.Errorf("chunk message %s lacks a job, chunk or operation", m)
	}
	if env.Count < 0 || env.Count > maxChunksPerMessage || m.Chunk > math.MaxInt32-max(env.Count, 1) {
		return nil, fmt.Errorf("chunk message %s carries %d chunks; a message carries 1 to %d chunks numbered below 2^31", m, env.Count, maxChunksPerMessage)
	}
	return env.chunks(), nil
}

// headerInt reads an integer header (0 when absent).
func headerInt(h amqp.Table, key string) int64 {
	switch v := h[key].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	case int:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	}
	return 0
}

// consumeDead reports each dead-lettered message to the handler and
// acknowledges it once that is recorded.
func (r *runner) consumeDead(deliveries <-chan amqp.Delivery) {
	for d := range deliveries {
		if !r.reportDead(d) {
			return // stopping: the message stays in the dead queue
		}
	}
}

func (r *runner) reportDead(d amqp.Delivery) bool {
	ms, err := decode(d)
	if err != nil {
		r.log.Error("dropping a dead-lettered message that is not a chunk message", "error", err, "message_id", d.MessageId)
		_ = d.Ack(false)
		return true
	}
	reason := deathReason(d)
	for _, m := range ms {
		if !r.reportDeadChunk(m, reason) {
			return false
		}
	}
	_ = d.Ack(false)
	return true
}

// reportDeadChunk reports one chunk of a dead-lettered message until the
// handler records it; it returns false if the broker stops first.
func (r *runner) reportDeadChunk(m queue.Message, reason string) bool {
	for {
		err := r.h.DeliveryDead(r.handlerCtx, m, reason)
		if err == nil {
			return true
		}
		r.log.Warn("report dead-lettered message", "chunk", m.String(), "error", err)
		select {
		case <-time.After(r.b.cfg.RetryDelay):
		case <-r.handlerCtx.Done():
			return false
		}
	}
}

// deathReason describes why RabbitMQ dead-lettered d, from its x-death
// header.
func deathReason(d amqp.Delivery) string {
	deaths, _ := d.Headers["x-death"].([]any)
	if len(deaths) == 0 {
		return "RabbitMQ dead-lettered the message"
	}
	t, _ := deaths[0].(amqp.Table)
	why, _ := t["reason"].(string)
	q, _ := t["queue"].(string)
	var b strings.Builder
	fmt.Fprintf(&b, "RabbitMQ dead-lettered the message from %s (%s)", q, why)
	if why == "delivery_limit" {
		b.WriteString(": it was delivered more often than the queue's x-delivery-limit without being acknowledged")
	}
	return b.String()
}

var errDisconnected = errors.New("not connected to RabbitMQ")
