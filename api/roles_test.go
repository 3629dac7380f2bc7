package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/internal/metrics"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/web"
)

// principal is who sends a request of the route × role table.
type principal string

// The principals. A guardian's token is bound to the election and guardian
// the request names; a sibling's to another guardian of that election; an
// outsider's to the same guardian id of another election.
const (
	asAdmin    principal = "admin"
	asViewer   principal = "viewer"
	asGuardian principal = "guardian"
	asSibling  principal = "another guardian of the election"
	asOutsider principal = "a guardian of another election"
)

var everyPrincipal = []principal{asAdmin, asViewer, asGuardian, asSibling, asOutsider}

// Who may use each authenticated route, by chi pattern. Everyone else gets
// 403, and a request without a token 401.
var routeAccess = map[string][]principal{
	"GET /api/jobs/":                                                 {asAdmin, asViewer},
	"GET /api/jobs/active":                                           {asAdmin, asViewer},
	"GET /api/jobs/{jobId}/status":                                   {asAdmin, asViewer, asGuardian, asSibling},
	"GET /api/jobs/{jobId}/events":                                   {asAdmin, asViewer, asGuardian, asSibling},
	"POST /api/jobs/{jobId}/cancel":                                  {asAdmin},
	"POST /api/jobs/{jobId}/retry":                                   {asAdmin},
	"POST /api/create-tally-queue":                                   {asAdmin},
	"POST /api/create-decryption-queue":                              {asAdmin, asGuardian},
	"POST /api/create-combine-queue":                                 {asAdmin},
	"GET /api/elections/":                                            {asAdmin, asViewer},
	"POST /api/elections/import":                                     {asAdmin},
	"GET /api/elections/{electionId}":                                {asAdmin, asViewer, asGuardian, asSibling},
	"GET /api/elections/{electionId}/record":                         {asAdmin, asViewer, asGuardian, asSibling},
	"GET /api/elections/{electionId}/results":                        {asAdmin, asViewer, asGuardian, asSibling},
	"GET /api/elections/{electionId}/ballots/{trackingCode}":         {asAdmin, asViewer, asGuardian, asSibling},
	"POST /api/elections/{electionId}/ballots":                       {asAdmin},
	"POST /api/elections/{electionId}/guardians/{guardianId}/shares": {asAdmin, asGuardian},
	"DELETE /api/elections/{electionId}/secrets":                     {asAdmin},
	"GET /api/tokens/":                                               {asAdmin},
	"POST /api/tokens/":                                              {asAdmin},
	"DELETE /api/tokens/{tokenId}":                                   {asAdmin},
	"GET /api/audit":                                                 {asAdmin},
	"GET /riverui/*":                                                 {asAdmin},
	"GET /riverui":                                                   {asAdmin},
}

// Routes outside the table, and why.
var openRoutes = map[string]string{
	"GET /healthz":          "probe",
	"GET /readyz":           "probe",
	"GET /metrics":          "Prometheus scrapes it",
	"GET /api/openapi.yaml": "the API's document",
	"GET /":                 "the web page",
	"GET /assets/*":         "the web page's files",
	"POST /api/session":     "sign-in: the token is in the body",
	"GET /api/session":      "the session cookie's own route (session_test.go)",
	"DELETE /api/session":   "the session cookie's own route (session_test.go)",
}

// roleFixture is a server with every route, tokens of every principal, two
// elections and a finished job of the first.
type roleFixture struct {
	*fixture
	tokens            *api.TokenStore
	bearer            map[principal]string
	election, other   int64
	guardian, sibling string
	job               string
}

func newRoleFixture(t *testing.T) *roleFixture {
	t.Helper()
	rf := &roleFixture{bearer: map[principal]string{}, guardian: "1", sibling: "2"}
	rf.fixture = newElectionFixtureWith(t, func(f *fixture, cfg *api.Config) {
		var err error
		if rf.tokens, err = api.NewTokenStore(f.pool); err != nil {
			t.Fatal(err)
		}
		sessions, err := api.NewSessionStore(f.pool, api.SessionConfig{})
		if err != nil {
			t.Fatal(err)
		}
		hub := jobs.NewStatusHub(f.pool, jobs.StatusHubConfig{Logger: slog.New(slog.DiscardHandler)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); hub.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		reg := metrics.New(metrics.Config{})
		cfg.Tokens, cfg.Sessions, cfg.StatusHub, cfg.RiverUI = rf.tokens, sessions, hub, http.NotFoundHandler()
		cfg.Metrics, cfg.Web = reg.Handler(), web.Handler()
	})
	pub := fixtures.Record(t, "minimal")
	rf.election, rf.other = rf.importFixture(pub), rf.importFixture(pub)
	rf.bearer[asAdmin] = "Bearer " + testToken
	rf.bearer[asViewer] = rf.create(api.TokenSpec{Name: "viewer", Role: api.RoleViewer})
	rf.bearer[asGuardian] = rf.create(api.TokenSpec{Name: "g", Role: api.RoleGuardian, ElectionID: &rf.election, GuardianID: rf.guardian})
	rf.bearer[asSibling] = rf.create(api.TokenSpec{Name: "s", Role: api.RoleGuardian, ElectionID: &rf.election, GuardianID: rf.sibling})
	rf.bearer[asOutsider] = rf.create(api.TokenSpec{Name: "o", Role: api.RoleGuardian, ElectionID: &rf.other, GuardianID: rf.guardian})
	job := rf.createJob(opNoop, 1, rf.election)
	rf.waitForJob(job.JobID, func(jobProgress) {})
	rf.job = job.JobID.String()
	return rf
}

// create stores a token and returns its Authorization header.
func (rf *roleFixture) create(spec api.TokenSpec) string {
	rf.t.Helper()
	spec.CreatedBy = "test"
	_, token, err := rf.tokens.Create(context.Background(), spec)
	if err != nil {
		rf.t.Fatal(err)
	}
	return "Bearer " + token
}

// requestFor is a request of the route whose parameters name the fixture's
// first election, its guardian and its job. Bodies are valid enough to get
// past authorization and wrong enough that an allowed caller changes
// nothing: the handler answers 4xx.
func (rf *roleFixture) requestFor(method, pattern string) request {
	path := strings.NewReplacer("{jobId}", rf.job, "{electionId}", itoa(rf.election), "{guardianId}", rf.guardian,
		"{trackingCode}", "no-such-code", "{tokenId}", "999999", "*", "x").Replace(pattern)
	req := request{method: method, path: path}
	if method == http.MethodGet {
		return req
	}
	req.contentType, req.body = "application/json", jsonBody(`{}`)
	switch {
	case strings.HasSuffix(pattern, "/create-decryption-queue"):
		req.body = jsonBody(fmt.Sprintf(`{"election_id":%d,"guardian_id":%q}`, rf.election, rf.guardian))
	case strings.HasSuffix(pattern, "/import"):
		req.contentType = "application/gzip"
	case strings.HasSuffix(pattern, "/ballots"):
		req.contentType, req.body = "application/x-ndjson", jsonBody("{}\n")
	}
	return req
}

// Every route, walked from the router so that none is missed, answers a
// request without a token 401, a principal the table leaves out 403, and a
// principal it names neither.
func TestEveryRouteByRole(t *testing.T) {
	rf := newRoleFixture(t)
	mux, ok := rf.srv.Config.Handler.(*chi.Mux)
	if !ok {
		t.Fatalf("api.New returned a %T, not a *chi.Mux", rf.srv.Config.Handler)
	}
	tried := 0
	err := chi.Walk(mux, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route := method + " " + pattern
		if _, open := openRoutes[route]; open {
			return nil
		}
		if strings.HasPrefix(pattern, "/riverui") && method != http.MethodGet {
			return nil // River UI's mount answers every method alike; GET stands for them
		}
		allowed, ok := routeAccess[route]
		if !ok {
			t.Errorf("route %s is in neither routeAccess nor openRoutes: say who may use it", route)
			return nil
		}
		tried++
		req := rf.requestFor(method, pattern)
		req.auth = "-"
		resp, body := rf.do(req)
		checkAccess(t, route, "no token", resp, body, http.StatusUnauthorized)
		for _, p := range everyPrincipal {
			req := rf.requestFor(method, pattern)
			req.auth = rf.bearer[p]
			resp, body := rf.do(req)
			want := http.StatusForbidden
			if slices.Contains(allowed, p) {
				want = 0
			}
			checkAccess(t, route, string(p), resp, body, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tried < len(routeAccess) {
		t.Errorf("walked %d of the table's %d routes: the table names routes the router does not have", tried, len(routeAccess))
	}
	t.Logf("%d routes × %d callers (no token and every principal): %d requests", tried, 1+len(everyPrincipal), tried*(1+len(everyPrincipal)))
}

// checkAccess checks an answer: want 401 or 403 with their codes, or, for
// 0, anything but those and a server error.
func checkAccess(t *testing.T, route, who string, resp *http.Response, body []byte, want int) {
	t.Helper()
	var e api.ErrorBody
	_ = json.Unmarshal(body, &e)
	switch want {
	case http.StatusUnauthorized, http.StatusForbidden:
		code := map[int]string{http.StatusUnauthorized: api.CodeUnauthorized, http.StatusForbidden: api.CodeForbidden}[want]
		if resp.StatusCode != want || e.Error.Code != code || e.Error.Message == "" {
			t.Errorf("%s as %s: %d %.200s; want %d %s", route, who, resp.StatusCode, body, want, code)
		}
	default:
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode >= 500 {
			t.Errorf("%s as %s: %d %.200s; want it let through", route, who, resp.StatusCode, body)
		}
	}
}

// A guardian's token acts for its guardian only: it starts that guardian's
// decryption but not another's, nor one of another election; its session
// carries the same binding; a revoked token and its sessions end at once;
// and the audit log names who did what, newest first.
func TestGuardianTokenAndAuditLog(t *testing.T) {
	priv := fixtures.Private(t, "minimal")
	rf := newRoleFixture(t)
	tally := rf.queue("/api/create-tally-queue", fmt.Sprintf(`{"election_id":%d}`, rf.election), http.StatusAccepted)
	if p := rf.waitForJob(tally.JobID, func(jobProgress) {}); p.Status != "COMPLETED" {
		t.Fatalf("tally ended %+v", p)
	}

	decrypt := func(who principal, guardian string) (*http.Response, []byte) {
		return rf.do(request{method: "POST", path: "/api/create-decryption-queue", auth: rf.bearer[who],
			contentType: "application/json", body: jsonBody(decryptionBody(t, rf.election, guardian, guardianRecord(t, priv, guardian)))})
	}
	resp, body := decrypt(asSibling, rf.guardian)
	checkAccess(t, "another guardian's decryption", string(asSibling), resp, body, http.StatusForbidden)
	resp, body = decrypt(asOutsider, rf.guardian)
	checkAccess(t, "a decryption in another election", string(asOutsider), resp, body, http.StatusForbidden)
	resp, body = decrypt(asGuardian, rf.guardian)
	var started api.QueueResponse
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &started) != nil {
		t.Fatalf("the guardian's own decryption: %d %s", resp.StatusCode, body)
	}

	// The guardian follows its job; the outsider may not.
	status := request{method: "GET", path: "/api/jobs/" + started.JobID.String() + "/status", auth: rf.bearer[asGuardian]}
	if resp, body := rf.do(status); resp.StatusCode != http.StatusOK {
		t.Errorf("the guardian's job status: %d %s", resp.StatusCode, body)
	}
	status.auth = rf.bearer[asOutsider]
	resp, body = rf.do(status)
	checkAccess(t, "another election's job", string(asOutsider), resp, body, http.StatusForbidden)

	// A session signed in with the guardian's token keeps its binding, and
	// ends with the token.
	cookie := rf.signInWith(rf.bearer[asGuardian])
	own, other := "/api/elections/"+itoa(rf.election), "/api/elections/"+itoa(rf.other)
	if got := []int{rf.withCookie(own, cookie), rf.withCookie(other, cookie)}; got[0] != http.StatusOK || got[1] != http.StatusForbidden {
		t.Errorf("the guardian's session: own election %d, another %d; want 200, 403", got[0], got[1])
	}
	guardianToken := rf.tokenNamed("g")
	if resp, body := rf.do(request{method: "DELETE", path: "/api/tokens/" + itoa(guardianToken.ID)}); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	status.auth = rf.bearer[asGuardian]
	resp, body = rf.do(status)
	checkAccess(t, "a revoked token", string(asGuardian), resp, body, http.StatusUnauthorized)
	if got := rf.withCookie(own, cookie); got != http.StatusUnauthorized {
		t.Errorf("the revoked token's session: %d, want 401", got)
	}

	// Cancel, retry and cancel a long job, erase the secrets, then read the
	// election's audit log.
	long := rf.createJob(opNoop, 50_000, rf.election).JobID
	for _, action := range []string{"cancel", "retry", "cancel"} {
		if resp, body := rf.do(request{method: "POST", path: "/api/jobs/" + long.String() + "/" + action}); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", action, resp.StatusCode, body)
		}
	}
	if resp, body := rf.do(request{method: "DELETE", path: own + "/secrets"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	entries := rf.audit(rf.election)
	want := []struct {
		actor, action, guardian string
		job                     uuid.UUID
	}{
		{"admin", jobs.AuditEraseSecrets, "", uuid.Nil},
		{"admin", jobs.AuditCancelJob, "", long},
		{"admin", jobs.AuditRetryJob, "", long},
		{"admin", jobs.AuditCancelJob, "", long},
		{"test", jobs.AuditStartJob, "", long},
		{"admin", jobs.AuditRevokeToken, rf.guardian, uuid.Nil},
		{fmt.Sprintf("g#%d", guardianToken.ID), jobs.AuditStartJob, "", started.JobID},
		{"admin", jobs.AuditStartJob, "", tally.JobID},
	}
	if len(entries) < len(want) {
		t.Fatalf("audit log of election %d: %+v", rf.election, entries)
	}
	for i, w := range want {
		e := entries[i]
		job := uuid.Nil
		if e.JobID != nil {
			job = *e.JobID
		}
		if e.Actor != w.actor || e.Action != w.action || e.GuardianID != w.guardian || job != w.job ||
			e.ElectionID == nil || *e.ElectionID != rf.election || e.At.IsZero() {
			t.Errorf("audit line %d: %+v; want %s by %s (guardian %q, job %s)", i, e, w.action, w.actor, w.guardian, w.job)
		}
	}
	if last := entries[len(entries)-1]; last.Action != jobs.AuditImport || last.Actor != "admin" {
		t.Errorf("the oldest line of election %d is %+v, want its import by admin", rf.election, last)
	}
	for _, e := range entries {
		if strings.Contains(e.Detail, api.TokenPrefix) {
			t.Errorf("an audit line holds a token: %+v", e)
		}
	}
}

// signInWith signs in with a bearer header's token and returns the cookie.
func (rf *roleFixture) signInWith(bearer string) string {
	rf.t.Helper()
	resp, body := rf.do(request{method: "POST", path: "/api/session", auth: "-", contentType: "application/json",
		body: jsonBody(fmt.Sprintf(`{"token":%q}`, strings.TrimPrefix(bearer, "Bearer ")))})
	if resp.StatusCode != http.StatusOK {
		rf.t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	return sessionCookieOf(rf.t, resp).Value
}

// withCookie GETs path with the session cookie and returns the status.
func (rf *roleFixture) withCookie(path, cookie string) int {
	rf.t.Helper()
	r, err := http.NewRequest("GET", rf.srv.URL+path, nil)
	if err != nil {
		rf.t.Fatal(err)
	}
	r.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: cookie})
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		rf.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tokenNamed returns the stored token of that name.
func (rf *roleFixture) tokenNamed(name string) api.TokenInfo {
	rf.t.Helper()
	tokens, err := rf.tokens.List(context.Background())
	if err != nil {
		rf.t.Fatal(err)
	}
	for _, info := range tokens {
		if info.Name == name {
			return info
		}
	}
	rf.t.Fatalf("no token named %q in %+v", name, tokens)
	return api.TokenInfo{}
}

// audit reads an election's whole audit log through the API, page by page.
func (rf *roleFixture) audit(electionID int64) []jobs.AuditEntry {
	rf.t.Helper()
	var all []jobs.AuditEntry
	path := "/api/audit?limit=3&electionId=" + itoa(electionID)
	for before := int64(0); ; {
		p := path
		if before > 0 {
			p += "&before=" + itoa(before)
		}
		resp, body := rf.do(request{method: "GET", path: p})
		var page api.AuditResponse
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &page) != nil {
			rf.t.Fatalf("GET %s: %d %s", p, resp.StatusCode, body)
		}
		all = append(all, page.Entries...)
		if page.Before == 0 {
			return all
		}
		before = page.Before
	}
}
