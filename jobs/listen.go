package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// StatusHubConfig tunes a StatusHub. The zero value gives the defaults.
type StatusHubConfig struct {
	// ReconnectDelay is the wait before the first attempt to reconnect a
	// lost listening connection; it doubles on each failure up to
	// maxReconnectDelay (default 100 ms).
	ReconnectDelay time.Duration
	// Logger receives the hub's logs (default slog.Default()).
	Logger *slog.Logger
}

// maxReconnectDelay caps the wait between reconnection attempts.
const maxReconnectDelay = 10 * time.Second

// HubApplicationName is the application_name of the hub's listening
// connection, which names it in pg_stat_activity.
const HubApplicationName = "tallyq status hub"

func (c StatusHubConfig) withDefaults() StatusHubConfig {
	if c.ReconnectDelay <= 0 {
		c.ReconnectDelay = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// StatusHub tells subscribers when a job's status may have changed. One
// hub serves a process: it holds a single Postgres connection, apart from
// the pool, that LISTENs on StatusChannel however many subscribers there
// are, and fans each notification out to the subscribers of its job.
//
// The engine notifies status changes (QUEUED → IN_PROGRESS, a stage
// released, the terminal states, a retry) inside the transactions that make
// them, and committed progress after the chunk commits, at most every
// progressNotifyInterval per worker process; so nothing polls.
//
// After a lost connection the hub reconnects and signals every subscriber,
// since notifications may have been missed meanwhile.
type StatusHub struct {
	pool       *pgxpool.Pool
	connConfig *pgx.ConnConfig
	cfg        StatusHubConfig
	log        *slog.Logger

	mu      sync.Mutex
	subs    map[uuid.UUID]map[*StatusSubscription]struct{}
	stopped chan struct{} // closed when Run returns
	ended   bool
}

// NewStatusHub returns a hub that listens with a connection configured as
// pool's connections are and reads job counters through pool. It does
// nothing until Run.
func NewStatusHub(pool *pgxpool.Pool, cfg StatusHubConfig) *StatusHub {
	cfg = cfg.withDefaults()
	connConfig := pool.Config().ConnConfig.Copy()
	connConfig.RuntimeParams["application_name"] = HubApplicationName
	return &StatusHub{
		pool:       pool,
		connConfig: connConfig,
		cfg:        cfg,
		log:        cfg.Logger,
		subs:       map[uuid.UUID]map[*StatusSubscription]struct{}{},
		stopped:    make(chan struct{}),
	}
}

// StatusSubscription is one subscriber's interest in one job.
type StatusSubscription struct {
	hub     *StatusHub
	jobID   uuid.UUID
	changed chan struct{}
	latest  atomic.Pointer[JobStatus] // stored before each signal; nil: read it yourself
}

// Changed receives a value after the job's status may have changed; the
// subscriber then reads the status. Signals coalesce: however many
// arrive while the subscriber is busy, one value waits for it.
func (s *StatusSubscription) Changed() <-chan struct{} { return s.changed }

// Done is closed when the hub has stopped: no more signals will come.
func (s *StatusSubscription) Done() <-chan struct{} { return s.hub.stopped }

// Close ends the subscription. It may be called more than once.
func (s *StatusSubscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.subs[s.jobID]
	delete(set, s)
	if len(set) == 0 {
		delete(h.subs, s.jobID)
	}
}

// Status returns the job's status as the hub read it for the latest
// signal, or false when the hub did not read it (after a reconnection, or
// when the read failed): the subscriber then reads the status itself.
func (s *StatusSubscription) Status() (JobStatus, bool) {
	st := s.latest.Load()
	if st == nil {
		return JobStatus{}, false
	}
	return *st, true
}

// signal wakes the subscriber unless a signal already waits for it.
func (s *StatusSubscription) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Subscribe returns a subscription to the job's status changes; the caller
// must Close it. Subscribe first, then read the status, so that no change
// falls between the two. On a stopped hub the subscription is done at once.
func (h *StatusHub) Subscribe(jobID uuid.UUID) *StatusSubscription {
	s := &StatusSubscription{hub: h, jobID: jobID, changed: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return s
	}
	set := h.subs[jobID]
	if set == nil {
		set = map[*StatusSubscription]struct{}{}
		h.subs[jobID] = set
	}
	set[s] = struct{}{}
	return s
}

// Subscribers returns the number of open subscriptions.
func (h *StatusHub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.subs {
		n += len(set)
	}
	return n
}

// signalAll wakes every subscriber, each to read its job's status itself.
func (h *StatusHub) signalAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.subs {
		for s := range set {
			s.latest.Store(nil)
			s.signal()
		}
	}
}

// publish reads the job's status once and hands it, with a signal, to
// every subscriber of the job, so that a change costs one read however many
// streams follow the job. When the read fails they are signalled without
// it and read for themselves.
func (h *StatusHub) publish(ctx context.Context, id uuid.UUID) {
	h.mu.Lock()
	watched := len(h.subs[id]) > 0
	h.mu.Unlock()
	if !watched {
		return
	}
	var latest *JobStatus
	if st, err := statusOf(ctx, h.pool, id); err == nil {
		latest = &st
	} else if ctx.Err() == nil {
		h.log.Warn("read a notified job's status", "job_id", id, "error", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[id] {
		s.latest.Store(latest)
		s.signal()
	}
}

// Run listens and fans out until ctx is done, reconnecting whenever the
// connection is lost; then every subscription is done. Run it once.
func (h *StatusHub) Run(ctx context.Context) {
	defer h.end()
	delay := h.cfg.ReconnectDelay
	for {
		err := h.listen(ctx, func() { delay = h.cfg.ReconnectDelay })
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("job status hub lost its Postgres connection; reconnecting", "error", err, "retryIn", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, maxReconnectDelay)
	}
}

// end marks the hub stopped, which ends every subscription.
func (h *StatusHub) end() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	h.subs = map[uuid.UUID]map[*StatusSubscription]struct{}{}
	close(h.stopped)
}

// listen connects, LISTENs and relays notifications until the connection
// fails or ctx is done. listening is called once the LISTEN holds.
func (h *StatusHub) listen(ctx context.Context, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, h.connConfig)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{StatusChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen on %s: %w", StatusChannel, err)
	}
	listening()
	// Changes may have come before this LISTEN: at start-up, after the
	// subscribers of the moment read their status, or while reconnecting.
	h.signalAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notifications: %w", err)
		}
		id, err := uuid.Parse(n.Payload)
		if err != nil {
			h.log.Warn("job status notification without a job id", "payload", n.Payload)
			continue
		}
		h.publish(ctx, id)
	}
}
