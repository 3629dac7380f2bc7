package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/jobs"
)

// TokenPrefix starts every token a TokenStore makes, so that secret
// scanners and people can tell a tallyq token when they see one.
const TokenPrefix = "tqt_"

// maxTokenName bounds a token's name.
const maxTokenName = 100

// Errors of TokenStore; test with errors.Is.
var (
	// ErrTokenSpec means a token cannot be created as asked.
	ErrTokenSpec = errors.New("invalid token request")
	// ErrTokenNotFound means no token has the given id.
	ErrTokenNotFound = errors.New("token not found")
)

// TokenSpec describes a token to create.
type TokenSpec struct {
	// Name says whom the token is for; it shows in the audit log.
	Name string
	// Role is RoleAdmin, RoleGuardian or RoleViewer.
	Role Role
	// ElectionID and GuardianID bind a guardian's token to one guardian of
	// one election; both are required for RoleGuardian and refused for
	// the other roles.
	ElectionID *int64
	GuardianID string
	// CreatedBy names who asked for the token, for the audit log.
	CreatedBy string
}

// TokenInfo is a stored token as listings show it: never the token itself,
// which only its creator saw.
type TokenInfo struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	ElectionID *int64     `json:"electionId,omitempty"`
	GuardianID string     `json:"guardianId,omitempty"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	RevokedBy  *string    `json:"revokedBy,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// identity is the Identity the token's holder acts as.
func (t TokenInfo) identity() Identity {
	return Identity{Subject: tokenSubject(t.Name, t.ID), Role: t.Role, ElectionID: t.ElectionID,
		GuardianID: t.GuardianID, TokenID: t.ID}
}

// auditDetail describes the token in its audit log lines.
func (t TokenInfo) auditDetail() string {
	return fmt.Sprintf("token %d %q, role %s", t.ID, t.Name, t.Role)
}

// tokenSubject names a token's holder in the audit log: its name and id,
// since names need not be unique.
func tokenSubject(name string, id int64) string { return fmt.Sprintf("%s#%d", name, id) }

// TokenStore keeps API tokens in Postgres (table tallyq_tokens) by their
// SHA-256 digest and authenticates bearer tokens against them. Tokens are
// 32 random bytes, so a digest (not a slow password hash) is what keeps
// them safe, and it makes the lookup one index probe.
type TokenStore struct {
	pool *pgxpool.Pool
}

// NewTokenStore returns a store of tokens in the database of pool.
func NewTokenStore(pool *pgxpool.Pool) (*TokenStore, error) {
	if pool == nil {
		return nil, errors.New("api: NewTokenStore needs a pool")
	}
	return &TokenStore{pool: pool}, nil
}

// tokenColumns are the columns scanToken reads.
const tokenColumns = `token_id, name, role, election_id, guardian_id, created_by, created_at, revoked_by, revoked_at`

func scanToken(row pgx.Row) (TokenInfo, error) {
	var t TokenInfo
	err := row.Scan(&t.ID, &t.Name, &t.Role, &t.ElectionID, &t.GuardianID, &t.CreatedBy, &t.CreatedAt, &t.RevokedBy, &t.RevokedAt)
	return t, err
}

// Create stores a new token and returns it with the token itself, which
// is shown this once: only its digest is kept.
func (ts *TokenStore) Create(ctx context.Context, spec TokenSpec) (TokenInfo, string, error) {
	if err := spec.check(); err != nil {
		return TokenInfo{}, "", err
	}
	random, err := randomToken()
	if err != nil {
		return TokenInfo{}, "", err
	}
	token := TokenPrefix + random
	digest := sha256.Sum256([]byte(token))
	var info TokenInfo
	err = pgx.BeginFunc(ctx, ts.pool, func(tx pgx.Tx) error {
		info, err = scanToken(tx.QueryRow(ctx, `INSERT INTO tallyq_tokens (name, role, election_id, guardian_id, token_hash, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+tokenColumns,
			spec.Name, string(spec.Role), spec.ElectionID, spec.GuardianID, digest[:], spec.CreatedBy))
		if err != nil {
			return err
		}
		return jobs.RecordAudit(ctx, tx, jobs.AuditEntry{Actor: spec.CreatedBy, Action: jobs.AuditCreateToken,
			ElectionID: info.ElectionID, GuardianID: info.GuardianID,
			Detail: info.auditDetail()})
	})
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return TokenInfo{}, "", fmt.Errorf("%w: election %d has no guardian %q", ErrTokenSpec, *spec.ElectionID, spec.GuardianID)
	}
	if err != nil {
		return TokenInfo{}, "", fmt.Errorf("store token: %w", err)
	}
	return info, token, nil
}

// check says what is wrong with spec, if anything.
func (spec TokenSpec) check() error {
	switch {
	case strings.TrimSpace(spec.Name) == "":
		return fmt.Errorf("%w: a token needs a name saying whom it is for", ErrTokenSpec)
	case len(spec.Name) > maxTokenName || !utf8.ValidString(spec.Name):
		return fmt.Errorf("%w: a token's name must be valid UTF-8 of at most %d bytes", ErrTokenSpec, maxTokenName)
	}
	guardian := spec.ElectionID != nil || spec.GuardianID != ""
	switch spec.Role {
	case RoleAdmin, RoleViewer:
		if guardian {
			return fmt.Errorf("%w: only a guardian's token is bound to an election and a guardian; leave them out for role %s",
				ErrTokenSpec, spec.Role)
		}
	case RoleGuardian:
		if spec.ElectionID == nil || *spec.ElectionID < 1 || spec.GuardianID == "" {
			return fmt.Errorf("%w: a guardian's token must name its election (a positive id) and its guardian id", ErrTokenSpec)
		}
	default:
		return fmt.Errorf("%w: role %q is not one of admin, guardian, viewer", ErrTokenSpec, spec.Role)
	}
	return nil
}

// List returns every token, revoked ones included, oldest first.
func (ts *TokenStore) List(ctx context.Context) ([]TokenInfo, error) {
	rows, err := ts.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tallyq_tokens ORDER BY token_id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TokenInfo, error) { return scanToken(row) })
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

// Revoke revokes a token on behalf of by and ends the browser sessions it
// signed in; from its commit on, the token authenticates nothing. Revoking
// a revoked token changes nothing and returns it.
func (ts *TokenStore) Revoke(ctx context.Context, id int64, by string) (TokenInfo, error) {
	var info TokenInfo
	err := pgx.BeginFunc(ctx, ts.pool, func(tx pgx.Tx) error {
		var err error
		info, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tallyq_tokens WHERE token_id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no token has id %d; `tallyq token list` shows them", ErrTokenNotFound, id)
		}
		if err != nil || info.RevokedAt != nil {
			return err
		}
		if info, err = scanToken(tx.QueryRow(ctx, `UPDATE tallyq_tokens SET revoked_at = now(), revoked_by = $2
			WHERE token_id = $1 RETURNING `+tokenColumns, id, by)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tallyq_sessions WHERE token_id = $1`, id); err != nil {
			return err
		}
		return jobs.RecordAudit(ctx, tx, jobs.AuditEntry{Actor: by, Action: jobs.AuditRevokeToken,
			ElectionID: info.ElectionID, GuardianID: info.GuardianID,
			Detail: info.auditDetail()})
	})
	if err != nil && !errors.Is(err, ErrTokenNotFound) {
		err = fmt.Errorf("revoke token %d: %w", id, err)
	}
	return info, err
}

// Authenticate implements Authenticator for the tokens of the store that
// are not revoked.
func (ts *TokenStore) Authenticate(r *http.Request) (Identity, error) {
	token, err := bearerToken(r)
	if err != nil {
		return Identity{}, err
	}
	// Anything not shaped like our tokens costs no database round trip.
	if !strings.HasPrefix(token, TokenPrefix) || len(token) != tokenLength {
		return Identity{}, errInvalidBearer
	}
	digest := sha256.Sum256([]byte(token))
	info, err := scanToken(ts.pool.QueryRow(r.Context(), `SELECT `+tokenColumns+` FROM tallyq_tokens
		WHERE token_hash = $1 AND revoked_at IS NULL`, digest[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return Identity{}, errInvalidBearer
	}
	if err != nil {
		return Identity{}, fmt.Errorf("look up a bearer token: %w", err)
	}
	return info.identity(), nil
}

// tokenLength is the length of every token a TokenStore makes.
var tokenLength = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(sessionIDBytes)

var errInvalidBearer = fmt.Errorf("%w: the bearer token is not valid (or was revoked)", ErrUnauthenticated)
