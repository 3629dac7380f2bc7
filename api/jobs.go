package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/jobs"
)

// maxListLimit is the largest page List accepts.
const maxListLimit = 500

// maxReasonLength caps the reason of a cancel or retry.
const maxReasonLength = 1000

// JobsResponse is the body of GET /api/jobs and GET /api/jobs/active.
type JobsResponse struct {
	Jobs []jobs.JobStatus `json:"jobs"`
	// Next is the cursor for the next page (the "after" parameter), empty
	// on the last page and always empty for active jobs.
	Next string `json:"next,omitempty"`
}

// JobActionRequest is the optional JSON body of cancel and retry.
type JobActionRequest struct {
	// Reason is recorded in the server's audit log.
	Reason string `json:"reason,omitempty"`
}

// JobActionResponse is the body of a successful cancel or retry.
type JobActionResponse struct {
	Success bool           `json:"success"`
	Job     jobs.JobStatus `json:"job"`
}

// jobStatus serves GET /api/jobs/{jobId}/status: the job's status object,
// as polling frontends read it.
func (s *server) jobStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "jobId")
	if err != nil {
		return err
	}
	st, err := s.jobs.Status(r.Context(), id)
	if err != nil {
		return err
	}
	if err := authorizeJob(r.Context(), st); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// listJobs serves GET /api/jobs?electionId=&status=&limit=&after=.
func (s *server) listJobs(w http.ResponseWriter, r *http.Request) error {
	params, err := listParams(r)
	if err != nil {
		return err
	}
	page, err := s.jobs.List(r.Context(), params)
	if errors.Is(err, jobs.ErrInvalid) {
		// Only a cursor that this server did not issue gets past listParams.
		return errorf(http.StatusBadRequest, CodeInvalidQuery, "query parameter \"after\": %v", err)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, JobsResponse{Jobs: nonNil(page.Jobs), Next: page.Next})
	return nil
}

// listParams reads the query of GET /api/jobs.
func listParams(r *http.Request) (jobs.ListParams, error) {
	var p jobs.ListParams
	q, err := newQueryParams(r, "electionId", "status", "limit", "after")
	if err != nil {
		return p, err
	}
	if p.ElectionID, err = q.positiveInt64("electionId"); err != nil {
		return p, err
	}
	if p.Limit, err = q.intInRange("limit", 1, maxListLimit); err != nil {
		return p, err
	}
	p.After = q.string("after")
	if raw := q.string("status"); raw != "" {
		p.Status = jobs.Status(raw)
		if !p.Status.Valid() {
			return p, errorf(http.StatusBadRequest, CodeInvalidQuery,
				"query parameter \"status\" must be one of %s, not %q", validStatuses(), raw)
		}
	}
	return p, nil
}

func validStatuses() string {
	all := []jobs.Status{jobs.StatusQueued, jobs.StatusInProgress, jobs.StatusCompleted, jobs.StatusFailed, jobs.StatusCancelled}
	names := make([]string, len(all))
	for i, st := range all {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

// activeJobs serves GET /api/jobs/active: every QUEUED or IN_PROGRESS job.
func (s *server) activeJobs(w http.ResponseWriter, r *http.Request) error {
	active, err := s.jobs.Active(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, JobsResponse{Jobs: nonNil(active)})
	return nil
}

// cancelJob serves POST /api/jobs/{jobId}/cancel.
func (s *server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	return s.jobAction(w, r, "cancel", s.jobs.Cancel)
}

// retryJob serves POST /api/jobs/{jobId}/retry.
func (s *server) retryJob(w http.ResponseWriter, r *http.Request) error {
	return s.jobAction(w, r, "retry", s.jobs.Retry)
}

// jobAction runs a cancel or retry for the authenticated caller and records
// it in the audit log.
func (s *server) jobAction(w http.ResponseWriter, r *http.Request, action string,
	do func(ctx context.Context, id uuid.UUID, by string) (jobs.JobStatus, error)) error {
	id, err := pathUUID(r, "jobId")
	if err != nil {
		return err
	}
	var req JobActionRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	if len(req.Reason) > maxReasonLength {
		return errorf(http.StatusBadRequest, CodeBadRequest, "field \"reason\" is %d bytes long; the limit is %d", len(req.Reason), maxReasonLength)
	}
	caller, _ := IdentityFrom(r.Context())
	st, err := do(r.Context(), id, caller.Subject)
	if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "job action", "action", action,
		"jobId", id, "by", caller.Subject, "reason", req.Reason, "jobStatus", st.Status)
	writeJSON(w, http.StatusOK, JobActionResponse{Success: true, Job: st})
	return nil
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
