package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/archive"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
)

// Body limits of the election routes.
const (
	// DefaultMaxBallotUpload caps one NDJSON ballot upload (100,000
	// 4096-bit ballots are about 8 GB of JSON).
	DefaultMaxBallotUpload = 16 << 30
	// DefaultMaxImport caps an uploaded election record archive.
	DefaultMaxImport = 16 << 30
	// maxGuardianRecord caps a decryption request, which carries a
	// guardian's private record.
	maxGuardianRecord = 1 << 20
	// maxSharesUpload caps an offline guardian's shares file, one JSON document.
	maxSharesUpload = record.MaxDocumentBytes
)

// ElectionService is what the API needs of the election pipeline;
// *election.Service implements it.
type ElectionService interface {
	ImportFolder(ctx context.Context, fsys fs.FS, opts election.ImportOptions) (*election.ImportResult, error)
	IngestBallots(ctx context.Context, electionID int64, r io.Reader) (*election.IngestReport, error)
	StartTally(ctx context.Context, electionID int64, by string) (election.Started, error)
	StartDecryption(ctx context.Context, electionID int64, guardianID string, privateRecord []byte, by string) (election.Started, error)
	UploadShares(ctx context.Context, electionID int64, guardianID string, r io.Reader, by string) (*election.SharesReport, error)
	StartCombine(ctx context.Context, electionID int64, by string) (election.Started, error)
	List(ctx context.Context) ([]election.Summary, error)
	Info(ctx context.Context, id int64) (*election.Info, error)
	Results(ctx context.Context, id int64) (*election.Results, error)
	Ballot(ctx context.Context, electionID int64, code string) (*election.BallotStatus, error)
	Export(ctx context.Context, id int64, w *record.Writer) error
	EraseSecrets(ctx context.Context, electionID int64, by string) (int64, error)
}

// QueueResponse is the answer to create-tally-queue, create-decryption-queue
// and create-combine-queue: the seed frontend's response, 202 when the
// request started (or resumed) the job, 200 when it was already running or
// done.
type QueueResponse struct {
	Success     bool        `json:"success"`
	JobID       uuid.UUID   `json:"jobId"`
	TotalChunks int         `json:"totalChunks"`
	Status      jobs.Status `json:"status"`
	Message     string      `json:"message"`
	PollURL     string      `json:"pollUrl"`
	CreatedAt   time.Time   `json:"createdAt"`
}

// ElectionRequest is the body of create-tally-queue and create-combine-queue.
type ElectionRequest struct {
	ElectionID *int64 `json:"election_id"`
}

// DecryptionRequest is the body of create-decryption-queue.
type DecryptionRequest struct {
	ElectionID     *int64          `json:"election_id"`
	GuardianID     string          `json:"guardian_id"`
	GuardianRecord json.RawMessage `json:"guardian_record"`
}

// ImportResponse is the answer to an election import.
type ImportResponse struct {
	Success bool `json:"success"`
	*election.ImportResult
}

// IngestResponse is the answer to a ballot upload.
type IngestResponse struct {
	Success bool `json:"success"`
	*election.IngestReport
}

// electionRoutes registers the election pipeline's routes.
func (s *server) electionRoutes(r chi.Router) {
	admin := s.adminOnly()
	r.With(admin, s.limitBody(s.maxJSONBody)).Post("/create-tally-queue", s.handle(electionQueue("tally", s.elections.StartTally)))
	// A guardian may start its own decryption: the handler checks.
	r.With(s.requireRole(RoleAdmin, RoleGuardian), s.limitBody(maxGuardianRecord)).
		Post("/create-decryption-queue", s.handle(s.createDecryptionQueue))
	r.With(admin, s.limitBody(s.maxJSONBody)).Post("/create-combine-queue", s.handle(electionQueue("combine", s.elections.StartCombine)))
	r.Route("/elections", func(r chi.Router) {
		r.With(s.readers()).Get("/", s.handle(s.listElections))
		r.With(admin, s.limitBody(s.maxImport)).Post("/import", s.handle(s.importElection))
		read := r.With(s.electionReaders()...)
		read.Get("/{electionId}", s.handle(getElectionJSON(withContext(s.elections.Info))))
		read.Get("/{electionId}/results", s.handle(getElectionJSON(withContext(s.elections.Results))))
		read.Get("/{electionId}/record", s.handle(s.electionRecord))
		read.Get("/{electionId}/ballots/{trackingCode}", s.handle(getElectionJSON(s.ballotStatus)))
		r.With(admin, s.limitBody(s.maxBallotUpload)).Post("/{electionId}/ballots", s.handle(s.uploadBallots))
		r.With(append(s.guardianActs(), s.limitBody(maxSharesUpload))...).
			Post("/{electionId}/guardians/{guardianId}/shares", s.handle(s.uploadShares))
		r.With(admin, s.limitBody(s.maxJSONBody)).Delete("/{electionId}/secrets", s.handle(s.eraseSecrets))
	})
}

// caller names the authenticated caller for the audit trail.
func caller(r *http.Request) string {
	id, _ := IdentityFrom(r.Context())
	return id.Subject
}

// pathElectionID parses the {electionId} route parameter.
func pathElectionID(r *http.Request) (int64, error) {
	raw := chi.URLParam(r, "electionId")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, errorf(http.StatusBadRequest, CodeInvalidID, "electionId %q is not a positive integer", raw)
	}
	return id, nil
}

// requiredElectionID checks the election_id field of a request body.
func requiredElectionID(id *int64) (int64, error) {
	if id == nil {
		return 0, errorf(http.StatusBadRequest, CodeBadRequest, "field \"election_id\" is required")
	}
	if *id < 1 {
		return 0, errorf(http.StatusBadRequest, CodeBadRequest, "field \"election_id\" must be a positive integer, not %d", *id)
	}
	return *id, nil
}

// decodeRequiredJSON is decodeOptionalJSON for routes whose body is required.
func decodeRequiredJSON(r *http.Request, dst any) error {
	if r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "" {
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "the body is empty; send a JSON object")
	}
	if err := requireJSONContentType(r); err != nil {
		return err
	}
	return decodeOptionalJSON(r, dst)
}

// electionQueue serves create-tally-queue and create-combine-queue: a body
// naming the election, and the operation's job in the seed's response.
func electionQueue(what string, start func(ctx context.Context, electionID int64, by string) (election.Started, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req ElectionRequest
		if err := decodeRequiredJSON(r, &req); err != nil {
			return err
		}
		id, err := requiredElectionID(req.ElectionID)
		if err != nil {
			return err
		}
		st, err := start(r.Context(), id, caller(r))
		if err != nil {
			return err
		}
		return writeQueued(w, st, fmt.Sprintf("%s of election %d", what, id))
	}
}

func (s *server) createDecryptionQueue(w http.ResponseWriter, r *http.Request) error {
	var req DecryptionRequest
	if err := decodeRequiredJSON(r, &req); err != nil {
		return err
	}
	id, err := requiredElectionID(req.ElectionID)
	if err != nil {
		return err
	}
	if req.GuardianID == "" {
		return errorf(http.StatusBadRequest, CodeBadRequest, "field \"guardian_id\" is required")
	}
	if err := authorizeElection(r.Context(), id, req.GuardianID); err != nil {
		return err
	}
	if len(req.GuardianRecord) == 0 || req.GuardianRecord[0] != '{' {
		return errorf(http.StatusBadRequest, CodeBadRequest, "field \"guardian_record\" is required: the guardian's private record, a JSON object")
	}
	st, err := s.elections.StartDecryption(r.Context(), id, req.GuardianID, req.GuardianRecord, caller(r))
	clear(req.GuardianRecord)
	if err != nil {
		return err
	}
	return writeQueued(w, st, fmt.Sprintf("decryption by guardian %s of election %d", req.GuardianID, id))
}

// writeQueued writes the seed's queue response.
func writeQueued(w http.ResponseWriter, st election.Started, what string) error {
	status, msg := http.StatusOK, what+" already exists: "+string(st.Job.Status)
	if st.Created {
		status, msg = http.StatusAccepted, what+" queued"
	}
	writeJSON(w, status, QueueResponse{Success: true, JobID: st.Job.JobID, TotalChunks: st.Job.TotalChunks,
		Status: st.Job.Status, Message: msg, PollURL: "/api/jobs/" + st.Job.JobID.String() + "/status", CreatedAt: st.Job.CreatedAt})
	return nil
}

// importElection serves POST /api/elections/import: an election record
// folder as a .tar.gz or .zip archive.
func (s *server) importElection(w http.ResponseWriter, r *http.Request) error {
	if err := requireMediaType(r, "application/gzip", "application/x-gzip", "application/zip", "application/octet-stream"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tallyq-import-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := archive.Extract(r.Body, dir, s.maxImport); err != nil {
		return err
	}
	root, err := archive.FindRecord(dir)
	if err != nil {
		return err
	}
	res, err := s.elections.ImportFolder(r.Context(), os.DirFS(root), election.ImportOptions{CreatedBy: caller(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ImportResponse{Success: true, ImportResult: res})
	return nil
}

// requireMediaType returns a 415 *Error unless the request's Content-Type
// is one of types.
func requireMediaType(r *http.Request, types ...string) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(types, mt) {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"the body must be sent with Content-Type %s (got %q)", joinQuoted(types), ct)
	}
	return nil
}

func joinQuoted(types []string) string {
	s := ""
	for i, t := range types {
		switch {
		case i == 0:
		case i == len(types)-1:
			s += " or "
		default:
			s += ", "
		}
		s += t
	}
	return s
}

// uploadBallots serves POST /api/elections/{id}/ballots: NDJSON, one
// submitted ballot per line, streamed.
func (s *server) uploadBallots(w http.ResponseWriter, r *http.Request) error {
	id, err := pathElectionID(r)
	if err != nil {
		return err
	}
	if err := requireMediaType(r, "application/x-ndjson", "application/ndjson", "application/jsonl"); err != nil {
		return err
	}
	rep, err := s.elections.IngestBallots(r.Context(), id, r.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, IngestResponse{Success: rep.Rejected == 0, IngestReport: rep})
	return nil
}

// uploadShares serves POST /api/elections/{id}/guardians/{gid}/shares: an
// offline guardian's shares file.
func (s *server) uploadShares(w http.ResponseWriter, r *http.Request) error {
	id, err := pathElectionID(r)
	if err != nil {
		return err
	}
	if err := requireJSONContentType(r); err != nil {
		return err
	}
	rep, err := s.elections.UploadShares(r.Context(), id, chi.URLParam(r, "guardianId"), r.Body, caller(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// getElectionJSON serves a GET of something of one election as JSON.
func getElectionJSON[T any](get func(r *http.Request, electionID int64) (T, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathElectionID(r)
		if err != nil {
			return err
		}
		v, err := get(r, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

// listElections answers GET /api/elections: {"elections":[…]}, newest first.
func (s *server) listElections(w http.ResponseWriter, r *http.Request) error {
	// It takes no filters yet: one a client expects must not be ignored.
	if _, err := newQueryParams(r); err != nil {
		return err
	}
	list, err := s.elections.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"elections": list})
	return nil
}

// withContext adapts a service method to getElectionJSON.
func withContext[T any](get func(ctx context.Context, id int64) (T, error)) func(*http.Request, int64) (T, error) {
	return func(r *http.Request, id int64) (T, error) { return get(r.Context(), id) }
}

func (s *server) ballotStatus(r *http.Request, id int64) (*election.BallotStatus, error) {
	return s.elections.Ballot(r.Context(), id, chi.URLParam(r, "trackingCode"))
}

// electionRecord serves GET /api/elections/{id}/record: the election record
// as a .tar.gz stream.
func (s *server) electionRecord(w http.ResponseWriter, r *http.Request) error {
	id, err := pathElectionID(r)
	if err != nil {
		return err
	}
	if _, err := s.elections.Info(r.Context(), id); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="election-%d-record.tar.gz"`, id))
	tw := archive.NewTarGzWriter(w, fmt.Sprintf("election-%d", id))
	if err := s.elections.Export(r.Context(), id, record.NewStreamWriter(tw.Put)); err != nil {
		// The status is sent; a broken archive is all the client can get.
		s.logger.ErrorContext(r.Context(), "export failed mid-stream", "election_id", id, "error", err)
		panic(http.ErrAbortHandler)
	}
	return tw.Close()
}

// EraseResponse is the answer to DELETE /api/elections/{id}/secrets.
type EraseResponse struct {
	Success bool  `json:"success"`
	Erased  int64 `json:"erased"`
}

func (s *server) eraseSecrets(w http.ResponseWriter, r *http.Request) error {
	id, err := pathElectionID(r)
	if err != nil {
		return err
	}
	n, err := s.elections.EraseSecrets(r.Context(), id, caller(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, EraseResponse{Success: true, Erased: n})
	return nil
}
