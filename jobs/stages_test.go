package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// A staged job runs a stage only when every chunk before it is done; a
// failed chunk holds back later stages, which run once a retry completes it.
// Enqueue windows smaller than the stages change none of that.
func TestStagedJob(t *testing.T) {
	t.Run("one window", func(t *testing.T) { testStagedJob(t, testConfig()) })
	t.Run("windows of 2", func(t *testing.T) { testStagedJob(t, windowConfig(2)) })
}

func testStagedJob(t *testing.T, cfg Config) {
	h := newHarnessWith(t, cfg)
	h.op.poison.Store(1, true)
	// Every chunk of a later stage checks, before it computes, that the
	// chunks of the earlier stages are all done.
	h.op.gate = func(ctx context.Context, c Chunk) error {
		var notDone int
		err := h.pool.QueryRow(ctx, `SELECT count(*) FROM job_chunks WHERE job_id = $1 AND chunk_no < $2 AND state <> 'done'`,
			c.JobID, stageStart(c.Number)).Scan(&notDone)
		if err != nil {
			return err
		}
		if notDone > 0 {
			return fmt.Errorf("chunk %d started while %d chunks of earlier stages were not done", c.Number, notDone)
		}
		return nil
	}
	h.start(4)
	ctx := context.Background()
	job, err := h.engine.CreateJob(ctx, CreateParams{OperationType: sumOpType, TotalChunks: 12, Stages: []int{0, 3, 0, 4, 5}})
	if err != nil {
		t.Fatal(err)
	}
	if job.TotalChunks != 12 {
		t.Fatalf("totalChunks %d, want 12", job.TotalChunks)
	}
	s := h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusFailed || s.ProcessedChunks != 2 || s.FailedChunks != 1 {
		t.Fatalf("with chunk 1 poisoned: %+v; want FAILED with 2 processed and 1 failed (later stages held back)", s)
	}
	var started int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM job_chunks WHERE job_id = $1 AND chunk_no >= 3 AND attempts > 0`,
		job.JobID).Scan(&started); err != nil {
		t.Fatal(err)
	}
	if started != 0 {
		t.Fatalf("%d chunks of later stages started while stage 1 had failed", started)
	}
	h.op.poison.Store(1, false)
	if _, err := h.engine.Retry(ctx, job.JobID, "test"); err != nil {
		t.Fatal(err)
	}
	s = h.waitTerminal(job.JobID, time.Minute)
	if s.Status != StatusCompleted || s.ProcessedChunks != 12 || s.ProgressPercent != 100 {
		t.Fatalf("after retry: %+v", s)
	}
	h.assertExact(job.JobID, 12)
	if n := h.completions(job.JobID); n != 1 {
		t.Fatalf("completion step ran %d times", n)
	}
}

// stageStart is where the stage of chunk n begins in TestStagedJob's stages.
func stageStart(n int) int {
	switch {
	case n < 3:
		return 0
	case n < 7:
		return 3
	default:
		return 7
	}
}

func TestStagesMustAddUp(t *testing.T) {
	h := newHarness(t)
	for _, stages := range [][]int{{1, 2}, {5, -1, 1}, {6, 0, 1}} {
		_, err := h.engine.CreateJob(context.Background(), CreateParams{OperationType: sumOpType, TotalChunks: 5, Stages: stages})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("stages %v of 5 chunks: %v, want ErrInvalid", stages, err)
		}
	}
}
