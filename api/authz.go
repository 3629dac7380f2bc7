package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/tallyq/tallyq/jobs"
)

// Who may use a route. Every route under /api is registered with one of
// these (routes and electionRoutes); the route × role test walks the router
// so that a new route cannot go without one.
//
//   - adminOnly: changes to jobs and elections, tokens, the audit log.
//   - readers: listings across elections (jobs, elections).
//   - electionReaders: one election's reads; a guardian only its own.
//   - guardianActs: a guardian's own acts (its shares), and the admin's.
//
// A guardian's binding is checked from the path where the route names the
// election (electionScope), and by the handler where the election is in the
// body (create-decryption-queue) or in the job (status, events).
func (s *server) adminOnly() func(http.Handler) http.Handler { return s.requireRole(RoleAdmin) }

func (s *server) readers() func(http.Handler) http.Handler {
	return s.requireRole(RoleAdmin, RoleViewer)
}

func (s *server) electionReaders() []func(http.Handler) http.Handler {
	return []func(http.Handler) http.Handler{s.requireRole(RoleAdmin, RoleViewer, RoleGuardian), s.electionScope}
}

func (s *server) guardianActs() []func(http.Handler) http.Handler {
	return []func(http.Handler) http.Handler{s.requireRole(RoleAdmin, RoleGuardian), s.electionScope}
}

// electionScope is middleware that keeps a guardian to the election (and
// guardian) its token is bound to, as the route's {electionId} and
// {guardianId} name them.
func (s *server) electionScope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		electionID, err := strconv.ParseInt(chi.URLParam(r, "electionId"), 10, 64)
		if err != nil {
			// The handler says what is wrong with the id; a guardian's
			// binding cannot match it anyway.
			electionID = 0
		}
		if err := authorizeElection(r.Context(), electionID, chi.URLParam(r, "guardianId")); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorizeElection refuses a guardian acting outside its binding: another
// election, or, when guardianID is not empty, another guardian. Other roles
// pass; which role may use a route is requireRole's business.
func authorizeElection(ctx context.Context, electionID int64, guardianID string) error {
	id, _ := IdentityFrom(ctx)
	if id.Role != RoleGuardian {
		return nil
	}
	if id.ElectionID == nil || *id.ElectionID != electionID {
		return errorf(http.StatusForbidden, CodeForbidden,
			"this token acts for guardian %q of election %d only", id.GuardianID, boundElection(id))
	}
	if guardianID != "" && guardianID != id.GuardianID {
		return errorf(http.StatusForbidden, CodeForbidden,
			"this token acts for guardian %q only, not %q", id.GuardianID, guardianID)
	}
	return nil
}

// authorizeJob refuses a guardian a job of another election.
func authorizeJob(ctx context.Context, job jobs.JobStatus) error {
	var electionID int64
	if job.ElectionID != nil {
		electionID = *job.ElectionID
	}
	return authorizeElection(ctx, electionID, "")
}

func boundElection(id Identity) int64 {
	if id.ElectionID == nil {
		return 0
	}
	return *id.ElectionID
}
