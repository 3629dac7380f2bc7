// Package api is tallyq's HTTP interface: job status for polling frontends,
// job listing, cancel and retry, health and readiness probes. Every error is
// a JSON body {"success":false,"error":{"code":…,"message":…}} with a fitting
// status; every /api route needs a bearer token or a browser session's
// cookie (see SessionStore), except sign-in itself.
package api

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/tallyq/tallyq/jobs"
)

// DefaultMaxJSONBody is the body limit of routes that take a small JSON body.
const DefaultMaxJSONBody = 64 << 10

// DefaultReadyTimeout bounds one readiness check.
const DefaultReadyTimeout = 3 * time.Second

// JobService is what the API needs of the job engine; *jobs.Engine
// implements it.
type JobService interface {
	// Status returns a job's status, or an error wrapping jobs.ErrJobNotFound.
	Status(ctx context.Context, jobID uuid.UUID) (jobs.JobStatus, error)
	// List returns one page of jobs, or an error wrapping jobs.ErrInvalid.
	List(ctx context.Context, p jobs.ListParams) (jobs.ListPage, error)
	// Active returns the jobs that are QUEUED or IN_PROGRESS.
	Active(ctx context.Context) ([]jobs.JobStatus, error)
	// Cancel cancels a job on behalf of by; jobs.ErrConflict when it is terminal.
	Cancel(ctx context.Context, jobID uuid.UUID, by string) (jobs.JobStatus, error)
	// Retry re-queues a job's failed chunks; jobs.ErrConflict unless FAILED or CANCELLED.
	Retry(ctx context.Context, jobID uuid.UUID, by string) (jobs.JobStatus, error)
	// Ready returns nil when the service can do work, else the reason why not.
	Ready(ctx context.Context) error
	// AuditLog returns a page of the audit log; jobs.ErrInvalid for a bad query.
	AuditLog(ctx context.Context, q jobs.AuditQuery) ([]jobs.AuditEntry, error)
}

// Config configures the handler New returns.
type Config struct {
	// Jobs is the job engine. Required.
	Jobs JobService
	// AdminToken is the bearer token of the administrator, at least
	// MinTokenLength characters. Required unless Authenticator is set.
	AdminToken string
	// Authenticator, when set, replaces the admin-token authentication.
	Authenticator Authenticator
	// Tokens, when set, authenticates the tokens it stores (after the admin
	// token) and serves /api/tokens, where administrators create, list and
	// revoke them.
	Tokens *TokenStore
	// Logger receives request logs and server-side errors; nil discards them.
	Logger *slog.Logger
	// MaxJSONBody caps the body of small JSON routes; 0 means DefaultMaxJSONBody.
	MaxJSONBody int64
	// ReadyTimeout bounds the readiness check; 0 means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Elections is the election pipeline; nil leaves its routes out.
	Elections ElectionService
	// MaxBallotUpload caps one ballot upload; 0 means DefaultMaxBallotUpload.
	MaxBallotUpload int64
	// MaxImport caps an uploaded election record; 0 means DefaultMaxImport.
	MaxImport int64
	// Metrics, when set, is served at GET /metrics without authentication:
	// Prometheus scrapes it, and it holds counts and durations, no secrets.
	Metrics http.Handler
	// ObserveRequest, when set, is told of every answered request by its
	// route pattern (never its path, whose ids would explode label sets).
	ObserveRequest func(method, route string, status int, d time.Duration)
	// Web, when set, serves the web page at GET / and its files under
	// /assets/.
	Web http.Handler
	// Sessions, when set, enables browser sign-in at /api/session and makes
	// the session cookie a way to authenticate beside bearer tokens.
	Sessions *SessionStore
	// StatusHub, when set, serves GET /api/jobs/{jobId}/events, the job's
	// status as server-sent events; it must be running (StatusHub.Run).
	StatusHub *jobs.StatusHub
	// EventHeartbeat is how often an idle event stream sends a comment; 0
	// means DefaultEventHeartbeat.
	EventHeartbeat time.Duration
	// RiverUI, when set, is served to administrators under /riverui/ (the
	// River UI of riverqueue.com/riverui, built with that prefix).
	RiverUI http.Handler
}

// server holds what the handlers share.
type server struct {
	jobs         JobService
	logger       *slog.Logger
	maxJSONBody  int64
	readyTimeout time.Duration
	mux          *chi.Mux
	// routeTable is every method and pattern of mux, for the Allow header.
	routeTable []routeEntry

	elections       ElectionService
	maxBallotUpload int64
	maxImport       int64

	observeRequest func(method, route string, status int, d time.Duration)

	sessions       *browserSessions
	tokens         *TokenStore
	statusHub      *jobs.StatusHub
	eventHeartbeat time.Duration
}

// New returns the HTTP handler of the API.
func New(cfg Config) (http.Handler, error) {
	if cfg.Jobs == nil {
		return nil, errors.New("api: Config.Jobs is nil; pass the job engine")
	}
	auth := cfg.Authenticator
	if auth == nil {
		var err error
		if auth, err = NewTokenAuthenticator(cfg.AdminToken, Identity{Subject: "admin", Role: RoleAdmin}); err != nil {
			return nil, err
		}
	}
	if cfg.Tokens != nil {
		auth = Chain{auth, cfg.Tokens}
	}
	s := &server{
		jobs:         cfg.Jobs,
		logger:       cfg.Logger,
		maxJSONBody:  cfg.MaxJSONBody,
		readyTimeout: cfg.ReadyTimeout,
		mux:          chi.NewRouter(),

		elections:       cfg.Elections,
		maxBallotUpload: cmp.Or(cfg.MaxBallotUpload, DefaultMaxBallotUpload),
		maxImport:       cmp.Or(cfg.MaxImport, DefaultMaxImport),

		observeRequest: cfg.ObserveRequest,
		tokens:         cfg.Tokens,
		statusHub:      cfg.StatusHub,
		eventHeartbeat: cmp.Or(cfg.EventHeartbeat, DefaultEventHeartbeat),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.maxJSONBody <= 0 {
		s.maxJSONBody = DefaultMaxJSONBody
	}
	if s.readyTimeout <= 0 {
		s.readyTimeout = DefaultReadyTimeout
	}
	if cfg.Sessions != nil {
		s.sessions = &browserSessions{store: cfg.Sessions, bearer: auth, limiter: newSignInLimiter()}
	}
	s.routes(auth, cfg)
	table, err := walkRoutes(s.mux)
	if err != nil {
		return nil, err
	}
	s.routeTable = table
	return s.mux, nil
}

// routes registers every route. NotFound and MethodNotAllowed come first so
// that sub-routers inherit them.
func (s *server) routes(auth Authenticator, cfg Config) {
	r := s.mux
	// HEAD is answered wherever GET is, as HTTP asks (monitors probe with it).
	r.Use(s.logRequests, s.recoverPanics, headAsGet)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/api/openapi.yaml", s.openAPISpec)
	if cfg.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", cfg.Metrics)
	}
	if cfg.Web != nil {
		r.Method(http.MethodGet, "/", cfg.Web)
		r.Method(http.MethodGet, "/assets/*", cfg.Web)
	}

	if s.sessions != nil {
		s.mountSessions(r)
	}
	if cfg.RiverUI != nil {
		s.mountRiverUI(r, s.withSessions(auth, checkSameOrigin), cfg.RiverUI)
	}
	auth = s.withSessions(auth, checkCSRFToken)

	r.Route("/api", func(r chi.Router) {
		r.Use(s.authenticate(auth))
		r.Route("/jobs", func(r chi.Router) {
			r.With(s.readers()).Get("/", s.handle(s.listJobs))
			r.With(s.readers()).Get("/active", s.handle(s.activeJobs))
			// A guardian may follow its election's jobs: the handlers check.
			job := s.requireRole(RoleAdmin, RoleViewer, RoleGuardian)
			r.With(job).Get("/{jobId}/status", s.handle(s.jobStatus))
			if s.statusHub != nil {
				r.With(job).Get("/{jobId}/events", s.handle(s.jobEvents))
			}
			change := r.With(s.adminOnly(), s.limitBody(s.maxJSONBody))
			change.Post("/{jobId}/cancel", s.handle(s.cancelJob))
			change.Post("/{jobId}/retry", s.handle(s.retryJob))
		})
		if s.elections != nil {
			s.electionRoutes(r)
		}
		if s.tokens != nil {
			s.tokenRoutes(r)
		}
		r.With(s.adminOnly()).Get("/audit", s.handle(s.auditLog))
	})
}

// handlerFunc is a handler that reports failure by returning an error,
// which handle writes as the JSON error response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, s.logger, err)
		}
	}
}

// healthz answers 200 while the process can serve HTTP at all.
func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the engine is ready (database reachable, schema
// current, broker running), else 503 with the reason.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.readyTimeout)
	defer cancel()
	if err := s.jobs.Ready(ctx); err != nil {
		writeError(w, r, s.logger, &Error{Status: http.StatusServiceUnavailable, Code: CodeNotReady, Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
