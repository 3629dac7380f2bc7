package api

import (
	"cmp"
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/tallyq/tallyq/jobs"
)

// TokenRequest is the body of POST /api/tokens.
type TokenRequest struct {
	Name       string `json:"name"`
	Role       Role   `json:"role"`
	ElectionID *int64 `json:"election_id"`
	GuardianID string `json:"guardian_id"`
}

// TokenCreated is the answer to POST /api/tokens: the only time the token
// itself is shown.
type TokenCreated struct {
	Success bool `json:"success"`
	// Token goes in `Authorization: Bearer <token>`; store it now, it
	// cannot be shown again.
	Token string    `json:"token"`
	Info  TokenInfo `json:"info"`
}

// TokensResponse is the answer to GET /api/tokens.
type TokensResponse struct {
	Success bool        `json:"success"`
	Tokens  []TokenInfo `json:"tokens"`
}

// TokenResponse is the answer to DELETE /api/tokens/{tokenId}.
type TokenResponse struct {
	Success bool      `json:"success"`
	Info    TokenInfo `json:"info"`
}

// AuditResponse is the answer to GET /api/audit.
type AuditResponse struct {
	Success bool              `json:"success"`
	Entries []jobs.AuditEntry `json:"entries"`
	// Before is the cursor of the next (older) page, 0 on the last page.
	Before int64 `json:"before,omitempty"`
}

// tokenRoutes registers the administrators' token routes.
func (s *server) tokenRoutes(r chi.Router) {
	r.Route("/tokens", func(r chi.Router) {
		r.Use(s.adminOnly())
		r.Get("/", s.handle(s.listTokens))
		r.With(s.limitBody(s.maxJSONBody)).Post("/", s.handle(s.createToken))
		r.With(s.limitBody(s.maxJSONBody)).Delete("/{tokenId}", s.handle(s.revokeToken))
	})
}

// createToken serves POST /api/tokens.
func (s *server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req TokenRequest
	if err := decodeRequiredJSON(r, &req); err != nil {
		return err
	}
	info, token, err := s.tokens.Create(r.Context(), TokenSpec{Name: req.Name, Role: req.Role,
		ElectionID: req.ElectionID, GuardianID: req.GuardianID, CreatedBy: caller(r)})
	if err != nil {
		return tokenError(err)
	}
	s.logger.InfoContext(r.Context(), "token created", "token_id", info.ID, "role", info.Role, "by", caller(r))
	writeJSON(w, http.StatusCreated, TokenCreated{Success: true, Token: token, Info: info})
	return nil
}

// listTokens serves GET /api/tokens.
func (s *server) listTokens(w http.ResponseWriter, r *http.Request) error {
	tokens, err := s.tokens.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TokensResponse{Success: true, Tokens: nonNil(tokens)})
	return nil
}

// revokeToken serves DELETE /api/tokens/{tokenId}.
func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	raw := chi.URLParam(r, "tokenId")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return errorf(http.StatusBadRequest, CodeInvalidID, "tokenId %q is not a positive integer", raw)
	}
	info, err := s.tokens.Revoke(r.Context(), id, caller(r))
	if err != nil {
		return tokenError(err)
	}
	s.logger.InfoContext(r.Context(), "token revoked", "token_id", info.ID, "by", caller(r))
	writeJSON(w, http.StatusOK, TokenResponse{Success: true, Info: info})
	return nil
}

// tokenError maps the TokenStore's errors to their responses.
func tokenError(err error) error {
	switch {
	case errors.Is(err, ErrTokenSpec):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: err.Error()}
	case errors.Is(err, ErrTokenNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	}
	return err
}

// auditLog serves GET /api/audit?electionId=&before=&limit=.
func (s *server) auditLog(w http.ResponseWriter, r *http.Request) error {
	q, err := newQueryParams(r, "electionId", "before", "limit")
	if err != nil {
		return err
	}
	var query jobs.AuditQuery
	if query.ElectionID, err = q.positiveInt64("electionId"); err != nil {
		return err
	}
	before, err := q.positiveInt64("before")
	if err != nil {
		return err
	}
	if before != nil {
		query.Before = *before
	}
	if query.Limit, err = q.intInRange("limit", 1, maxListLimit); err != nil {
		return err
	}
	query.Limit = cmp.Or(query.Limit, jobs.DefaultAuditPage)
	entries, err := s.jobs.AuditLog(r.Context(), query)
	if err != nil {
		return err
	}
	resp := AuditResponse{Success: true, Entries: nonNil(entries)}
	if len(entries) == query.Limit {
		resp.Before = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
