package jobs

import (
	"log/slog"
	"runtime"
	"sync"
)

// computeThreads runs chunk computations on OS threads of lowered
// scheduling priority (WorkerConfig.ComputeNice). Chunks are CPU-bound: at
// the same priority as everything else they make the HTTP server, Postgres
// and the lease heartbeats wait for a time slice whenever the cores are
// full. At a higher nice value they take what the others leave, which on an
// otherwise idle machine is everything.
//
// Go cannot lower a goroutine's priority, only a thread's, so each slot's
// computation is handed to a goroutine locked to a thread of its own.
type computeThreads struct {
	tasks chan func()
	wg    sync.WaitGroup
}

// startComputeThreads starts n threads at the given nice value.
func startComputeThreads(n, nice int, log *slog.Logger) *computeThreads {
	c := &computeThreads{tasks: make(chan func())}
	c.wg.Add(n)
	for range n {
		go c.loop(nice, log)
	}
	return c
}

func (c *computeThreads) loop(nice int, log *slog.Logger) {
	defer c.wg.Done()
	// Never unlocked: an unprivileged process cannot raise a thread's
	// priority back, so the thread ends with this goroutine instead of
	// returning to the runtime's pool at the lowered priority.
	runtime.LockOSThread()
	if err := lowerThreadPriority(nice); err != nil {
		log.Warn("chunks compute at normal priority: cannot lower a thread's", "nice", nice, "error", err)
	}
	for f := range c.tasks {
		f()
	}
}

// run runs f on a free compute thread and returns when it is done; with
// none free (more chunks than slots, which the broker should not hand out)
// it runs f on the caller's.
func (c *computeThreads) run(f func()) {
	done := make(chan struct{})
	select {
	case c.tasks <- func() { defer close(done); f() }:
		<-done
	default:
		f()
	}
}

// stop ends the threads once their tasks are done.
func (c *computeThreads) stop() {
	close(c.tasks)
	c.wg.Wait()
}
