package jobs

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"
)

// threadNice returns the calling thread's nice value.
func threadNice() (int, error) {
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	return 20 - prio, err
}

// With ComputeNice, every chunk computes on a thread of that nice value,
// and the process's other threads keep theirs.
func TestComputeNice(t *testing.T) {
	h := newHarness(t)
	base, err := threadNice()
	if err != nil {
		t.Fatal(err)
	}
	if base >= 15 {
		t.Skipf("the test process already runs at nice %d", base)
	}
	var (
		mu    sync.Mutex
		nices = map[int]int{}
	)
	h.op.gate = func(context.Context, Chunk) error {
		n, err := threadNice()
		if err != nil {
			return err
		}
		mu.Lock()
		nices[n]++
		mu.Unlock()
		return nil
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- h.engine.RunWorkers(ctx, WorkerConfig{Concurrency: 3, ShutdownGrace: 5 * time.Second, ComputeNice: 15})
	}()
	job := h.create(40)
	s := h.waitTerminal(job.JobID, time.Minute)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusCompleted || s.ProcessedChunks != 40 {
		t.Fatalf("job ended %+v", s)
	}
	h.assertExact(job.JobID, 40)
	if len(nices) != 1 || nices[15] != 40 {
		t.Fatalf("chunks computed at nice values %v; want all 40 at 15", nices)
	}
	if n, err := threadNice(); err != nil || n != base {
		t.Fatalf("the test's own thread is at nice %d (%v), want %d as before", n, err, base)
	}
}

func TestComputeNiceOutOfRange(t *testing.T) {
	h := newHarness(t)
	for _, n := range []int{-1, 20} {
		if err := h.engine.RunWorkers(context.Background(), WorkerConfig{Concurrency: 1, ComputeNice: n}); err == nil {
			t.Errorf("ComputeNice %d accepted", n)
		}
	}
}
