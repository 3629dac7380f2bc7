package jobs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// statusColumns selects a job with its exact counts: the folded columns plus
// the shards, read by one statement and therefore from one snapshot.
const statusColumns = `
	j.job_id, j.status, j.total_chunks,
	j.processed_chunks + coalesce(s.processed, 0),
	j.failed_chunks + coalesce(s.failed, 0),
	j.started_at, j.completed_at, j.error_message, j.operation_type,
	j.election_id, j.created_at, j.created_by, j.metadata, j.released_chunks, j.stage_ends, now()`

const statusFrom = `
	FROM election_jobs j
	LEFT JOIN LATERAL (
		SELECT sum(processed)::int AS processed, sum(failed)::int AS failed
		FROM job_counter_shards WHERE job_id = j.job_id
	) s ON true`

// queryer is what status reads need from a pool or a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func scanStatus(row pgx.Row) (JobStatus, error) {
	var (
		s   JobStatus
		now time.Time
	)
	err := row.Scan(&s.JobID, &s.Status, &s.TotalChunks, &s.ProcessedChunks, &s.FailedChunks,
		&s.StartedAt, &s.CompletedAt, &s.ErrorMessage, &s.OperationType,
		&s.ElectionID, &s.CreatedAt, &s.CreatedBy, &s.Metadata, &s.released, &s.stageEnds, &now)
	if err != nil {
		return s, err
	}
	s.derive(now)
	return s, nil
}

// derive fills the fields computed from the counts.
func (s *JobStatus) derive(now time.Time) {
	switch {
	case s.TotalChunks > 0:
		s.ProgressPercent = round2(100 * float64(s.ProcessedChunks) / float64(s.TotalChunks))
	case s.Status == StatusCompleted:
		s.ProgressPercent = 100
	}
	if s.StartedAt == nil {
		return
	}
	end := now
	if s.CompletedAt != nil {
		end = *s.CompletedAt
	}
	elapsed := end.Sub(*s.StartedAt).Seconds()
	if elapsed <= 0 || s.ProcessedChunks == 0 {
		return
	}
	s.ChunksPerSecond = round2(float64(s.ProcessedChunks) / elapsed)
	if !s.Status.Terminal() {
		remaining := s.TotalChunks - s.ProcessedChunks - s.FailedChunks
		eta := round2(float64(remaining) / (float64(s.ProcessedChunks) / elapsed))
		s.EtaSeconds = &eta
	}
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// Status returns the job's status; ErrJobNotFound if there is none.
func (e *Engine) Status(ctx context.Context, jobID uuid.UUID) (JobStatus, error) {
	return statusOf(ctx, e.pool, jobID)
}

// StatusTx is Status read in tx. A caller holding a transaction must read
// through it, not take a second connection of the pool: were every
// connection held by transactions waiting for one another's locks (say,
// many requests starting one election's tally at once), none would be given.
func (e *Engine) StatusTx(ctx context.Context, tx pgx.Tx, jobID uuid.UUID) (JobStatus, error) {
	return statusOf(ctx, tx, jobID)
}

func statusOf(ctx context.Context, q queryer, jobID uuid.UUID) (JobStatus, error) {
	s, err := scanStatus(q.QueryRow(ctx, `SELECT `+statusColumns+statusFrom+` WHERE j.job_id = $1`, jobID))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("%w: %s", ErrJobNotFound, jobID)
	}
	if err != nil {
		return s, fmt.Errorf("read job %s: %w", jobID, err)
	}
	return s, nil
}

// Active returns the QUEUED and IN_PROGRESS jobs, oldest first.
func (e *Engine) Active(ctx context.Context) ([]JobStatus, error) {
	rows, err := e.pool.Query(ctx, `SELECT `+statusColumns+statusFrom+`
		WHERE j.status IN ('QUEUED', 'IN_PROGRESS') ORDER BY j.created_at, j.job_id LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("list active jobs: %w", err)
	}
	return collectStatuses(rows)
}

func collectStatuses(rows pgx.Rows) ([]JobStatus, error) {
	defer rows.Close()
	out := []JobStatus{}
	for rows.Next() {
		s, err := scanStatus(rows)
		if err != nil {
			return nil, fmt.Errorf("read job: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	return out, nil
}

// List returns a page of jobs, newest first, filtered by election and status.
func (e *Engine) List(ctx context.Context, p ListParams) (ListPage, error) {
	limit := p.Limit
	switch {
	case limit == 0:
		limit = 50
	case limit < 1 || limit > 500:
		return ListPage{}, fmt.Errorf("%w: limit must be between 1 and 500, got %d", ErrInvalid, limit)
	}
	if p.Status != "" && !p.Status.Valid() {
		return ListPage{}, fmt.Errorf("%w: status %q is not one of QUEUED, IN_PROGRESS, COMPLETED, FAILED, CANCELLED", ErrInvalid, p.Status)
	}
	where := []string{"true"}
	args := []any{}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if p.ElectionID != nil {
		where = append(where, "j.election_id = "+arg(*p.ElectionID))
	}
	if p.Status != "" {
		where = append(where, "j.status = "+arg(string(p.Status)))
	}
	if p.After != "" {
		at, id, err := decodeCursor(p.After)
		if err != nil {
			return ListPage{}, err
		}
		where = append(where, "(j.created_at, j.job_id) < ("+arg(at)+", "+arg(id)+")")
	}
	rows, err := e.pool.Query(ctx, `SELECT `+statusColumns+statusFrom+` WHERE `+strings.Join(where, " AND ")+
		` ORDER BY j.created_at DESC, j.job_id DESC LIMIT `+arg(limit+1), args...)
	if err != nil {
		return ListPage{}, fmt.Errorf("list jobs: %w", err)
	}
	jobs, err := collectStatuses(rows)
	if err != nil {
		return ListPage{}, err
	}
	page := ListPage{Jobs: jobs}
	if len(jobs) > limit {
		page.Jobs = jobs[:limit]
		last := page.Jobs[limit-1]
		page.Next = encodeCursor(last.CreatedAt, last.JobID)
	}
	return page, nil
}

func encodeCursor(at time.Time, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id.String()))
}

func decodeCursor(s string) (time.Time, uuid.UUID, error) {
	bad := fmt.Errorf("%w: cursor %q is not one this server returned", ErrInvalid, s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, uuid.Nil, bad
	}
	ts, idText, ok := strings.Cut(string(raw), "|")
	if !ok {
		return time.Time{}, uuid.Nil, bad
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, uuid.Nil, bad
	}
	id, err := uuid.Parse(idText)
	if err != nil {
		return time.Time{}, uuid.Nil, bad
	}
	return at, id, nil
}
