package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Audit actions. The engine records the first three itself; the election
// pipeline and the API record the others with RecordAudit.
const (
	AuditStartJob     = "start job"
	AuditCancelJob    = "cancel job"
	AuditRetryJob     = "retry job"
	AuditImport       = "import election"
	AuditUploadShares = "upload shares"
	AuditEraseSecrets = "erase secrets"
	AuditCreateToken  = "create token"
	AuditRevokeToken  = "revoke token"
)

// DefaultAuditPage is AuditLog's page size when the query sets none.
const DefaultAuditPage = 100

// Audit log limits: the largest page of AuditLog and the longest Detail kept.
const (
	maxAuditPage       = 500
	maxAuditDetailSize = 1000
)

// AuditEntry is one line of the audit log (table tallyq_audit_log): who did
// what, to which election, job or guardian, and when.
type AuditEntry struct {
	ID         int64      `json:"id"`
	At         time.Time  `json:"at"`
	Actor      string     `json:"actor"`
	Action     string     `json:"action"`
	ElectionID *int64     `json:"electionId,omitempty"`
	JobID      *uuid.UUID `json:"jobId,omitempty"`
	GuardianID string     `json:"guardianId,omitempty"`
	// Detail says more, such as a job's operation or a token's role; it
	// never holds a secret.
	Detail string `json:"detail,omitempty"`
}

// execer is what RecordAudit needs of a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// RecordAudit writes e to the audit log through tx, the transaction of the
// action it records, so that the line commits if and only if the action
// does. At is the transaction's time; ID is assigned.
func RecordAudit(ctx context.Context, tx execer, e AuditEntry) error {
	if len(e.Detail) > maxAuditDetailSize {
		e.Detail = e.Detail[:maxAuditDetailSize]
	}
	if _, err := tx.Exec(ctx, `INSERT INTO tallyq_audit_log (actor, action, election_id, job_id, guardian_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6)`, e.Actor, e.Action, e.ElectionID, e.JobID, e.GuardianID, e.Detail); err != nil {
		return fmt.Errorf("record %q in the audit log: %w", e.Action, err)
	}
	return nil
}

// AuditQuery selects a page of the audit log, newest first.
type AuditQuery struct {
	// ElectionID, when set, keeps the lines about that election.
	ElectionID *int64
	// Before, when positive, keeps the lines older than the entry of that ID
	// (the last ID of the previous page).
	Before int64
	// Limit is the page size (1 … 500; 0 means 100).
	Limit int
}

// AuditLog returns a page of the audit log, newest first.
func (e *Engine) AuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	switch {
	case q.Limit == 0:
		q.Limit = DefaultAuditPage
	case q.Limit < 1 || q.Limit > maxAuditPage:
		return nil, fmt.Errorf("%w: limit must be between 1 and %d, got %d", ErrInvalid, maxAuditPage, q.Limit)
	}
	if q.Before < 0 {
		return nil, fmt.Errorf("%w: before must be a positive entry id, got %d", ErrInvalid, q.Before)
	}
	rows, err := e.pool.Query(ctx, `SELECT entry_id, at, actor, action, election_id, job_id, guardian_id, detail
		FROM tallyq_audit_log
		WHERE ($1::bigint IS NULL OR election_id = $1) AND ($2 = 0 OR entry_id < $2)
		ORDER BY entry_id DESC LIMIT $3`, q.ElectionID, q.Before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var a AuditEntry
		err := row.Scan(&a.ID, &a.At, &a.Actor, &a.Action, &a.ElectionID, &a.JobID, &a.GuardianID, &a.Detail)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return entries, nil
}
