package brokertest

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/jobs"
)

// A job larger than the engine's enqueue window is created with one window
// of messages; the rest are enqueued as chunks settle, by two processes
// asking at once, and each chunk is still delivered and applied once.
func (s suite) enqueueWindow(t *testing.T) {
	const window, chunks = 16, 300
	cfg := engineConfig()
	cfg.EnqueueWindow = window
	h := newHarness(t, s.f, cfg)
	other := newProcess(t, s.f, h.Pool, cfg)
	job := h.Create(chunks)
	if released, _, _ := h.released(job.JobID); released != window {
		t.Fatalf("a job of %d chunks was created with %d enqueued, want the window of %d", chunks, released, window)
	}
	h.Start(2)
	other.Start(2)
	polls, windows := 0, map[int]bool{}
	for {
		released, settled, status := h.released(job.JobID)
		polls++
		windows[released] = true
		if ahead := released - settled; ahead > window || released > chunks {
			t.Fatalf("poll %d: %d chunks enqueued, %d settled: %d ahead, more than the window of %d", polls, released, settled, ahead, window)
		}
		if status.Terminal() {
			if st := h.Status(job.JobID); st.Status != jobs.StatusCompleted || st.ProcessedChunks != chunks || released != chunks {
				t.Fatalf("final status %+v with %d chunks enqueued", st, released)
			}
			break
		}
	}
	h.AssertExact(job.JobID, chunks)
	if n := h.Completions(job.JobID); n != 1 {
		t.Fatalf("completion step ran %d times", n)
	}
	for n := range chunks {
		if got := h.Settled(message(job.JobID, n)) + other.Settled(message(job.JobID, n)); got != 1 {
			t.Fatalf("chunk %d was delivered and settled %d times; each chunk is enqueued once", n, got)
		}
	}
	if len(windows) < 3 {
		t.Fatalf("%d polls saw only %d release points; the windows were not exercised", polls, len(windows))
	}
	t.Logf("%d polls saw %d release points", polls, len(windows))
}

// released returns how many of the job's chunks the engine has enqueued,
// how many are settled, and the job's status, read by one statement.
func (h *Harness) released(id uuid.UUID) (released, settled int, status jobs.Status) {
	h.t.Helper()
	err := h.Pool.QueryRow(context.Background(), `SELECT j.released_chunks, j.processed_chunks + j.failed_chunks
			+ coalesce((SELECT sum(s.processed + s.failed) FROM job_counter_shards s WHERE s.job_id = j.job_id), 0), j.status
		FROM election_jobs j WHERE j.job_id = $1`, id).Scan(&released, &settled, &status)
	if err != nil {
		h.t.Fatal(err)
	}
	return released, settled, status
}
