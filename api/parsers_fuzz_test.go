package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/jobs/election"
)

// Fuzz targets of the API's request parsers: bearer tokens, token
// requests, the audit log's query, session cookies, and FuzzRouter, which
// sends anything to every route of the real router.

// The callers of the fuzzed router: each token authenticates one identity.
const (
	fuzzAdminToken    = "fuzz-admin-token-5b1e0c9d7a"
	fuzzViewerToken   = "fuzz-viewer-token-3f8a2e6c41"
	fuzzGuardianToken = "fuzz-guardian-token-9d4c7b2a0e"
	// A guardian's token acts for this guardian of this election only.
	fuzzGuardianElection = 7
	fuzzGuardianID       = "g1"
	// fuzzJobElection is the election of every job the fake engine knows:
	// not the guardian's.
	fuzzJobElection = 8
)

// fuzzPool is a pool on a database that does not exist: anything that
// reaches it fails at once, as a server error.
func fuzzPool(f *testing.F) *pgxpool.Pool {
	pool, err := pgxpool.New(context.Background(), "postgres://fuzz@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(pool.Close)
	return pool
}

// fuzzAuthenticator authenticates the admin, viewer and guardian tokens
// with the real TokenAuthenticator, chained as New chains them.
func fuzzAuthenticator(t testing.TB) Authenticator {
	var chain Chain
	for token, id := range map[string]Identity{
		fuzzAdminToken:  {Subject: "admin", Role: RoleAdmin},
		fuzzViewerToken: {Subject: "viewer#2", Role: RoleViewer, TokenID: 2},
		fuzzGuardianToken: {Subject: "guardian#3", Role: RoleGuardian, ElectionID: new(int64(fuzzGuardianElection)),
			GuardianID: fuzzGuardianID, TokenID: 3},
	} {
		a, err := NewTokenAuthenticator(token, id)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, a)
	}
	return chain
}

// fuzzServices is the engine and the election pipeline of the fuzzed
// router. Every method checks that the request reaching it was allowed
// (authenticated, of a role the route admits, a guardian within its
// binding) and well-formed (ids in range), records any breach, and answers
// a fixed error or an empty result: nothing is ever stored.
type fuzzServices struct {
	mu       sync.Mutex
	breaches []string
	reached  []string
	audit    *jobs.AuditQuery // the last query AuditLog got
}

var (
	_ JobService      = (*fuzzServices)(nil)
	_ ElectionService = electionList{}
)

func (s *fuzzServices) breach(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.breaches = append(s.breaches, fmt.Sprintf(format, args...))
}

// reach records a call of method and checks its caller: one of roles and,
// for a guardian, the election (when electionID ≥ 0) and guardian (when
// guardianID is not empty) of its binding.
func (s *fuzzServices) reach(ctx context.Context, method string, electionID int64, guardianID string, roles ...Role) {
	s.mu.Lock()
	s.reached = append(s.reached, method)
	s.mu.Unlock()
	id, ok := IdentityFrom(ctx)
	switch {
	case !ok:
		s.breach("%s reached without an identity", method)
		return
	case id.Subject == "":
		s.breach("%s reached by an identity without a subject: %+v", method, id)
	case !slices.Contains(roles, id.Role):
		s.breach("%s reached by role %q; only %v may", method, id.Role, roles)
	}
	if electionID == 0 || electionID < -1 {
		s.breach("%s reached with election id %d", method, electionID)
	}
	if id.Role == RoleGuardian {
		if electionID != -1 && electionID != fuzzGuardianElection {
			s.breach("%s reached by the guardian of election %d for election %d", method, fuzzGuardianElection, electionID)
		}
		if guardianID != "" && guardianID != fuzzGuardianID {
			s.breach("%s reached by guardian %q acting as %q", method, fuzzGuardianID, guardianID)
		}
	}
}

var (
	readerRoles   = []Role{RoleAdmin, RoleViewer}
	electionRoles = []Role{RoleAdmin, RoleViewer, RoleGuardian}
)

func (s *fuzzServices) Status(ctx context.Context, jobID uuid.UUID) (jobs.JobStatus, error) {
	s.reach(ctx, "Status", -1, "", electionRoles...)
	if jobID == uuid.Nil {
		s.breach("Status reached with the nil job id")
	}
	return jobs.JobStatus{JobID: jobID, Status: jobs.StatusQueued, TotalChunks: 3, OperationType: "TALLY",
		ElectionID: new(int64(fuzzJobElection))}, nil
}

func (s *fuzzServices) List(ctx context.Context, p jobs.ListParams) (jobs.ListPage, error) {
	s.reach(ctx, "List", -1, "", readerRoles...)
	if p.Limit < 0 || p.Limit > maxListLimit || (p.ElectionID != nil && *p.ElectionID < 1) || (p.Status != "" && !p.Status.Valid()) {
		s.breach("List reached with parameters %+v", p)
	}
	if p.After != "" {
		// As the engine answers a cursor it did not issue.
		return jobs.ListPage{}, fmt.Errorf("%w: cursor %q is not one this server returned", jobs.ErrInvalid, p.After)
	}
	return jobs.ListPage{}, nil
}

func (s *fuzzServices) Active(ctx context.Context) ([]jobs.JobStatus, error) {
	s.reach(ctx, "Active", -1, "", readerRoles...)
	return nil, nil
}

func (s *fuzzServices) Cancel(ctx context.Context, jobID uuid.UUID, by string) (jobs.JobStatus, error) {
	return s.jobAction(ctx, "Cancel", jobID, by)
}

func (s *fuzzServices) Retry(ctx context.Context, jobID uuid.UUID, by string) (jobs.JobStatus, error) {
	return s.jobAction(ctx, "Retry", jobID, by)
}

func (s *fuzzServices) jobAction(ctx context.Context, method string, jobID uuid.UUID, by string) (jobs.JobStatus, error) {
	s.reach(ctx, method, -1, "", RoleAdmin)
	if by == "" {
		s.breach("%s reached without a caller", method)
	}
	return jobs.JobStatus{}, fmt.Errorf("%w: job %s", jobs.ErrJobNotFound, jobID)
}

func (s *fuzzServices) Ready(context.Context) error { return nil }

func (s *fuzzServices) AuditLog(ctx context.Context, q jobs.AuditQuery) ([]jobs.AuditEntry, error) {
	s.reach(ctx, "AuditLog", -1, "", RoleAdmin)
	if q.Limit < 1 || q.Limit > maxListLimit || q.Before < 0 || (q.ElectionID != nil && *q.ElectionID < 1) {
		s.breach("AuditLog reached with query %+v", q)
	}
	s.mu.Lock()
	s.audit = &q
	s.mu.Unlock()
	return nil, nil
}

func (s *fuzzServices) ImportFolder(ctx context.Context, fsys fs.FS, opts election.ImportOptions) (*election.ImportResult, error) {
	s.reach(ctx, "ImportFolder", -1, "", RoleAdmin)
	if _, err := fs.Stat(fsys, "context.json"); err != nil {
		s.breach("ImportFolder reached with a folder without context.json: %v", err)
	}
	if opts.CreatedBy == "" {
		s.breach("ImportFolder reached without a caller")
	}
	return nil, fmt.Errorf("%w: the fuzzed pipeline imports nothing", election.ErrInvalid)
}

func (s *fuzzServices) IngestBallots(ctx context.Context, electionID int64, _ io.Reader) (*election.IngestReport, error) {
	s.reach(ctx, "IngestBallots", electionID, "", RoleAdmin)
	return nil, fmt.Errorf("%w: election %d", election.ErrNotFound, electionID)
}

func (s *fuzzServices) StartTally(ctx context.Context, electionID int64, by string) (election.Started, error) {
	return s.start(ctx, "StartTally", electionID, by)
}

func (s *fuzzServices) StartCombine(ctx context.Context, electionID int64, by string) (election.Started, error) {
	return s.start(ctx, "StartCombine", electionID, by)
}

func (s *fuzzServices) start(ctx context.Context, method string, electionID int64, by string) (election.Started, error) {
	s.reach(ctx, method, electionID, "", RoleAdmin)
	if by == "" {
		s.breach("%s reached without a caller", method)
	}
	return election.Started{}, fmt.Errorf("%w: election %d", election.ErrNotFound, electionID)
}

func (s *fuzzServices) StartDecryption(ctx context.Context, electionID int64, guardianID string, privateRecord []byte, by string) (election.Started, error) {
	s.reach(ctx, "StartDecryption", electionID, guardianID, RoleAdmin, RoleGuardian)
	if guardianID == "" || by == "" || len(privateRecord) == 0 || privateRecord[0] != '{' {
		s.breach("StartDecryption reached with guardian %q, by %q, record %q", guardianID, by, privateRecord)
	}
	return election.Started{}, fmt.Errorf("%w: election %d", election.ErrNotFound, electionID)
}

func (s *fuzzServices) UploadShares(ctx context.Context, electionID int64, guardianID string, _ io.Reader, by string) (*election.SharesReport, error) {
	s.reach(ctx, "UploadShares", electionID, guardianID, RoleAdmin, RoleGuardian)
	if guardianID == "" || by == "" {
		s.breach("UploadShares reached with guardian %q, by %q", guardianID, by)
	}
	return nil, fmt.Errorf("%w: election %d", election.ErrNotFound, electionID)
}

func (s *fuzzServices) Info(ctx context.Context, id int64) (*election.Info, error) {
	s.reach(ctx, "Info", id, "", electionRoles...)
	return nil, fmt.Errorf("%w: election %d", election.ErrNotFound, id)
}

func (s *fuzzServices) Results(ctx context.Context, id int64) (*election.Results, error) {
	s.reach(ctx, "Results", id, "", electionRoles...)
	return nil, fmt.Errorf("%w: election %d", election.ErrNotFound, id)
}

func (s *fuzzServices) Ballot(ctx context.Context, electionID int64, code string) (*election.BallotStatus, error) {
	s.reach(ctx, "Ballot", electionID, "", electionRoles...)
	return nil, fmt.Errorf("%w: election %d has no ballot %q", election.ErrNotFound, electionID, code)
}

func (s *fuzzServices) Export(ctx context.Context, id int64, _ *record.Writer) error {
	s.reach(ctx, "Export", id, "", electionRoles...)
	s.breach("Export reached for election %d, which Info says does not exist", id)
	return fmt.Errorf("%w: election %d", election.ErrNotFound, id)
}

func (s *fuzzServices) EraseSecrets(ctx context.Context, electionID int64, by string) (int64, error) {
	s.reach(ctx, "EraseSecrets", electionID, "", RoleAdmin)
	if by == "" {
		s.breach("EraseSecrets reached without a caller")
	}
	return 0, fmt.Errorf("%w: election %d", election.ErrNotFound, electionID)
}

// electionList adapts fuzzServices to ElectionService's List, which
// JobService's List shadows.
type electionList struct{ *fuzzServices }

func (s electionList) List(ctx context.Context) ([]election.Summary, error) {
	s.reach(ctx, "ListElections", -1, "", readerRoles...)
	return []election.Summary{}, nil
}

// page is River UI and the metrics of the fuzzed router: it answers 200
// to anyone and checks that River UI is reached by administrators only.
func (s *fuzzServices) page(what string, admin bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if admin {
			s.reach(r.Context(), what, -1, "", RoleAdmin)
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, what)
	})
}

// checkErrorResponse fails unless w is the API's JSON error body
// {"success":false,"error":{"code":…,"message":…}} with a code and a message.
func checkErrorResponse(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: status %d answered as %q, not application/json: %q", what, w.Code, ct, w.Body)
	}
	var body struct {
		Success *bool `json:"success"`
		Error   *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || dec.More() {
		t.Fatalf("%s: status %d with a body that is not the JSON error body (%v): %q", what, w.Code, err, w.Body)
	}
	if body.Success == nil || *body.Success || body.Error == nil || body.Error.Code == "" || strings.TrimSpace(body.Error.Message) == "" {
		t.Fatalf("%s: status %d with an incomplete error body: %q", what, w.Code, w.Body)
	}
	if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("%s: 401 without WWW-Authenticate", what)
	}
	if w.Code == http.StatusMethodNotAllowed && len(w.Header().Values("Allow")) == 0 {
		t.Fatalf("%s: 405 without Allow", what)
	}
}

// secretLooking reports whether s could be a credential: at least 8
// characters without spaces, letters and digits among them.
func secretLooking(s string) bool {
	return len(s) >= 8 && !strings.ContainsFunc(s, unicode.IsSpace) &&
		strings.ContainsFunc(s, unicode.IsLetter) && strings.ContainsFunc(s, unicode.IsDigit)
}

// rotate returns s with each ASCII letter and digit replaced by the next
// one (z by a, 9 by 0): another credential of the same shape. A message
// that shows s because it quotes it shows rotate(s) for rotate(s); one
// that happens to hold the text s does not.
func rotate(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == 'z':
			return 'a'
		case r == 'Z':
			return 'A'
		case r == '9':
			return '0'
		case 'a' <= r && r < 'z', 'A' <= r && r < 'Z', '0' <= r && r < '9':
			return r + 1
		}
		return r
	}, s)
}

// fuzzRequest builds the request a server would hand the router for
// method and request target, or nil for one that a server refuses before
// (an invalid method or target). chunked sends the body without a length.
func fuzzRequest(method, target, contentType string, body []byte, chunked bool) *http.Request {
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || strings.ContainsAny(target, " \t\r\n") {
		return nil
	}
	r, err := http.NewRequestWithContext(context.Background(), method, "http://tallyq.test/", bytes.NewReader(body))
	if err != nil {
		return nil
	}
	r.URL, r.RequestURI, r.Host = u, target, "tallyq.test"
	r.RemoteAddr = "192.0.2.1:1234"
	switch {
	case chunked:
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
	case len(body) == 0:
		r.Body = http.NoBody
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// echoes reports whether the response may legitimately show s: it stands
// in what the request itself shows (its path, query or body).
func echoes(s string, r *http.Request, contentType string, body []byte) bool {
	for _, in := range []string{r.Method, r.RequestURI, r.URL.Path, r.URL.RawQuery, contentType, string(body)} {
		if strings.Contains(in, s) {
			return true
		}
	}
	if q, err := url.QueryUnescape(r.URL.RawQuery); err == nil && strings.Contains(q, s) {
		return true
	}
	return false
}

// FuzzBearerToken reads arbitrary Authorization headers: bearerToken
// returns the trimmed token of a "Bearer" header or an error wrapping
// ErrUnauthenticated; the token authenticator accepts exactly its token;
// the token store turns away anything not shaped like its tokens without
// a database round trip; no error shows the header's token.
func FuzzBearerToken(f *testing.F) {
	const configured = "fuzz-configured-token-7d3f9a1c"
	for _, h := range []string{
		"", "Bearer " + configured, "bearer  " + configured + " \t", "BEARER " + configured + "x",
		"Bearer", "Bearer ", "Bearer \t", "Basic dXNlcjpwYXNz", "Token abc", " Bearer x",
		"Bearer tqt_" + strings.Repeat("A", tokenLength-len(TokenPrefix)-1), "Bearer a b c", "Bearer\x00x", "Bearer \u00a0x\u00a0",
	} {
		f.Add(h)
	}
	store, err := NewTokenStore(fuzzPool(f))
	if err != nil {
		f.Fatal(err)
	}
	one, err := NewTokenAuthenticator(configured, Identity{Subject: "one", Role: RoleViewer})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/api/jobs", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		scheme, rest, hasSpace := strings.Cut(header, " ")
		secret := strings.TrimSpace(rest)
		// other is the request with another token of the same shape.
		other := r.Clone(context.Background())
		other.Header.Set("Authorization", scheme+" "+rotate(rest))
		noLeak := func(what string, authenticate func(*http.Request) error) error {
			t.Helper()
			err := authenticate(r)
			if err == nil {
				return nil
			}
			if !errors.Is(err, ErrUnauthenticated) || strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("%s(%q): error %v does not wrap ErrUnauthenticated or says nothing", what, header, err)
			}
			if secretLooking(secret) && strings.Contains(err.Error(), secret) {
				if err2 := authenticate(other); err2 != nil && strings.Contains(err2.Error(), rotate(secret)) {
					t.Fatalf("%s(%q): error %q shows the token", what, header, err)
				}
			}
			return err
		}
		token, err := bearerToken(r)
		_ = noLeak("bearerToken", func(r *http.Request) error { _, err := bearerToken(r); return err })
		wantOK := hasSpace && strings.EqualFold(scheme, "Bearer") && secret != ""
		if (err == nil) != wantOK {
			t.Fatalf("bearerToken(%q) = %q, %v", header, token, err)
		}
		if err == nil && (token != secret || strings.TrimSpace(token) != token || token == "") {
			t.Fatalf("bearerToken(%q) = %q, not the trimmed token %q", header, token, secret)
		}

		id, err := one.Authenticate(r)
		_ = noLeak("TokenAuthenticator.Authenticate", func(r *http.Request) error { _, err := one.Authenticate(r); return err })
		if (err == nil) != (wantOK && token == configured) || (err == nil && id.Subject != "one") {
			t.Fatalf("TokenAuthenticator.Authenticate(%q) = %+v, %v", header, id, err)
		}

		if wantOK && strings.HasPrefix(token, TokenPrefix) && len(token) == tokenLength {
			return // shaped like a stored token: looking it up needs the database
		}
		// A database round trip would fail otherwise than ErrUnauthenticated:
		// the pool reaches none.
		if noLeak("TokenStore.Authenticate", func(r *http.Request) error { _, err := store.Authenticate(r); return err }) == nil {
			t.Fatalf("TokenStore.Authenticate(%q) succeeded without a database", header)
		}
	})
}

// FuzzTokenSpec checks (TokenSpec).check, the parser of token requests:
// what it accepts has a name, a known role and a guardian's binding exactly
// when the role is guardian; what it refuses wraps ErrTokenSpec, which the
// API answers 400.
func FuzzTokenSpec(f *testing.F) {
	for _, s := range []struct {
		name, role string
		election   int64
		bound      bool
		guardian   string
	}{
		{"ci", "admin", 0, false, ""},
		{"dashboard", "viewer", 0, false, ""},
		{"guardian 1", "guardian", 3, true, "1"},
		{"guardian 1", "guardian", 0, true, "1"},
		{"guardian 1", "guardian", -4, true, "1"},
		{"guardian 1", "guardian", 3, true, ""},
		{"admin bound", "admin", 3, true, "1"},
		{"viewer with guardian", "viewer", 0, false, "2"},
		{"", "admin", 0, false, ""},
		{" \t", "viewer", 0, false, ""},
		{strings.Repeat("n", maxTokenName+1), "admin", 0, false, ""},
		{"\xff\xfe", "admin", 0, false, ""},
		{"root", "ADMIN", 0, false, ""},
		{"root", "superuser", 0, false, ""},
	} {
		f.Add(s.name, s.role, s.election, s.bound, s.guardian)
	}
	f.Fuzz(func(t *testing.T, name, role string, electionID int64, bound bool, guardianID string) {
		spec := TokenSpec{Name: name, Role: Role(role), GuardianID: guardianID, CreatedBy: "fuzz"}
		if bound {
			spec.ElectionID = &electionID
		}
		err := spec.check()
		if err != nil {
			if !errors.Is(err, ErrTokenSpec) || err.Error() == ErrTokenSpec.Error() {
				t.Fatalf("check(%+v) = %v: not an ErrTokenSpec saying what is wrong", spec, err)
			}
			var apiErr *Error
			if !errors.As(tokenError(err), &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Message == "" {
				t.Fatalf("tokenError(%v) = %v, not a 400", err, tokenError(err))
			}
			return
		}
		if strings.TrimSpace(name) == "" || len(name) > maxTokenName || !utf8.ValidString(name) {
			t.Fatalf("check accepted the name %q", name)
		}
		switch spec.Role {
		case RoleAdmin, RoleViewer:
			if bound || guardianID != "" {
				t.Fatalf("check accepted a %s token bound to election %d, guardian %q", role, electionID, guardianID)
			}
		case RoleGuardian:
			if !bound || electionID < 1 || guardianID == "" {
				t.Fatalf("check accepted a guardian token bound to election %d (%v), guardian %q", electionID, bound, guardianID)
			}
		default:
			t.Fatalf("check accepted the role %q", role)
		}
	})
}

// FuzzTokenRoutes posts arbitrary token requests to POST /api/tokens and
// arbitrary ids to DELETE /api/tokens/{tokenId}. The token store's database
// is unreachable, so a request that reaches it fails with 500: only a
// valid request may, and every valid one must; the rest are refused with
// the JSON error body.
func FuzzTokenRoutes(f *testing.F) {
	for _, s := range []struct {
		ct, body, id string
		n            int64
	}{
		{"application/json", `{"name":"ci","role":"admin"}`, "12", 12},
		{"application/json", `{"name":"g","role":"guardian","election_id":3,"guardian_id":"1"}`, "", 1},
		{"application/json", `{"name":"g","role":"guardian","election_id":0,"guardian_id":"1"}`, "0", 0},
		{"application/json", `{"name":"v","role":"viewer","guardian_id":"1"}`, "-3", -3},
		{"application/json", `{"name":"v","role":"viewer","token":"x"}`, "+7", 7},
		{"application/json", `{"name":"","role":"admin"}`, "007", 7},
		{"application/json", `{"name":"ci","role":1}`, "1e3", 1000},
		{"text/plain", `{"name":"ci","role":"admin"}`, "x", 0},
		{"application/json", ``, "99999999999999999999", 0},
		{"application/json", `{"name":"ci","role":"admin"} {}`, "9223372036854775807", 9223372036854775807},
	} {
		f.Add(s.ct, []byte(s.body), s.id, s.n)
	}
	store, err := NewTokenStore(fuzzPool(f))
	if err != nil {
		f.Fatal(err)
	}
	h, err := New(Config{Jobs: &fuzzServices{}, AdminToken: fuzzAdminToken, Tokens: store})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte, tokenID string, n int64) {
		// POST /api/tokens.
		r := fuzzRequest(http.MethodPost, "/api/tokens", contentType, body, false)
		r.Header.Set("Authorization", "Bearer "+fuzzAdminToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		what := fmt.Sprintf("POST /api/tokens %q as %q", body, contentType)
		var req TokenRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		valid := requireJSONContentType(r) == nil && len(body) <= DefaultMaxJSONBody && dec.Decode(&req) == nil && !dec.More() &&
			TokenSpec{Name: req.Name, Role: req.Role, ElectionID: req.ElectionID, GuardianID: req.GuardianID}.check() == nil
		checkReachesDatabase(t, w, what, valid)

		// DELETE /api/tokens/{tokenId}, the id as written or n.
		if tokenID == "" || strings.Trim(tokenID, "0123456789abcdefxyzABCDEFXYZ+-._~") != "" {
			tokenID = strconv.FormatInt(n, 10)
		}
		r = fuzzRequest(http.MethodDelete, "/api/tokens/"+tokenID, "", nil, false)
		r.Header.Set("Authorization", "Bearer "+fuzzAdminToken)
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		what = "DELETE /api/tokens/" + tokenID
		id, err := strconv.ParseInt(tokenID, 10, 64)
		valid = err == nil && id >= 1
		checkReachesDatabase(t, w, what, valid)
	})
}

// checkReachesDatabase checks an answer of a router whose database is not
// there: a valid request reaches it (and fails 500); any other is refused
// with the JSON error before it.
func checkReachesDatabase(t *testing.T, w *httptest.ResponseRecorder, what string, valid bool) {
	t.Helper()
	switch {
	case w.Code == http.StatusInternalServerError && valid:
	case w.Code == http.StatusInternalServerError:
		t.Fatalf("%s: an invalid request reached the database: %s", what, w.Body)
	case valid:
		t.Fatalf("%s: a valid request refused with %d: %s", what, w.Code, w.Body)
	default:
		checkErrorResponse(t, w, what)
	}
}

// FuzzAuditQuery sends arbitrary query strings to GET /api/audit: a query
// that url.ParseQuery reads, with only electionId, before and limit, each
// once, electionId and before positive integers and limit from 1 to 500,
// reaches the engine with exactly those values (limit 100 when absent);
// any other is refused 400 invalid_query before it.
func FuzzAuditQuery(f *testing.F) {
	for _, q := range []string{
		"", "electionId=3", "before=120&limit=20", "electionId=3&before=1&limit=500", "limit=0", "limit=501",
		"before=-1", "electionId=0", "electionId=+4", "limit=07", "limit=1&limit=2", "election=3", "a=%zz",
		"electionId=9223372036854775808", "limit=1e2", "electionId=", "before=", "&&", "electionId=3;limit=4",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := fuzzRequest(http.MethodGet, "/api/audit", "", nil, false)
		r.URL.RawQuery = rawQuery
		r.RequestURI += "?" + rawQuery
		r.Header.Set("Authorization", "Bearer "+fuzzAdminToken)
		svc := &fuzzServices{}
		h, err := New(Config{Jobs: svc, AdminToken: fuzzAdminToken})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		what := fmt.Sprintf("GET /api/audit?%s", rawQuery)
		if len(svc.breaches) > 0 {
			t.Fatalf("%s: %s", what, strings.Join(svc.breaches, "\n"))
		}

		want, valid := auditOracle(rawQuery)
		if !valid {
			if w.Code != http.StatusBadRequest || svc.audit != nil {
				t.Fatalf("%s: an invalid query answered %d (reached the engine: %v): %s", what, w.Code, svc.audit != nil, w.Body)
			}
			checkErrorResponse(t, w, what)
			if !strings.Contains(w.Body.String(), `"code":"invalid_query"`) {
				t.Fatalf("%s: refused with another code than invalid_query: %s", what, w.Body)
			}
			return
		}
		if w.Code != http.StatusOK || svc.audit == nil {
			t.Fatalf("%s: a valid query answered %d: %s", what, w.Code, w.Body)
		}
		got := *svc.audit
		if got.Limit != want.Limit || got.Before != want.Before || (got.ElectionID == nil) != (want.ElectionID == nil) ||
			(got.ElectionID != nil && *got.ElectionID != *want.ElectionID) {
			t.Fatalf("%s: the engine got %+v, want %+v", what, got, want)
		}
	})
}

// auditOracle reads an audit query as the API documents it.
func auditOracle(rawQuery string) (jobs.AuditQuery, bool) {
	q := jobs.AuditQuery{Limit: jobs.DefaultAuditPage}
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return q, false
	}
	for name, vs := range values {
		if len(vs) != 1 || (name != "electionId" && name != "before" && name != "limit") {
			return q, false
		}
		if vs[0] == "" {
			continue // as if absent
		}
		n, err := strconv.ParseInt(vs[0], 10, 64)
		switch name {
		case "electionId":
			if err != nil || n < 1 {
				return q, false
			}
			q.ElectionID = &n
		case "before":
			if err != nil || n < 1 {
				return q, false
			}
			q.Before = n
		case "limit":
			if err != nil || n < 1 || n > maxListLimit {
				return q, false
			}
			q.Limit = int(n)
		}
	}
	return q, true
}

// FuzzSessionCookie sends arbitrary Cookie and CSRF headers, without a
// bearer token, to the routes that read the session cookie. The session
// store's database is unreachable: a cookie not shaped like a session id
// must be refused 401 without a database round trip (which would answer
// 500), and nothing may set a cookie or show the cookie's value.
func FuzzSessionCookie(f *testing.F) {
	id := strings.Repeat("A", 43)
	for _, s := range []struct {
		route        uint8
		cookie, csrf string
	}{
		{0, "", ""},
		{0, SessionCookie + "=" + id, ""},
		{1, SessionCookie + "=" + id, "x"},
		{2, SessionCookie + "=" + id[:42], ""},
		{3, SessionCookie + "=" + id + "; other=1", "csrf-0123456789"},
		{2, "other=" + id, ""},
		{0, SessionCookie + `="` + id + `"`, ""},
		{1, SessionCookie + "=s3cr3t-session-value-0123456789", "x"},
		{3, SessionCookie + "=;" + SessionCookie + "=" + id, ""},
	} {
		f.Add(s.route, s.cookie, s.csrf)
	}
	store, err := NewSessionStore(fuzzPool(f), SessionConfig{})
	if err != nil {
		f.Fatal(err)
	}
	routes := []struct{ method, target string }{
		{http.MethodGet, "/api/session"},
		{http.MethodDelete, "/api/session"},
		{http.MethodGet, "/api/jobs"},
		{http.MethodPost, "/api/jobs/01a21fac-d44a-7924-9ed3-d601208bd170/cancel"},
	}
	f.Fuzz(func(t *testing.T, route uint8, cookie, csrf string) {
		svc := &fuzzServices{}
		h, err := New(Config{Jobs: svc, AdminToken: fuzzAdminToken, Sessions: store})
		if err != nil {
			t.Fatal(err)
		}
		rt := routes[int(route)%len(routes)]
		r := fuzzRequest(rt.method, rt.target, "", nil, false)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		if csrf != "" {
			r.Header.Set(CSRFHeader, csrf)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		what := fmt.Sprintf("%s %s with Cookie %q, %s %q", rt.method, rt.target, cookie, CSRFHeader, csrf)
		c, err := r.Cookie(SessionCookie)
		shaped := err == nil && len(c.Value) == 43
		switch {
		case shaped && w.Code == http.StatusInternalServerError:
			// Looked up in the database, which is not there.
		case w.Code != http.StatusUnauthorized:
			t.Fatalf("%s: status %d, want 401: %s", what, w.Code, w.Body)
		default:
			checkErrorResponse(t, w, what)
		}
		if len(svc.reached) > 0 {
			t.Fatalf("%s: reached the engine (%v) without a session", what, svc.reached)
		}
		if cs := w.Result().Cookies(); len(cs) > 0 {
			t.Fatalf("%s: set cookies %v", what, cs)
		}
		if err == nil && secretLooking(c.Value) && strings.Contains(w.Body.String(), c.Value) {
			t.Fatalf("%s: the answer shows the cookie's value: %s", what, w.Body)
		}
	})
}

// FuzzRouter sends any method, target, content type and body to the real
// router, with every route mounted (elections, River UI, metrics, the web
// page), as each caller: none, the admin, a viewer or a guardian. No
// answer is a 5xx; an error is the API's JSON error body; the services are
// reached only by callers the route admits (fuzzServices records any
// breach); a 405 names in Allow exactly methods that are not refused on
// that path, never the one refused; HEAD answers as GET does.
func FuzzRouter(f *testing.F) {
	for _, s := range []struct {
		caller                      uint8
		method, target, contentType string
		body                        string
	}{
		{1, "GET", "/api/jobs", "", ""},
		{1, "HEAD", "/api/jobs", "", ""},
		{2, "HEAD", "/api/elections", "", ""},
		{1, "PUT", "/api/jobs", "", ""},
		{1, "PROPFIND", "/api/elections", "", ""},
		{1, "PROPFIND", "/nowhere", "", ""},
		{3, "POST", "/api/elections/7/guardians/g1/decryption", "application/json", `{"private_record":{}}`},
		{3, "POST", "/api/elections/8/guardians/g1/decryption", "application/json", `{}`},
		{2, "POST", "/api/jobs/01a21fac-d44a-7924-9ed3-d601208bd170/cancel", "application/json", `{}`},
		{1, "GET", "/riverui/", "", ""},
		{0, "GET", "/metrics", "", ""},
		{1, "DELETE", "/api/tokens/3", "", ""},
		{1, "GET", "/api/jobs?limit=5&cursor=x", "", ""},
		{1, "PATCH", "/api/elections/7", "application/json", `{"a":1}`},
	} {
		f.Add(s.caller, s.method, s.target, s.contentType, []byte(s.body))
	}
	tokens := []string{"", fuzzAdminToken, fuzzViewerToken, fuzzGuardianToken}
	f.Fuzz(func(t *testing.T, caller uint8, method, target, contentType string, body []byte) {
		svc := &fuzzServices{}
		h, err := New(Config{Jobs: svc, Elections: electionList{svc}, Authenticator: fuzzAuthenticator(t),
			Metrics: svc.page("metrics", false), Web: svc.page("web", false), RiverUI: svc.page("River UI", true)})
		if err != nil {
			t.Fatal(err)
		}
		token := tokens[int(caller)%len(tokens)]
		serve := func(method string, body []byte) *httptest.ResponseRecorder {
			r := fuzzRequest(method, target, contentType, body, false)
			if r == nil {
				return nil
			}
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
		w := serve(method, body)
		if w == nil {
			return
		}
		what := fmt.Sprintf("%s %q as caller %d", method, target, int(caller)%len(tokens))
		switch {
		case w.Code >= 500:
			t.Fatalf("%s: %d: %s", what, w.Code, w.Body)
		case w.Code >= 400 && method != http.MethodHead:
			checkErrorResponse(t, w, what)
		}
		if len(svc.breaches) > 0 {
			t.Fatalf("%s: %s", what, strings.Join(svc.breaches, "\n"))
		}
		if w.Code == http.StatusMethodNotAllowed {
			allowed := w.Header().Values("Allow")
			if len(allowed) == 0 || slices.Contains(allowed, method) {
				t.Fatalf("%s: 405 with Allow %q", what, allowed)
			}
			for _, m := range allowed {
				if again := serve(m, nil); again.Code == http.StatusMethodNotAllowed {
					t.Fatalf("%s: Allow names %s, which answers 405 too", what, m)
				}
			}
		}
		if method == http.MethodHead {
			if get := serve(http.MethodGet, body); get.Code != w.Code {
				t.Fatalf("%s: %d, where GET answers %d", what, w.Code, get.Code)
			}
		}
	})
}
