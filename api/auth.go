package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// MinTokenLength is the shortest admin token New accepts.
const MinTokenLength = 16

// Role is what an authenticated caller may do.
type Role string

// Roles. What each may do is the table in routes (api.go); see also
// authorizeElection.
const (
	// RoleAdmin may do anything.
	RoleAdmin Role = "admin"
	// RoleGuardian acts for one guardian of one election: it may decrypt
	// (or upload shares) as that guardian and read that election and its
	// jobs, nothing else.
	RoleGuardian Role = "guardian"
	// RoleViewer may read everything except tokens and the audit log, and
	// change nothing.
	RoleViewer Role = "viewer"
)

// Identity is an authenticated caller, stored in the request context.
type Identity struct {
	// Subject names the caller in audit trails (the engine's "by").
	Subject string
	// Role decides which routes the caller may use.
	Role Role
	// ElectionID and GuardianID bind a guardian's identity to the one
	// election and guardian it may act for; empty for other roles.
	ElectionID *int64
	GuardianID string
	// TokenID is the stored token (TokenStore) the caller authenticated
	// with, 0 for the configured admin token.
	TokenID int64
}

// ErrUnauthenticated is returned by an Authenticator when a request carries
// no credentials or wrong ones.
var ErrUnauthenticated = errors.New("unauthenticated")

// Authenticator tells who sent a request. It returns an error wrapping
// ErrUnauthenticated, saying what is wrong, when the request's credentials
// are missing or invalid; other errors are server failures (or an *Error,
// such as the 403 of a forged session request, answered as it is).
// Authenticators chain by trying each in turn: New puts the session cookie
// after the bearer tokens when Config.Sessions is set.
type Authenticator interface {
	Authenticate(r *http.Request) (Identity, error)
}

// Chain is an Authenticator that asks each of its Authenticators in turn
// (say, a session cookie, then bearer tokens) and returns the first
// identity. A server failure stops the chain; if every one refuses, the
// first refusal is returned.
type Chain []Authenticator

// Authenticate implements Authenticator.
func (c Chain) Authenticate(r *http.Request) (Identity, error) {
	var first error
	for _, a := range c {
		id, err := a.Authenticate(r)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, ErrUnauthenticated) {
			return Identity{}, err
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("%w: no way to authenticate is configured", ErrUnauthenticated)
	}
	return Identity{}, first
}

// TokenAuthenticator accepts `Authorization: Bearer <token>` with one token
// and authenticates its holder as Identity.
type TokenAuthenticator struct {
	digest   [sha256.Size]byte
	identity Identity
}

// NewTokenAuthenticator returns an Authenticator for one bearer token that
// must be at least MinTokenLength characters long.
func NewTokenAuthenticator(token string, id Identity) (*TokenAuthenticator, error) {
	if len(token) < MinTokenLength {
		return nil, fmt.Errorf("the admin token must be at least %d characters long (got %d); generate one with `openssl rand -hex 32`",
			MinTokenLength, len(token))
	}
	return &TokenAuthenticator{digest: sha256.Sum256([]byte(token)), identity: id}, nil
}

// Authenticate implements Authenticator. Tokens are compared through their
// SHA-256 digests in constant time, so neither their content nor their
// length shows in the timing.
func (a *TokenAuthenticator) Authenticate(r *http.Request) (Identity, error) {
	token, err := bearerToken(r)
	if err != nil {
		return Identity{}, err
	}
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], a.digest[:]) != 1 {
		return Identity{}, errInvalidBearer
	}
	return a.identity, nil
}

// bearerToken returns the token of the request's Authorization header.
func bearerToken(r *http.Request) (string, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return "", fmt.Errorf("%w: send the header `Authorization: Bearer <token>`", ErrUnauthenticated)
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", fmt.Errorf("%w: the Authorization header must be `Bearer <token>`", ErrUnauthenticated)
	}
	return strings.TrimSpace(token), nil
}

type identityKey struct{}

// WithIdentity returns a copy of ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity that authenticated the request of ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// authenticate is middleware that rejects requests a rejects with 401 and
// stores the caller's Identity in the context of the others.
func (s *server) authenticate(a Authenticator) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, err := a.Authenticate(r)
			if errors.Is(err, ErrUnauthenticated) {
				err = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: err.Error()}
			}
			if err != nil {
				writeError(w, r, s.logger, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}

// requireRole is middleware that lets only callers with one of roles through.
func (s *server) requireRole(roles ...Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := IdentityFrom(r.Context())
			for _, role := range roles {
				if id.Role == role {
					next.ServeHTTP(w, r)
					return
				}
			}
			writeError(w, r, s.logger, errorf(http.StatusForbidden, CodeForbidden,
				"this route needs the role %s", joinRoles(roles)))
		})
	}
}

func joinRoles(roles []Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, " or ")
}
