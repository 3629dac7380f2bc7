package brokertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
)

// With two processes of two slots each and 2,000 chunks, every poll sees
// processedChunks equal to the number of committed applications.
func (s suite) exactProgressUnderConcurrency(t *testing.T) {
	h := NewHarness(t, s.f)
	other := h.Process()
	h.Start(2)
	other.Start(2)
	const chunks = 2000
	job := h.Create(chunks)
	polls, mid := 0, 0
	for {
		st, applied := h.pollExact(job.JobID)
		polls++
		if st.ProcessedChunks != applied {
			t.Fatalf("poll %d: processedChunks %d but %d results committed", polls, st.ProcessedChunks, applied)
		}
		if st.ProcessedChunks > 0 && st.ProcessedChunks < chunks {
			mid++
		}
		if st.Status.Terminal() {
			if st.Status != jobs.StatusCompleted || st.ProcessedChunks != chunks || st.FailedChunks != 0 || st.ProgressPercent != 100 {
				t.Fatalf("final status %+v", st)
			}
			break
		}
	}
	if mid == 0 {
		t.Fatalf("no poll of %d saw the job in progress; the test proved nothing", polls)
	}
	h.AssertExact(job.JobID, chunks)
	if n := h.Completions(job.JobID); n != 1 {
		t.Fatalf("completion step ran %d times", n)
	}
	t.Logf("%d polls, %d while in progress", polls, mid)
}

// pollExact reads the job's status through the engine's API and counts its
// committed applications, with no commit in between: it holds a SHARE lock
// on the applications table, which every commit that counts a chunk as
// processed writes to in the same transaction, so while it is held such a
// commit is either wholly visible or not at all.
func (h *Harness) pollExact(id uuid.UUID) (jobs.JobStatus, int) {
	h.t.Helper()
	ctx := context.Background()
	var (
		st      jobs.JobStatus
		applied int
	)
	err := pgx.BeginFunc(ctx, h.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE brokertest_applied IN SHARE MODE`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM brokertest_applied WHERE job_id = $1`, id).Scan(&applied); err != nil {
			return err
		}
		var err error
		st, err = h.Engine.Status(ctx, id)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return st, applied
}

// A chunk that fails twice, then succeeds, is counted once.
func (s suite) retryThenSuccess(t *testing.T) {
	h := NewHarness(t, s.f)
	h.FailUntil(3, 2)
	h.Start(2)
	job := h.Create(10)
	st := h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusCompleted || st.ProcessedChunks != 10 || st.FailedChunks != 0 {
		t.Fatalf("status %+v", st)
	}
	h.AssertExact(job.JobID, 10)
	c := h.chunk(job.JobID, 3)
	if c.attempts != 3 || c.lastError == nil || *c.lastError != "attempt 2: scripted failure of chunk 3 attempt 2" {
		t.Fatalf("chunk 3: attempts %d, last error %v", c.attempts, orNil(c.lastError))
	}
}

// A poison chunk fails the job with its error while the others complete;
// retrying while it is still poisoned fails again, running only that chunk;
// retrying after the cause is gone completes the job.
func (s suite) poisonChunkThenRetry(t *testing.T) {
	h := NewHarness(t, s.f)
	h.Poison(7, true)
	h.Start(2)
	job := h.Create(20)
	st := h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusFailed || st.ProcessedChunks != 19 || st.FailedChunks != 1 || st.ProgressPercent != 95 {
		t.Fatalf("status %+v", st)
	}
	want := fmt.Sprintf("chunk 7 failed after %d attempts: attempt %d: panic: poison chunk 7", maxAttempts, maxAttempts)
	if st.ErrorMessage == nil || *st.ErrorMessage != want {
		t.Fatalf("errorMessage %q, want %q", orNil(st.ErrorMessage), want)
	}
	ctx := context.Background()
	if _, err := h.Engine.Retry(ctx, job.JobID, "test"); err != nil {
		t.Fatalf("retry while poisoned: %v", err)
	}
	st = h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusFailed || st.ProcessedChunks != 19 || st.FailedChunks != 1 {
		t.Fatalf("after a retry while still poisoned: %+v", st)
	}
	if n := h.op.processCalls(job.JobID, 0); n != 1 {
		t.Fatalf("healthy chunk 0 ran %d times over the retry, want once", n)
	}
	h.Poison(7, false)
	r, err := h.Engine.Retry(ctx, job.JobID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != jobs.StatusInProgress || r.FailedChunks != 0 {
		t.Fatalf("retried job: %+v", r)
	}
	st = h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusCompleted || st.ProcessedChunks != 20 || st.FailedChunks != 0 || st.ErrorMessage != nil {
		t.Fatalf("status after retry %+v", st)
	}
	h.AssertExact(job.JobID, 20)
	if _, err := h.Engine.Retry(ctx, job.JobID, "test"); !errors.Is(err, jobs.ErrConflict) {
		t.Fatalf("retry of a completed job: %v, want ErrConflict", err)
	}
}

// Cancel stops pending chunks; running ones finish and are counted; a retry
// resumes only the unfinished chunks.
func (s suite) cancel(t *testing.T) {
	h := NewHarness(t, s.f)
	release := make(chan struct{})
	var started atomic.Int64
	h.SetGate(func(ctx context.Context, c jobs.Chunk) error {
		started.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	h.Start(2)
	job := h.Create(50)
	h.WaitFor(30*time.Second, "two chunks to be running", func() bool { return started.Load() >= 2 })
	ctx := context.Background()
	st, err := h.Engine.Cancel(ctx, job.JobID, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != jobs.StatusCancelled || st.ErrorMessage == nil || *st.ErrorMessage != "cancelled by tester" {
		t.Fatalf("cancelled status %+v", st)
	}
	close(release)
	var cancelled, done, running int
	h.WaitFor(30*time.Second, "the running chunks to settle", func() bool {
		if err := h.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'cancelled'), count(*) FILTER (WHERE state = 'done'),
			count(*) FILTER (WHERE state = 'running') FROM job_chunks WHERE job_id = $1`, job.JobID).Scan(&cancelled, &done, &running); err != nil {
			t.Fatal(err)
		}
		return running == 0
	})
	st = h.Status(job.JobID)
	if done+cancelled != 50 || done < 2 || st.ProcessedChunks != done || st.Status != jobs.StatusCancelled {
		t.Fatalf("after cancel: %d done, %d cancelled, status %+v", done, cancelled, st)
	}
	if _, err := h.Engine.Cancel(ctx, job.JobID, "tester"); !errors.Is(err, jobs.ErrConflict) {
		t.Fatalf("second cancel: %v, want ErrConflict", err)
	}
	if _, err := h.Engine.Retry(ctx, job.JobID, "tester"); err != nil {
		t.Fatal(err)
	}
	st = h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusCompleted || st.ProcessedChunks != 50 {
		t.Fatalf("after retry: %+v", st)
	}
	h.AssertExact(job.JobID, 50)
}

// When every last chunk commits at the same moment, in three processes, the
// completion step runs once.
func (s suite) completionRunsOnce(t *testing.T) {
	h := NewHarness(t, s.f)
	procs := []*Harness{h, h.Process(), h.Process()}
	const chunks, slots = 12, 4 // one slot per chunk over the processes
	var arrived atomic.Int64
	all := make(chan struct{})
	barrier := func(ctx context.Context, c jobs.Chunk) error {
		if arrived.Add(1) == chunks {
			close(all)
		}
		select { // every chunk computes, then all commit together
		case <-all:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, p := range procs {
		p.SetGate(barrier)
		p.Start(slots)
	}
	job := h.Create(chunks)
	st := h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusCompleted || st.ProcessedChunks != chunks {
		t.Fatalf("status %+v", st)
	}
	h.AssertExact(job.JobID, chunks)
	if n := h.Completions(job.JobID); n != 1 {
		t.Fatalf("completion step committed %d times", n)
	}
}

// The same message delivered again while its chunk runs, after it is done,
// and after its job has completed, is counted once: each duplicate is
// settled without the chunk being computed again.
func (s suite) duplicateDelivery(t *testing.T) {
	h := NewHarness(t, s.f)
	release := map[int]chan struct{}{0: make(chan struct{}), 1: make(chan struct{})}
	h.SetGate(func(ctx context.Context, c jobs.Chunk) error {
		wait, blocks := release[c.Number]
		if !blocks {
			return nil
		}
		select {
		case <-wait:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	h.Start(3) // chunks 0 and 1 hold a slot each; the third takes the rest
	job := h.Create(3)
	ctx := context.Background()
	msg := func(n int) queue.Message { return message(job.JobID, n) }
	// settles runs step and waits until chunk n's message has been settled
	// once more.
	settles := func(n int, what string, step func()) {
		t.Helper()
		before := h.Settled(msg(n))
		step()
		h.WaitFor(30*time.Second, what, func() bool { return h.Settled(msg(n)) > before })
	}
	again := func(n int) func() {
		return func() {
			if err := pgx.BeginFunc(ctx, h.Pool, func(tx pgx.Tx) error {
				return h.Broker.EnqueueTx(ctx, tx, []queue.Message{msg(n)})
			}); err != nil {
				t.Errorf("enqueue chunk %d again: %v", n, err)
			}
		}
	}
	h.WaitFor(30*time.Second, "chunks 0 and 1 to be computing and chunk 2 done", func() bool {
		return h.op.processCalls(job.JobID, 0) == 1 && h.op.processCalls(job.JobID, 1) == 1 && h.Settled(msg(2)) > 0
	})
	settles(0, "the duplicate of running chunk 0 to be settled", again(0))
	settles(0, "chunk 0 to commit", func() { close(release[0]) })
	settles(0, "the duplicate of done chunk 0 to be settled", again(0))
	if st := h.Status(job.JobID); st.Status != jobs.StatusInProgress || st.ProcessedChunks != 2 {
		t.Fatalf("with chunk 1 running: %+v, want IN_PROGRESS with 2 processed", st)
	}
	close(release[1])
	st := h.WaitTerminal(job.JobID, time.Minute)
	settles(0, "a duplicate of chunk 0 after completion to be settled", again(0))
	settles(1, "a duplicate of chunk 1 after completion to be settled", again(1))

	if after := h.Status(job.JobID); st.Status != jobs.StatusCompleted || after.ProcessedChunks != 3 || after.FailedChunks != 0 || after.Status != st.Status {
		t.Fatalf("status at completion %+v, after the duplicates %+v", st, after)
	}
	h.AssertExact(job.JobID, 3)
	for n := range 3 {
		if calls := h.op.processCalls(job.JobID, n); calls != 1 {
			t.Fatalf("chunk %d was computed %d times", n, calls)
		}
	}
	if n := h.Completions(job.JobID); n != 1 {
		t.Fatalf("completion step ran %d times", n)
	}
}

// A worker that lost its lease (its process stalled past it, say in a long
// pause or a partition) has its chunk handed out again; when it finally
// commits, after the chunk was done elsewhere, nothing changes.
func (s suite) staleClaim(t *testing.T) {
	h := NewHarness(t, s.f)
	// The stale process renews its leases only every 20 minutes: its
	// lease, cut short below, stays lost.
	cfg := engineConfig()
	cfg.Lease = time.Hour
	stale := newProcess(t, s.f, h.Pool, cfg)
	entered, returned := make(chan int, 1), make(chan struct{})
	release := make(chan struct{})
	var took atomic.Bool
	stale.SetGate(func(ctx context.Context, c jobs.Chunk) error {
		if took.Swap(true) {
			return nil
		}
		entered <- c.Number // its only slot holds this chunk until released
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		close(returned)
		return nil
	})
	stopStale := stale.StartWorkers(1)
	const chunks = 4
	job := h.Create(chunks)
	var victim int
	select {
	case victim = <-entered:
	case <-time.After(time.Minute):
		t.Fatal("the stale process took no chunk within a minute")
	}
	ctx := context.Background()
	if _, err := h.Pool.Exec(ctx, `UPDATE job_chunks SET lease_until = now() - interval '1 second'
		WHERE job_id = $1 AND chunk_no = $2 AND state = 'running'`, job.JobID, victim); err != nil {
		t.Fatal(err)
	}
	h.Start(2) // the live process: expires the lease, runs the chunk again
	st := h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusCompleted || st.ProcessedChunks != chunks {
		t.Fatalf("status %+v", st)
	}
	h.AssertExact(job.JobID, chunks)

	close(release)
	<-returned
	stopStale() // returns once the late attempt's commit has run
	if stale.Settled(message(job.JobID, victim)) == 0 {
		t.Fatalf("the stale process's late commit of chunk %d failed", victim)
	}
	after := h.Status(job.JobID)
	if after.Status != jobs.StatusCompleted || after.ProcessedChunks != chunks || after.FailedChunks != 0 {
		t.Fatalf("after the late commit: %+v", after)
	}
	h.AssertExact(job.JobID, chunks)
	if c := h.chunk(job.JobID, victim); c.state != "done" || c.attempts != 2 {
		t.Fatalf("chunk %d: %s after %d attempts, want done after 2", victim, c.state, c.attempts)
	}
	if n := h.Completions(job.JobID); n != 1 {
		t.Fatalf("completion step ran %d times", n)
	}
}

// On shutdown a worker stops fetching, lets a chunk that finishes within the
// grace period commit, and gives back one that does not: the released chunk
// keeps its attempt and runs again in another process, counted once.
func (s suite) gracefulShutdown(t *testing.T) {
	h := NewHarness(t, s.f)
	finishing, stuck := make(chan struct{}), make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(2)
	h.SetGate(func(ctx context.Context, c jobs.Chunk) error {
		switch c.Number {
		case 0: // finishes once shutdown has begun
			entered.Done()
			<-finishing
			return nil
		case 1: // outlasts the grace period
			entered.Done()
			<-ctx.Done()
			close(stuck)
			return ctx.Err()
		}
		return nil
	})
	job := h.Create(2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- h.Engine.RunWorkers(ctx, jobs.WorkerConfig{Concurrency: 2, ShutdownGrace: 300 * time.Millisecond})
	}()
	entered.Wait()
	cancel()
	close(finishing)
	if err := <-done; err != nil {
		t.Fatalf("RunWorkers after shutdown: %v", err)
	}
	<-stuck
	c0, c1 := h.chunk(job.JobID, 0), h.chunk(job.JobID, 1)
	if c0.state != "done" || c1.state != "pending" || c1.attempts != 0 {
		t.Fatalf("after shutdown: chunk 0 %s, chunk 1 %s with %d attempts; want done, pending with 0", c0.state, c1.state, c1.attempts)
	}
	h.Process().Start(1)
	st := h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusCompleted || st.ProcessedChunks != 2 {
		t.Fatalf("status %+v", st)
	}
	h.AssertExact(job.JobID, 2)
}

// workerInsideChunk creates a job and starts a worker process in mode,
// returning once that process is inside chunk victim.
func (s suite) workerInsideChunk(t *testing.T, mode string, chunks, victim int) (*Harness, jobs.JobStatus, *workerProcess) {
	t.Helper()
	h := NewHarness(t, s.f)
	barrier := listenBarrier(t)
	job := h.Create(chunks)
	proc := s.startWorkerProcess(t, h, mode, victim)
	awaitBarrier(t, barrier, proc)
	if c := h.chunk(job.JobID, victim); c.state != "running" {
		t.Fatalf("chunk %d is %s at the barrier, want running", victim, c.state)
	}
	return h, job, proc
}

// A worker process sent SIGTERM while inside a chunk finishes that chunk
// within its grace period, commits it once, takes no new chunk and exits 0;
// another process completes the job, every chunk counted once.
func (s suite) workerTerminatedInsideChunk(t *testing.T) {
	const chunks, victim = 40, 5
	h, job, proc := s.workerInsideChunk(t, modeTerm, chunks, victim)
	if code := proc.terminate(t); code != 0 {
		t.Fatalf("the worker process exited %d after SIGTERM, want 0", code)
	}
	if c := h.chunk(job.JobID, victim); c.state != "done" || c.attempts != 1 {
		t.Fatalf("chunk %d after SIGTERM: %s with %d attempts, want done with 1", victim, c.state, c.attempts)
	}
	h.Start(2)
	st := h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusCompleted || st.ProcessedChunks != chunks || st.FailedChunks != 0 {
		t.Fatalf("status %+v", st)
	}
	h.AssertExact(job.JobID, chunks)
}

// A worker process killed with SIGKILL while inside a chunk loses nothing:
// the chunk is handed out again and every chunk counts once.
func (s suite) workerKilledInsideChunk(t *testing.T) {
	const chunks, victim = 40, 5
	h, job, proc := s.workerInsideChunk(t, modeHang, chunks, victim)
	proc.kill()
	h.Start(2) // a surviving process takes the chunk once its lease expires
	st := h.WaitTerminal(job.JobID, time.Minute)
	if st.Status != jobs.StatusCompleted || st.ProcessedChunks != chunks || st.FailedChunks != 0 {
		t.Fatalf("status %+v", st)
	}
	h.AssertExact(job.JobID, chunks)
	if c := h.chunk(job.JobID, victim); c.attempts != 2 {
		t.Fatalf("chunk %d took %d attempts, want 2 (the killed one and the next)", victim, c.attempts)
	}
}

// A chunk that kills its worker process on every attempt ends failed after
// the maximum attempts, instead of looping forever; the others complete.
func (s suite) chunkKillsWorkerEveryAttempt(t *testing.T) {
	h := NewHarness(t, s.f)
	h.StartMaintenance() // no workers here: only worker processes run chunks
	const chunks, victim = 10, 3
	job := h.Create(chunks)
	deaths := 0
	var st jobs.JobStatus
	for st = h.Status(job.JobID); !st.Status.Terminal(); st = h.Status(job.JobID) {
		if deaths > 2*maxAttempts {
			t.Fatalf("%d worker deaths and the job is still %s", deaths, st.Status)
		}
		proc := s.startWorkerProcess(t, h, modeDie, victim)
		h.WaitFor(time.Minute, "the worker process to die or the job to end", func() bool {
			return proc.dead() || h.Status(job.JobID).Status.Terminal()
		})
		if proc.dead() {
			if !proc.killedBySignal() {
				t.Fatalf("a worker process exited by itself (%s) instead of dying in chunk %d", proc.cmd.ProcessState, victim)
			}
			deaths++
		}
	}
	want := fmt.Sprintf("chunk %d failed after %d attempts: attempt %d: worker lost (lease expired)", victim, maxAttempts, maxAttempts)
	if st.Status != jobs.StatusFailed || st.FailedChunks != 1 || st.ProcessedChunks != chunks-1 || st.ErrorMessage == nil || *st.ErrorMessage != want {
		t.Fatalf("status %+v (error %q), want FAILED with %q", st, orNil(st.ErrorMessage), want)
	}
	if deaths != maxAttempts {
		t.Fatalf("%d worker deaths, want %d (one per attempt)", deaths, maxAttempts)
	}
}

// A small job created while a 100,000-chunk job runs finishes within a
// bounded number of the big job's chunks, not after the big one.
func (s suite) fairness(t *testing.T) {
	h := NewHarness(t, s.f)
	big := h.Create(100_000)
	h.Start(2)
	h.WaitFor(time.Minute, "the big job to start", func() bool { return h.Status(big.JobID).ProcessedChunks >= 50 })
	before := h.Status(big.JobID).ProcessedChunks
	small := h.Create(10)
	st := h.WaitTerminal(small.JobID, time.Minute)
	after := h.Status(big.JobID)
	if st.Status != jobs.StatusCompleted {
		t.Fatalf("small job %+v", st)
	}
	if after.Status.Terminal() {
		t.Fatalf("the big job ended (%s) before the small one; the test proved nothing", after.Status)
	}
	// Round-robin gives the big job about one chunk per small chunk; allow
	// for chunks already fetched and batching.
	ran := after.ProcessedChunks - before
	if ran > 300 {
		t.Fatalf("the big job ran %d chunks while the 10-chunk job waited", ran)
	}
	t.Logf("the big job ran %d chunks during the small job's life", ran)
	if _, err := h.Engine.Cancel(context.Background(), big.JobID, "test"); err != nil {
		t.Fatal(err)
	}
}

func orNil(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
