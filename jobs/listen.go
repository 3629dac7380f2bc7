package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// StatusHubConfig tunes a StatusHub. The zero value gives the defaults.
type StatusHubConfig struct {
	// ProgressInterval is how often the hub compares the counters of the
	// jobs that have subscribers (default 1 s); see StatusHub.
	ProgressInterval time.Duration
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
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
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
// released, the terminal states, a retry), not every committed chunk: a
// NOTIFY serialises the commits of all notifying transactions, which would
// cost the chunk commits their throughput. So that progress bars move all
// the same, the hub also reads the counters of the unfinished jobs that
// have subscribers, all in one query every ProgressInterval, and signals
// the subscribers of those whose counts moved: one read per process, not
// one per subscriber.
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

// signal wakes the subscribers of the given jobs; no ids wakes all.
func (h *StatusHub) signal(ids ...uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(ids) == 0 {
		for _, set := range h.subs {
			for s := range set {
				s.signal()
			}
		}
		return
	}
	for _, id := range ids {
		for s := range h.subs[id] {
			s.signal()
		}
	}
}

// watched returns the ids of the jobs that have subscribers.
func (h *StatusHub) watched() []uuid.UUID {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]uuid.UUID, 0, len(h.subs))
	for id := range h.subs {
		ids = append(ids, id)
	}
	return ids
}

// Run listens and fans out until ctx is done, reconnecting whenever the
// connection is lost; then every subscription is done. Run it once.
func (h *StatusHub) Run(ctx context.Context) {
	defer h.end()
	var wg sync.WaitGroup
	wg.Go(func() { h.watchProgress(ctx) })
	defer wg.Wait()
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
	h.signal()
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
		h.signal(id)
	}
}

// progressMark is what the progress watch compares of a job.
type progressMark struct {
	status            Status
	processed, failed int
}

// watchProgress signals the subscribers of unfinished jobs whose counters
// moved, reading them every ProgressInterval while there are subscribers.
func (h *StatusHub) watchProgress(ctx context.Context) {
	t := time.NewTicker(h.cfg.ProgressInterval)
	defer t.Stop()
	seen := map[uuid.UUID]progressMark{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids := h.watched()
		if len(ids) == 0 {
			clear(seen)
			continue
		}
		marks, err := readProgress(ctx, h.pool, ids)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("read the progress of watched jobs", "error", err)
			}
			continue
		}
		var moved []uuid.UUID
		for id, m := range marks {
			// A job seen for the first time is signalled too: its
			// subscriber may have read it before its last change.
			if old, ok := seen[id]; !ok || old != m {
				moved = append(moved, id)
			}
		}
		seen = marks
		if len(moved) > 0 {
			h.signal(moved...)
		}
	}
}

// readProgress reads the status and counters of those of ids that are
// unfinished.
func readProgress(ctx context.Context, q queryer, ids []uuid.UUID) (map[uuid.UUID]progressMark, error) {
	rows, err := q.Query(ctx, `SELECT j.job_id, j.status,
		j.processed_chunks + coalesce(s.processed, 0), j.failed_chunks + coalesce(s.failed, 0)`+statusFrom+`
		WHERE j.job_id = ANY($1) AND j.status IN ('QUEUED', 'IN_PROGRESS')`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	marks := map[uuid.UUID]progressMark{}
	for rows.Next() {
		var (
			id uuid.UUID
			m  progressMark
		)
		if err := rows.Scan(&id, &m.status, &m.processed, &m.failed); err != nil {
			return nil, err
		}
		marks[id] = m
	}
	return marks, rows.Err()
}
