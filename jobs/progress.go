package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// progressNotifyInterval is how often, at most, one process announces the
// progress of the jobs whose chunks it committed.
const progressNotifyInterval = 250 * time.Millisecond

// progressNotifier announces committed chunks on StatusChannel, so that
// listeners (the API's status hub, its SSE streams) learn of progress as
// they learn of status changes, without polling.
//
// The announcement comes after the chunk transactions, not inside them: a
// NOTIFY inside would serialise their commits (Postgres queues
// notifications under one global lock at commit). Jobs whose counters moved
// are collected and announced together, one statement per interval, so a
// burst of commits costs one round trip and a quiet job costs none.
type progressNotifier struct {
	mu      sync.Mutex
	pending map[uuid.UUID]struct{}
	wake    chan struct{}
}

func newProgressNotifier() *progressNotifier {
	return &progressNotifier{pending: map[uuid.UUID]struct{}{}, wake: make(chan struct{}, 1)}
}

// touch marks a job as having committed progress.
func (p *progressNotifier) touch(id uuid.UUID) {
	p.mu.Lock()
	p.pending[id] = struct{}{}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// take returns and clears the pending jobs.
func (p *progressNotifier) take() []uuid.UUID {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]uuid.UUID, 0, len(p.pending))
	for id := range p.pending {
		ids = append(ids, id)
	}
	clear(p.pending)
	return ids
}

// putBack marks ids pending again.
func (p *progressNotifier) putBack(ids []uuid.UUID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		p.pending[id] = struct{}{}
	}
}

// run announces pending progress until ctx is done, then once more, so
// that the last commits of a stopping worker are announced too.
func (p *progressNotifier) run(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			p.flush(final, pool, log)
			return
		case <-p.wake:
		}
		p.flush(ctx, pool, log)
		t := time.NewTimer(progressNotifyInterval)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// flush announces the pending jobs in one statement. A lost announcement
// only delays a progress bar until the next one or the job's status change,
// so failures are logged, not retried.
func (p *progressNotifier) flush(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) {
	ids := p.take()
	if len(ids) == 0 {
		return
	}
	texts := make([]string, len(ids))
	for i, id := range ids {
		texts[i] = id.String()
	}
	_, err := pool.Exec(ctx, `SELECT pg_notify($1, id) FROM unnest($2::text[]) AS id`, StatusChannel, texts)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		p.putBack(ids) // stopping: the final flush announces them
	default:
		log.Warn("announce job progress", "jobs", len(ids), "error", err)
	}
}
