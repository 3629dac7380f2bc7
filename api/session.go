package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Browser sessions. A browser signs in once by posting a bearer token to
// POST /api/session and then holds an HttpOnly, SameSite=Strict cookie
// naming a session in Postgres; the token never travels again, and never
// in a URL. Requests the cookie authenticates that may change state must
// prove they come from the page (see CSRFHeader).

// SessionCookie is the name of the session cookie.
const SessionCookie = "tallyq_session"

// CSRFHeader is the header in which a cookie-authenticated request whose
// method is not GET, HEAD or OPTIONS sends its session's CSRF token. A page
// of another site can make a browser send the cookie, but not this header.
const CSRFHeader = "X-CSRF-Token"

// Error codes of sessions.
const (
	CodeCSRFFailed      = "csrf_failed"
	CodeTooManyRequests = "too_many_requests"
)

// Defaults of SessionConfig.
const (
	DefaultSessionIdleTimeout = 12 * time.Hour
	DefaultSessionMaxAge      = 7 * 24 * time.Hour
)

// Sign-in limits: a client that failed maxSignInFailures times within
// signInWindow is refused until the window ends. Tokens are long and
// random, so this only keeps guessing from costing database work and log
// lines; the comparison itself is constant-time.
const (
	maxSignInFailures = 10
	signInWindow      = time.Minute
	// maxSignInClients bounds the limiter's memory; clients beyond it share
	// one count.
	maxSignInClients = 10000
)

// sessionIDBytes is the length of a session id before encoding.
const sessionIDBytes = 32

// touchEvery is how stale last_seen_at may get before a request renews it,
// so that not every request writes.
const touchEvery = time.Minute

// SessionConfig configures a SessionStore. The zero value gives the defaults.
type SessionConfig struct {
	// IdleTimeout ends a session unused for that long (default 12 h).
	IdleTimeout time.Duration
	// MaxAge ends a session that long after sign-in, however used (default 7 days).
	MaxAge time.Duration
}

// SessionStore keeps browser sessions in Postgres (table tallyq_sessions),
// keyed by the SHA-256 of the session id, which only the browser holds.
type SessionStore struct {
	pool *pgxpool.Pool
	cfg  SessionConfig
}

// NewSessionStore returns a store of sessions in the database of pool.
func NewSessionStore(pool *pgxpool.Pool, cfg SessionConfig) (*SessionStore, error) {
	if pool == nil {
		return nil, errors.New("api: NewSessionStore needs a pool")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultSessionIdleTimeout
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultSessionMaxAge
	}
	return &SessionStore{pool: pool, cfg: cfg}, nil
}

// session is a live session as a request finds it.
type session struct {
	idHash    [sha256.Size]byte
	identity  Identity
	csrfToken string
}

// create stores a new session for id and returns it with its secret id.
func (st *SessionStore) create(ctx context.Context, id Identity) (sess session, sessionID string, err error) {
	sessionID, err = randomToken()
	if err != nil {
		return session{}, "", err
	}
	csrf, err := randomToken()
	if err != nil {
		return session{}, "", err
	}
	sess = session{idHash: sha256.Sum256([]byte(sessionID)), identity: id, csrfToken: csrf}
	// Sign-in is rare, so it is where expired sessions are cleared.
	_, err = st.pool.Exec(ctx, `WITH expired AS (
			DELETE FROM tallyq_sessions WHERE expires_at <= now() OR last_seen_at <= now() - $8::interval
		)
		INSERT INTO tallyq_sessions (id_hash, subject, role, election_id, guardian_id, csrf_token, expires_at, token_id)
		VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval, nullif($9, 0))`,
		sess.idHash[:], id.Subject, string(id.Role), id.ElectionID, id.GuardianID, csrf, st.cfg.MaxAge, st.cfg.IdleTimeout, id.TokenID)
	if err != nil {
		return session{}, "", fmt.Errorf("store session: %w", err)
	}
	return sess, sessionID, nil
}

// fromRequest returns the live session the request's cookie names, or an
// error wrapping ErrUnauthenticated when there is none.
func (st *SessionStore) fromRequest(r *http.Request) (session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return session{}, fmt.Errorf("%w: no session cookie; sign in with POST /api/session or send `Authorization: Bearer <token>`", ErrUnauthenticated)
	}
	if len(c.Value) != base64.RawURLEncoding.EncodedLen(sessionIDBytes) {
		return session{}, errSessionEnded
	}
	sess := session{idHash: sha256.Sum256([]byte(c.Value))}
	var role string
	err = st.pool.QueryRow(r.Context(), `WITH found AS (
			SELECT id_hash, subject, role, election_id, guardian_id, csrf_token, last_seen_at, token_id FROM tallyq_sessions
			WHERE id_hash = $1 AND expires_at > now() AND last_seen_at > now() - $2::interval
		), touched AS (
			UPDATE tallyq_sessions s SET last_seen_at = now()
			FROM found f WHERE s.id_hash = f.id_hash AND f.last_seen_at < now() - $3::interval
		)
		SELECT subject, role, election_id, guardian_id, csrf_token, coalesce(token_id, 0) FROM found`,
		sess.idHash[:], st.cfg.IdleTimeout, touchEvery).
		Scan(&sess.identity.Subject, &role, &sess.identity.ElectionID, &sess.identity.GuardianID, &sess.csrfToken,
			&sess.identity.TokenID)
	if errors.Is(err, pgx.ErrNoRows) {
		return session{}, errSessionEnded
	}
	if err != nil {
		return session{}, fmt.Errorf("read session: %w", err)
	}
	sess.identity.Role = Role(role)
	return sess, nil
}

var errSessionEnded = fmt.Errorf("%w: the session has ended or never existed; sign in again", ErrUnauthenticated)

// delete ends the session whose id hashes to idHash.
func (st *SessionStore) delete(ctx context.Context, idHash [sha256.Size]byte) error {
	if _, err := st.pool.Exec(ctx, `DELETE FROM tallyq_sessions WHERE id_hash = $1`, idHash[:]); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() (string, error) {
	b := make([]byte, sessionIDBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sessionAuthenticator authenticates requests by the session cookie.
// Requests that may change state must also pass forgeryCheck, else they
// are refused with 403 csrf_failed.
type sessionAuthenticator struct {
	store        *SessionStore
	forgeryCheck func(r *http.Request, sess session) error
}

// Authenticate implements Authenticator.
func (a sessionAuthenticator) Authenticate(r *http.Request) (Identity, error) {
	sess, err := a.store.fromRequest(r)
	if err != nil {
		return Identity{}, err
	}
	if !safeMethod(r.Method) {
		if err := a.forgeryCheck(r, sess); err != nil {
			return Identity{}, err
		}
	}
	return sess.identity, nil
}

// safeMethod reports whether method may not change state.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// checkCSRFToken is the forgery check of API routes: the CSRFHeader must
// hold the session's CSRF token. It is compared in constant time.
func checkCSRFToken(r *http.Request, sess session) error {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		return errorf(http.StatusForbidden, CodeCSRFFailed,
			"a request authenticated by the session cookie must send the header %s with the session's csrfToken", CSRFHeader)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrfToken)) != 1 {
		return errorf(http.StatusForbidden, CodeCSRFFailed,
			"the %s header does not match the session; read the csrfToken from GET /api/session", CSRFHeader)
	}
	return nil
}

// SessionRequest is the body of POST /api/session.
type SessionRequest struct {
	// Token is a bearer token the API accepts.
	Token string `json:"token"`
}

// SessionResponse is the body of POST and GET /api/session.
type SessionResponse struct {
	Success bool   `json:"success"`
	Subject string `json:"subject"`
	Role    Role   `json:"role"`
	// CSRFToken goes in the X-CSRF-Token header of state-changing requests.
	CSRFToken string `json:"csrfToken"`
}

// SignOutResponse is the body of DELETE /api/session.
type SignOutResponse struct {
	Success bool `json:"success"`
}

// browserSessions is what sign-in, the session and sign-out need.
type browserSessions struct {
	store   *SessionStore
	bearer  Authenticator
	limiter *signInLimiter
}

// mountSessions adds the session routes. They are outside the /api
// authentication: sign-in is how a browser gets authenticated, and GET and
// DELETE read the cookie themselves, since only a session has a CSRF token.
func (s *server) mountSessions(r chi.Router) {
	r.With(s.limitBody(s.maxJSONBody)).Post("/api/session", s.handle(s.signIn))
	r.Get("/api/session", s.handle(s.currentSession))
	r.With(s.limitBody(s.maxJSONBody)).Delete("/api/session", s.handle(s.signOut))
}

// withSessions returns auth, or, with sessions enabled, auth chained with
// the session cookie under the given forgery check.
func (s *server) withSessions(auth Authenticator, forgeryCheck func(*http.Request, session) error) Authenticator {
	if s.sessions == nil {
		return auth
	}
	return Chain{auth, sessionAuthenticator{store: s.sessions.store, forgeryCheck: forgeryCheck}}
}

// signIn serves POST /api/session: it authenticates the posted token as
// the bearer header would be, and answers a new session's cookie.
func (s *server) signIn(w http.ResponseWriter, r *http.Request) error {
	client := clientAddr(r)
	if !s.sessions.limiter.allow(client) {
		w.Header().Set("Retry-After", fmt.Sprint(int(signInWindow.Seconds())))
		return errorf(http.StatusTooManyRequests, CodeTooManyRequests,
			"too many failed sign-ins from this address; wait a minute")
	}
	var req SessionRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return errorf(http.StatusBadRequest, CodeBadRequest, `the body must be {"token": "<bearer token>"}`)
	}
	probe := r.Clone(r.Context())
	probe.Header = http.Header{"Authorization": {"Bearer " + req.Token}}
	id, err := s.sessions.bearer.Authenticate(probe)
	if errors.Is(err, ErrUnauthenticated) {
		s.sessions.limiter.fail(client)
		return errorf(http.StatusUnauthorized, CodeUnauthorized, "the token is not valid")
	}
	if err != nil {
		return err
	}
	if old, err := s.sessions.store.fromRequest(r); err == nil {
		if err := s.sessions.store.delete(r.Context(), old.idHash); err != nil {
			return err
		}
	}
	sess, sessionID, err := s.sessions.store.create(r.Context(), id)
	if err != nil {
		return err
	}
	http.SetCookie(w, s.sessionCookie(r, sessionID, int(s.sessions.store.cfg.MaxAge.Seconds())))
	s.logger.InfoContext(r.Context(), "signed in", "subject", id.Subject, "role", id.Role)
	writeJSON(w, http.StatusOK, sessionResponse(sess))
	return nil
}

// currentSession serves GET /api/session: the session of the cookie, with
// its CSRF token, which the page reads when it loads.
func (s *server) currentSession(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.sessions.store.fromRequest(r)
	if err != nil {
		return unauthorized(err)
	}
	writeJSON(w, http.StatusOK, sessionResponse(sess))
	return nil
}

// signOut serves DELETE /api/session: the cookie's session ends on the
// server, and the browser is told to drop the cookie.
func (s *server) signOut(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.sessions.store.fromRequest(r)
	if err != nil {
		return unauthorized(err)
	}
	if err := checkCSRFToken(r, sess); err != nil {
		return err
	}
	if err := s.sessions.store.delete(r.Context(), sess.idHash); err != nil {
		return err
	}
	http.SetCookie(w, s.sessionCookie(r, "", -1))
	s.logger.InfoContext(r.Context(), "signed out", "subject", sess.identity.Subject)
	writeJSON(w, http.StatusOK, SignOutResponse{Success: true})
	return nil
}

func sessionResponse(sess session) SessionResponse {
	return SessionResponse{Success: true, Subject: sess.identity.Subject, Role: sess.identity.Role, CSRFToken: sess.csrfToken}
}

// unauthorized turns an authentication refusal into its 401.
func unauthorized(err error) error {
	if errors.Is(err, ErrUnauthenticated) {
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: err.Error()}
	}
	return err
}

// sessionCookie returns the session cookie holding value; maxAge < 0
// deletes it. It is Secure when the request came over TLS, directly or
// through a proxy that says so.
func (s *server) sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
	}
}

// clientAddr is the address sign-in failures are counted by: the peer's IP
// (a forwarded-for header could be forged to dodge the limit).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// signInLimiter counts failed sign-ins per client in fixed windows.
type signInLimiter struct {
	mu       sync.Mutex
	start    time.Time
	failures map[string]int
}

func newSignInLimiter() *signInLimiter {
	return &signInLimiter{failures: map[string]int{}}
}

// allow reports whether client may try to sign in now.
func (l *signInLimiter) allow(client string) bool {
	return l.add(client, 0) < maxSignInFailures
}

// fail counts a failed sign-in of client.
func (l *signInLimiter) fail(client string) { l.add(client, 1) }

// add adds n to client's failures in the current window and returns them.
func (l *signInLimiter) add(client string, n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll()
	k := l.key(client)
	l.failures[k] += n
	return l.failures[k]
}

// roll starts a new window when the current one is over.
func (l *signInLimiter) roll() {
	if now := time.Now(); now.Sub(l.start) >= signInWindow {
		l.start = now
		clear(l.failures)
	}
}

// key is client, or the shared key once the map is full.
func (l *signInLimiter) key(client string) string {
	if _, ok := l.failures[client]; ok || len(l.failures) < maxSignInClients {
		return client
	}
	return ""
}
