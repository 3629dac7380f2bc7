package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// session is one connection with its channels: pub (confirm mode) for the
// relay, cons for the operation queues' consumers, dead for the dead-letter
// consumer. Any of them closing ends the session; the supervisor then opens
// a new one.
type session struct {
	conn            *amqp.Connection
	pub, cons, dead *amqp.Channel
	tags            []string // consumer tags on cons

	lost     chan struct{} // closed when the connection or a channel closes
	lostOnce sync.Once
	mu       sync.Mutex
	reason   error // why it was lost
}

// openTimeout bounds the opening of a session: connecting, declaring,
// starting the consumers.
const openTimeout = 15 * time.Second

// closeTimeout bounds the wait for the node's answer to a connection close.
const closeTimeout = 5 * time.Second

// closeConn closes conn, waiting at most timeout for the node's answer:
// Close would wait for ever on a node that does not answer.
func closeConn(conn *amqp.Connection, timeout time.Duration) {
	_ = conn.CloseDeadline(time.Now().Add(timeout)) // closed either way
}

// deadPrefetch is how many dead-lettered messages the dead consumer holds.
const deadPrefetch = 16

// open connects, declares the topology and opens the channels. consume
// tells whether to start the consumers (not while stopping).
func (r *runner) open(ctx context.Context, consume bool) (_ *session, err error) {
	conn, err := r.b.dial(ctx)
	if err != nil {
		return nil, err
	}
	s := &session{conn: conn, lost: make(chan struct{})}
	// amqp091's calls have no deadline, and a node that has just restarted
	// may never answer one (a consume forwarded to a quorum queue's leader
	// while none was known): closing the connection unblocks them, and the
	// supervisor tries again.
	hung := time.AfterFunc(openTimeout, func() { closeConn(conn, 0) })
	defer func() {
		if !hung.Stop() && err == nil {
			err = fmt.Errorf("open a session: no answer within %s", openTimeout)
		}
		if err != nil {
			closeConn(conn, closeTimeout)
		}
	}()
	s.watch(conn.NotifyClose(make(chan *amqp.Error, 1)))
	if s.pub, err = s.channel(); err != nil {
		return nil, err
	}
	if err := r.b.declare(s.pub); err != nil {
		return nil, err
	}
	if err := s.pub.Confirm(false); err != nil {
		return nil, fmt.Errorf("put the publishing channel in confirm mode: %w", err)
	}
	if s.cons, err = s.channel(); err != nil {
		return nil, err
	}
	// Per consumer: each operation queue may hand out concurrency messages.
	if err := s.cons.Qos(r.concurrency, 0, false); err != nil {
		return nil, fmt.Errorf("set prefetch: %w", err)
	}
	if s.dead, err = s.channel(); err != nil {
		return nil, err
	}
	if err := s.dead.Qos(deadPrefetch, 0, false); err != nil {
		return nil, fmt.Errorf("set dead-letter prefetch: %w", err)
	}
	deadDeliveries, err := s.dead.Consume(r.b.DeadQueue(), "tallyq-dead", false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", r.b.DeadQueue(), err)
	}
	if consume {
		for _, op := range r.b.cfg.Operations {
			q := r.b.QueueName(op)
			tag := "tallyq-" + r.b.routes[op]
			deliveries, err := s.cons.Consume(q, tag, false, false, false, false, nil)
			if err != nil {
				return nil, fmt.Errorf("consume %s: %w", q, err)
			}
			s.tags = append(s.tags, tag)
			go r.dispatch(deliveries)
		}
	}
	r.bg.Add(1)
	go func() { defer r.bg.Done(); r.consumeDead(deadDeliveries) }()
	return s, nil
}

// channel opens a channel whose closing ends the session.
func (s *session) channel() (*amqp.Channel, error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open a channel: %w", err)
	}
	s.watch(ch.NotifyClose(make(chan *amqp.Error, 1)))
	return ch, nil
}

// watch ends the session when c reports a close.
func (s *session) watch(c chan *amqp.Error) {
	go func() {
		e, ok := <-c
		s.mu.Lock()
		if s.reason == nil {
			if ok && e != nil {
				s.reason = e
			} else {
				s.reason = errors.New("closed")
			}
		}
		s.mu.Unlock()
		s.lostOnce.Do(func() { close(s.lost) })
	}()
}

func (s *session) lostReason() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// cancelConsumers stops the operation queues' deliveries (basic.cancel).
func (s *session) cancelConsumers() {
	for _, tag := range s.tags {
		_ = s.cons.Cancel(tag, false) // a closed channel delivers nothing anyway
	}
}

// declare declares the exchanges and queues; declaring is idempotent, so
// every connection does it.
func (b *Broker) declare(ch *amqp.Channel) error {
	if err := ch.ExchangeDeclare(b.Exchange(), amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", b.Exchange(), err)
	}
	if err := ch.ExchangeDeclare(b.deadExchange(), amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare dead-letter exchange %s: %w", b.deadExchange(), err)
	}
	if err := b.declareQueue(ch, b.DeadQueue(), amqp.Table{
		amqp.QueueTypeArg:     amqp.QueueTypeQuorum,
		amqp.QueueOverflowArg: amqp.QueueOverflowRejectPublish,
	}); err != nil {
		return err
	}
	if err := ch.QueueBind(b.DeadQueue(), "", b.deadExchange(), false, nil); err != nil {
		return fmt.Errorf("bind %s: %w", b.DeadQueue(), err)
	}
	for _, op := range b.cfg.Operations {
		q := b.QueueName(op)
		// Quorum queues dead-letter at most once unless the strategy is
		// at-least-once, which requires reject-publish overflow.
		if err := b.declareQueue(ch, q, amqp.Table{
			amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
			"x-delivery-limit":       int64(b.cfg.DeliveryLimit),
			"x-dead-letter-exchange": b.deadExchange(),
			"x-dead-letter-strategy": "at-least-once",
			amqp.QueueOverflowArg:    amqp.QueueOverflowRejectPublish,
		}); err != nil {
			return err
		}
		if err := ch.QueueBind(q, b.routes[op], b.Exchange(), false, nil); err != nil {
			return fmt.Errorf("bind %s: %w", q, err)
		}
	}
	return nil
}

func (b *Broker) declareQueue(ch *amqp.Channel, name string, args amqp.Table) error {
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
			return fmt.Errorf("declare queue %s: it exists with other arguments (%w); delete it or choose another queue prefix", name, err)
		}
		return fmt.Errorf("declare queue %s: %w", name, err)
	}
	return nil
}

// supervise keeps a session open until ctx is done: when the current one is
// lost, it opens another with backoff and resumes consuming on it.
func (r *runner) supervise(ctx context.Context, s *session) {
	defer r.bg.Done()
	for {
		select {
		case <-ctx.Done():
			r.session.Store(nil)
			closeConn(s.conn, closeTimeout)
			return
		case <-s.lost:
		}
		r.session.Store(nil)
		r.setErr(fmt.Errorf("connection lost: %w", s.lostReason()))
		r.log.Warn("RabbitMQ connection lost; reconnecting", "error", s.lostReason())
		closeConn(s.conn, 0)
		if s = r.reconnect(ctx); s == nil {
			return
		}
		r.session.Store(s)
		r.reconnects.Add(1)
		r.log.Info("RabbitMQ connection restored")
		r.wakeRelay()
	}
}

// reconnect opens a session, retrying with backoff; nil once ctx is done.
func (r *runner) reconnect(ctx context.Context) *session {
	delay := 100 * time.Millisecond
	for {
		s, err := r.open(ctx, !r.isStopping())
		if err == nil {
			return s
		}
		r.setErr(err)
		if ctx.Err() != nil {
			return nil
		}
		r.log.Warn("reconnect to RabbitMQ", "error", err, "retry_in", delay)
		if !sleep(ctx, delay) {
			return nil
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
