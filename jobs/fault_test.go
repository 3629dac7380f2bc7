package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	riverbroker "github.com/tallyq/tallyq/queue/river"
)

func (h *harness) status(id uuid.UUID) JobStatus {
	h.t.Helper()
	s, err := h.engine.Status(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// A message River discards without the engine having settled it, or one
// whose worker died between River's fetch and the claim, counts as an
// attempt of its chunk: the chunk is queued again while it has attempts
// left, and failed after, so its job still ends.
func TestRiverDiscardedMessage(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	exhausted, retried, orphaned := h.create(2), h.create(2), h.create(2)
	for _, id := range []uuid.UUID{exhausted.JobID, retried.JobID} {
		tag, err := h.pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now()
			WHERE kind = $1 AND state = 'available' AND args->>'job_id' = $2 AND (args->>'chunk')::int = 1`,
			riverbroker.Kind, id.String())
		if err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("discard chunk 1's message: %v (%d rows)", err, tag.RowsAffected())
		}
	}
	// A worker took this message from River and died before claiming.
	tag, err := h.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 hour'
		WHERE kind = $1 AND state = 'available' AND args->>'job_id' = $2 AND (args->>'chunk')::int = 1`,
		riverbroker.Kind, orphaned.JobID.String())
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("orphan chunk 1's message: %v (%d rows)", err, tag.RowsAffected())
	}
	if _, err := h.pool.Exec(ctx, `UPDATE job_chunks SET attempts = 3 WHERE job_id = $1 AND chunk_no = 1`, exhausted.JobID); err != nil {
		t.Fatal(err)
	}
	h.start(1)
	s := h.waitTerminal(exhausted.JobID, time.Minute)
	if s.Status != StatusFailed || s.FailedChunks != 1 || s.ProcessedChunks != 1 || s.ErrorMessage == nil ||
		!strings.Contains(*s.ErrorMessage, "chunk 1 failed after 3 attempts: River discarded the message") {
		t.Fatalf("exhausted job: %+v (error %q)", s, deref(s.ErrorMessage, ""))
	}
	for _, id := range []uuid.UUID{retried.JobID, orphaned.JobID} {
		s = h.waitTerminal(id, time.Minute)
		if s.Status != StatusCompleted || s.ProcessedChunks != 2 {
			t.Fatalf("job %s: %+v", id, s)
		}
		h.assertExact(id, 2)
	}
}
