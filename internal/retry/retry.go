// Package retry calls an action again, after pauses that grow, until it
// succeeds or a time limit passes: how a process waits at start for a
// server that is not up yet, as when an orchestrator starts the workers,
// Postgres and RabbitMQ together, or restarts a server under them.
package retry

import (
	"context"
	"fmt"
	"time"
)

// Backoff says how long to keep trying and how long to pause between tries.
type Backoff struct {
	// For is how long after the first try the last may start; 0 tries
	// once.
	For time.Duration
	// First is the pause after the first failure; each pause doubles it,
	// up to Max.
	First, Max time.Duration
}

// Default pauses a quarter second after the first failure, then twice as
// long each time up to five seconds, for a server that is starting (a few
// seconds) or restarting under an orchestrator (tens of seconds).
func Default(limit time.Duration) Backoff {
	return Backoff{For: limit, First: 250 * time.Millisecond, Max: 5 * time.Second}
}

// Do calls try until it returns nil, ctx ends, or b.For has passed. Before
// each pause it calls failed, if not nil, with try's error and the pause,
// so that the caller can say what it is waiting for. It returns nil, ctx's
// error when ctx ended during a pause, or try's last error wrapped with how
// long it was tried.
func (b Backoff) Do(ctx context.Context, try func(context.Context) error, failed func(err error, pause time.Duration)) error {
	start := time.Now()
	pause := max(b.First, time.Millisecond)
	longest := max(b.Max, pause)
	for attempt := 1; ; attempt++ {
		err := try(ctx)
		if err == nil {
			return nil
		}
		left := b.For - time.Since(start)
		if left <= 0 || ctx.Err() != nil {
			if attempt == 1 {
				return err
			}
			return fmt.Errorf("%w (gave up after %d tries in %s)", err, attempt, time.Since(start).Round(time.Millisecond))
		}
		pause = min(pause, left)
		if failed != nil {
			failed(err, pause)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, longest)
	}
}
