package jobs

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/google/uuid"
)

// DefaultEnqueueWindow is the default Config.EnqueueWindow.
const DefaultEnqueueWindow = 10_000

// A job's chunks are handed to the broker in windows rather than all at
// creation: inserting a broker message costs far more than a chunk row
// (River's own insert of a million jobs takes most of a minute), and a
// queue holding millions of messages for one job helps no worker. The
// chunk rows are all written at creation, so the job's size, progress and
// exactness do not depend on the window; only its messages are made as
// workers drain them.
//
// A job keeps up to Config.EnqueueWindow chunks enqueued and unsettled.
// When a commit sees half of that or less, it asks for more (releaser);
// the next window is enqueued in its own transaction under the job's row
// lock, so concurrent requests release it once. Stages are boundaries
// windows never cross: a stage still starts only when every chunk before
// it is done. The maintenance loop releases windows too, so a job whose
// releasing process died does not stall.

// midStage reports whether the job has chunks not yet enqueued in the
// stage it is running, that is, whether its next release is a window.
func (s JobStatus) midStage() bool {
	return s.released < s.TotalChunks && !slices.Contains(s.stageEnds, s.released)
}

// midStageSQL is midStage for the election_jobs row j, in SQL.
const midStageSQL = `(j.released_chunks < j.total_chunks AND NOT j.released_chunks = ANY(j.stage_ends))`

// stageEndAfter returns the end of the stage holding chunk s.released.
func (s JobStatus) stageEndAfter() int {
	for _, end := range s.stageEnds {
		if end > s.released {
			return end
		}
	}
	return s.TotalChunks
}

// lowWater is how few enqueued, unsettled chunks make a job ask for its
// next window.
func (e *Engine) lowWater() int { return e.cfg.EnqueueWindow / 2 }

// releaser enqueues the next windows of the jobs its process's commits
// found running low, off the commit path: a window's broker inserts take
// longer than a chunk commit and must not hold one up.
type releaser struct {
	mu      sync.Mutex
	pending map[uuid.UUID]struct{}
	wake    chan struct{}
}

func newReleaser() *releaser {
	return &releaser{pending: map[uuid.UUID]struct{}{}, wake: make(chan struct{}, 1)}
}

// ask marks jobs as needing their next window.
func (r *releaser) ask(ids []uuid.UUID) {
	if len(ids) == 0 {
		return
	}
	r.mu.Lock()
	for _, id := range ids {
		r.pending[id] = struct{}{}
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *releaser) take() []uuid.UUID {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]uuid.UUID, 0, len(r.pending))
	for id := range r.pending {
		ids = append(ids, id)
	}
	clear(r.pending)
	return ids
}

// run releases asked-for windows until ctx is done. What it leaves undone
// the maintenance loop does.
func (r *releaser) run(ctx context.Context, e *Engine) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		for _, id := range r.take() {
			if err := e.finalize(ctx, id); err != nil && ctx.Err() == nil {
				e.log.Warn("release the next chunks of a job", "job_id", id, "error", err)
			}
		}
	}
}

// logRelease logs a release: a stage's at info level, a window's at debug.
func (e *Engine) logRelease(ctx context.Context, s JobStatus, next int) {
	level, msg := slog.LevelInfo, "job stage released"
	if s.midStage() {
		level, msg = slog.LevelDebug, "job chunks released"
	}
	e.log.Log(ctx, level, msg, "job_id", s.JobID, "operation", s.OperationType, "from_chunk", s.released, "to_chunk", next-1)
}
