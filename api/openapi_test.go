package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/internal/metrics"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/web"
)

// nonAdminToken authenticates a viewer, whom every
// admin route refuses with 403.
const nonAdminToken = "test-viewer-token-0123456789"

// withEveryRoute configures the server with every optional route (metrics,
// the web page) and a second, non-admin token.
func withEveryRoute(t *testing.T) func(*api.Config) {
	return func(cfg *api.Config) {
		cfg.Authenticator = adminAndViewer(t, nonAdminToken)
		reg := metrics.New(metrics.Config{})
		cfg.Metrics, cfg.ObserveRequest = reg.Handler(), reg.ObserveRequest
		cfg.Web = web.Handler()
	}
}

// The document is valid OpenAPI 3 and is what GET /api/openapi.yaml serves.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadSpec(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q, want 3.0.3", doc.OpenAPI)
	}
	want, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The document's route touches no engine, so none is needed.
	h, err := api.New(api.Config{Jobs: (*jobs.Engine)(nil), AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := doOn(t, srv.URL, request{method: "GET", path: "/api/openapi.yaml", auth: "-"})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /api/openapi.yaml: %d %q, %d bytes; want 200 application/yaml with openapi.yaml's %d bytes",
			resp.StatusCode, resp.Header.Get("Content-Type"), len(body), len(want))
	}
	// Every object schema closes its properties (maps say what their values are).
	for name, s := range doc.Components.Schemas {
		checkClosed(t, "#/components/schemas/"+name, s.Value)
	}
}

// checkClosed reports object schemas, at any depth below s, that allow
// properties they do not name.
func checkClosed(t *testing.T, where string, s *openapi3.Schema) {
	t.Helper()
	if s == nil {
		return
	}
	if s.Type.Is("object") && s.AdditionalProperties.Schema == nil &&
		(s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has) {
		t.Errorf("%s: an object schema without additionalProperties: false", where)
	}
	for name, p := range s.Properties {
		if p.Ref == "" {
			checkClosed(t, where+"/properties/"+name, p.Value)
		}
	}
	if s.Items != nil && s.Items.Ref == "" {
		checkClosed(t, where+"/items", s.Items.Value)
	}
	if ap := s.AdditionalProperties.Schema; ap != nil && ap.Ref == "" {
		checkClosed(t, where+"/additionalProperties", ap.Value)
	}
	for i, sub := range s.OneOf {
		if sub.Ref == "" {
			checkClosed(t, where+"/oneOf/"+itoa(int64(i)), sub.Value)
		}
	}
}

// undescribedRoutes are the routes the document cannot describe, and why.
var undescribedRoutes = map[string]string{
	"/riverui/*": "River UI's own pages, assets and JSON API, any method and depth, belong to riverui's version; " +
		"the document describes their entry GET /riverui/ and its authentication",
	"/riverui": "the same mount without its slash; River UI answers it itself",
}

// specPath maps a chi route pattern to the document's path: a sub-router's
// index route ("/api/jobs/") loses its trailing slash, and a wildcard
// mount ("/assets/*") matches the document's paths below its prefix.
func specPath(doc *openapi3.T, pattern string) []string {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		var paths []string
		for p := range doc.Paths.Map() {
			if strings.HasPrefix(p, prefix) && p != prefix {
				paths = append(paths, p)
			}
		}
		return paths
	}
	if pattern != "/" {
		pattern = strings.TrimSuffix(pattern, "/")
	}
	if doc.Paths.Value(pattern) == nil {
		return nil
	}
	return []string{pattern}
}

// examplePath fills a documented path's parameters with values its
// schema accepts, so that the router can be asked whether it routes it.
func examplePath(path string) string {
	r := strings.NewReplacer("{jobId}", "123e4567-e89b-12d3-a456-426614174000", "{electionId}", "7")
	out := r.Replace(path)
	for {
		i := strings.IndexByte(out, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(out[i:], '}')
		out = out[:i] + "x" + out[i+j+1:]
	}
}

// Every route of the router is in the document, and every operation of the
// document is a route of the router.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadSpec(t)
	f := newFixture(t)
	sessions, err := api.NewSessionStore(f.pool, api.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Only the routes matter here: the hub need not run, and any handler
	// stands for River UI.
	tokens, err := api.NewTokenStore(f.pool)
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Jobs: f.engine, Elections: newElectionService(t, f), AdminToken: testToken, Sessions: sessions,
		StatusHub: jobs.NewStatusHub(f.pool, jobs.StatusHubConfig{}), RiverUI: http.NotFoundHandler(), Tokens: tokens}
	withEveryRoute(t)(&cfg)
	h, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux, ok := h.(*chi.Mux)
	if !ok {
		t.Fatalf("api.New returned a %T, not a *chi.Mux", h)
	}
	routes := 0
	err = chi.Walk(mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes++
		if _, ok := undescribedRoutes[route]; ok {
			return nil
		}
		paths := specPath(doc, route)
		if len(paths) == 0 {
			t.Errorf("route %s %s is not in openapi.yaml", method, route)
		}
		for _, p := range paths {
			if doc.Paths.Value(p).GetOperation(method) == nil {
				t.Errorf("route %s %s: openapi.yaml has path %s without %s", method, route, p, method)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if routes == 0 {
		t.Fatal("chi.Walk found no routes")
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !mux.Match(chi.NewRouteContext(), method, examplePath(path)) {
				t.Errorf("openapi.yaml's %s %s is not a route of the router (tried %s)", method, path, examplePath(path))
			}
		}
	}
}

// Real requests of every operation, successes and errors, through the whole
// election pipeline on the minimal sample election: each request and
// response is checked against the document, and every operation must have
// answered a success and an error.
func TestOpenAPITraffic(t *testing.T) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	doc := loadSpec(t)
	v := newSpecValidator(t, doc)

	// Each subtest has its own database.
	t.Run("probes and elections", func(t *testing.T) {
		f := newElectionFixture(t, withEveryRoute(t))
		f.client = v.client(t)
		probeTraffic(t, v, f)
		electionTraffic(t, f, pub, priv)
	})
	t.Run("jobs", func(t *testing.T) { jobTraffic(t, v) })
	t.Run("sessions, events and River UI", func(t *testing.T) { sessionTraffic(t, v) })
	t.Run("tokens and audit log", func(t *testing.T) { tokenTraffic(t, v) })

	v.checkCoverage(t)
}

// probeTraffic exercises the probes and the routes without a token.
func probeTraffic(t *testing.T, v *specValidator, f *fixture) {
	for _, path := range []string{"/healthz", "/readyz", "/api/openapi.yaml", "/", "/assets/app.js", "/assets/app.css", "/metrics"} {
		resp, body := f.do(request{method: "GET", path: path, auth: "-"})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %.300s", path, resp.StatusCode, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), `tallyq_http_request_duration_seconds_count{method="GET",route="/healthz",status_class="2xx"} 1`) {
			t.Errorf("GET /metrics does not count the GET /healthz before it:\n%.2000s", body)
		}
	}
	if resp, _ := f.do(request{method: "GET", path: "/assets/nothing.js", auth: "-"}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /assets/nothing.js: %d, want 404", resp.StatusCode)
	}
	// Routes the document does not have answer the JSON error.
	f.wantError(request{method: "GET", path: "/nothing", auth: "-"}, http.StatusNotFound, "no route")
	f.wantError(request{method: "POST", path: "/healthz", auth: "-"}, http.StatusMethodNotAllowed, "not allowed")
	f.wantError(request{method: "PUT", path: "/api/jobs/active"}, http.StatusMethodNotAllowed, "allowed: GET, HEAD")

	// A server whose engine is not ready.
	h, err := api.New(api.Config{Jobs: notReady{f.engine}, AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	down := &fixture{t: t, srv: httptest.NewServer(h), client: v.client(t)}
	defer down.srv.Close()
	down.wantError(request{method: "GET", path: "/readyz", auth: "-"}, http.StatusServiceUnavailable, "database is gone")
}

// notReady is the real engine reporting that it cannot work.
type notReady struct{ *jobs.Engine }

func (notReady) Ready(context.Context) error { return errors.New("the database is gone") }

// jobTraffic exercises the job routes on an engine without workers, so
// that jobs stay where the test puts them.
func jobTraffic(t *testing.T, v *specValidator) {
	f := newFixture(t)
	f.client = v.client(t)
	first := f.createJob(opNoop, 3, 41).JobID.String()
	queued := f.createJob(opNoop, 2, 42).JobID.String()
	unknown := randomID()
	jsonReq := func(method, path, body string) request {
		return request{method: method, path: path, contentType: "application/json", body: jsonBody(body)}
	}

	for _, path := range []string{"/api/jobs", "/api/jobs?electionId=42&status=QUEUED&limit=1", "/api/jobs/active", "/api/jobs/" + queued + "/status"} {
		if resp, body := f.do(request{method: "GET", path: path}); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// Paging: the first page's cursor leads to the second.
	_, body := f.do(request{method: "GET", path: "/api/jobs?limit=1"})
	var page api.JobsResponse
	if err := json.Unmarshal(body, &page); err != nil || page.Next == "" || len(page.Jobs) != 1 || page.Jobs[0].JobID.String() != queued {
		t.Fatalf("first page %s", body)
	}
	_, body = f.do(request{method: "GET", path: "/api/jobs?limit=1&after=" + page.Next})
	if err := json.Unmarshal(body, &page); err != nil || len(page.Jobs) != 1 || page.Jobs[0].JobID.String() != first {
		t.Fatalf("second page %s", body)
	}

	// Cancel and retry with and without a body, then the conflicts.
	for _, step := range []struct {
		req       request
		cancelled bool // else the job is active again
	}{
		{jsonReq("POST", "/api/jobs/"+queued+"/cancel", `{"reason":"test"}`), true},
		{request{method: "POST", path: "/api/jobs/" + queued + "/retry"}, false},
		{request{method: "POST", path: "/api/jobs/" + queued + "/cancel"}, true},
		{jsonReq("POST", "/api/jobs/"+queued+"/retry", `{}`), false},
	} {
		resp, body := f.do(step.req)
		var got api.JobActionResponse
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || (got.Job.Status == jobs.StatusCancelled) != step.cancelled || got.Job.Status.Terminal() && !step.cancelled {
			t.Fatalf("%s %s: %d %s, want 200 with the job cancelled=%t", step.req.method, step.req.path, resp.StatusCode, body, step.cancelled)
		}
	}
	f.wantError(request{method: "POST", path: "/api/jobs/" + queued + "/retry"}, http.StatusConflict, "only FAILED or CANCELLED")
	if _, err := f.engine.Cancel(context.Background(), uuid.MustParse(first), "test"); err != nil {
		t.Fatal(err)
	}
	f.wantError(request{method: "POST", path: "/api/jobs/" + first + "/cancel"}, http.StatusConflict, "only QUEUED or IN_PROGRESS")

	for _, tc := range []struct {
		req    request
		status int
		msg    string
	}{
		{request{method: "GET", path: "/api/jobs?limit=0"}, 400, `"limit"`},
		{request{method: "GET", path: "/api/jobs?after=bm90LWEtY3Vyc29y"}, 400, `"after"`},
		{request{method: "GET", path: "/api/jobs/active", auth: "-"}, 401, "Bearer"},
		{request{method: "GET", path: "/api/jobs", auth: "Bearer wrong-token-0123456789ab"}, 401, "not valid"},
		{request{method: "GET", path: "/api/jobs/not-a-uuid/status"}, 400, "not a UUID"},
		{request{method: "GET", path: "/api/jobs/" + unknown + "/status"}, 404, unknown},
		{request{method: "POST", path: "/api/jobs/" + unknown + "/cancel"}, 404, unknown},
		{request{method: "POST", path: "/api/jobs/" + unknown + "/retry"}, 404, unknown},
		{jsonReq("POST", "/api/jobs/"+queued+"/cancel", `{"reason":`), 400, "malformed JSON"},
		{jsonReq("POST", "/api/jobs/"+queued+"/retry", `{"force":true}`), 400, `"force"`},
		{request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "text/plain", body: jsonBody(`{}`)}, 415, "application/json"},
		{jsonReq("POST", "/api/jobs/"+queued+"/retry", `{"reason":"`+strings.Repeat("x", api.DefaultMaxJSONBody)+`"}`), 413, "65536"},
	} {
		f.wantError(tc.req, tc.status, tc.msg)
	}
}

// sessionTraffic exercises sign-in, the cookie with its CSRF token, job
// events and River UI on an engine without workers.
func sessionTraffic(t *testing.T, v *specValidator) {
	b := newRiverUIFixture(t)
	b.client = v.client(t)
	signIn := func(body string) (*http.Response, []byte) {
		return b.send(browserRequest{method: "POST", path: "/api/session", body: body})
	}
	resp, body := signIn(`{}`)
	wantStatus(t, "sign-in without a token", resp, body, http.StatusBadRequest, api.CodeBadRequest)
	cookie, csrf := b.signIn()
	resp, body = b.send(browserRequest{method: "GET", path: "/api/session", cookie: cookie})
	wantStatus(t, "session", resp, body, http.StatusOK, "")
	resp, body = b.send(browserRequest{method: "GET", path: "/api/session"})
	wantStatus(t, "session without a cookie", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)

	// A cookie-authenticated change needs the CSRF token; the event stream
	// of the cancelled job is its one terminal status.
	job := b.createJob(opNoop, 2, 1).JobID.String()
	resp, body = b.send(browserRequest{method: "POST", path: "/api/jobs/" + job + "/cancel", cookie: cookie})
	wantStatus(t, "cancel without the CSRF token", resp, body, http.StatusForbidden, api.CodeCSRFFailed)
	resp, body = b.send(browserRequest{method: "POST", path: "/api/jobs/" + job + "/cancel", cookie: cookie, csrf: csrf})
	wantStatus(t, "cancel with the CSRF token", resp, body, http.StatusOK, "")
	resp, body = b.send(browserRequest{method: "GET", path: "/api/jobs/" + job + "/events", cookie: cookie})
	wantStatus(t, "events", resp, body, http.StatusOK, "")
	if events := v.statusEvents(t, body); len(events) != 1 || events[0].Status != "CANCELLED" {
		t.Errorf("events of a cancelled job: %s", body)
	}
	for _, tc := range []struct {
		path   string
		bearer string
		status int
		code   string
	}{
		{"/api/jobs/" + randomID() + "/events", testToken, http.StatusNotFound, api.CodeJobNotFound},
		{"/api/jobs/12345/events", testToken, http.StatusBadRequest, api.CodeInvalidID},
		{"/api/jobs/" + job + "/events", "", http.StatusUnauthorized, api.CodeUnauthorized},
		{"/api/jobs/" + job + "/events", riverUIViewerToken, http.StatusOK, ""},
		{"/riverui/", testToken, http.StatusOK, ""},
		{"/riverui/", riverUIViewerToken, http.StatusForbidden, api.CodeForbidden},
		{"/riverui/", "", http.StatusUnauthorized, api.CodeUnauthorized},
	} {
		resp, body := b.send(browserRequest{method: "GET", path: tc.path, bearer: tc.bearer})
		wantStatus(t, "GET "+tc.path, resp, body, tc.status, tc.code)
	}

	resp, body = b.send(browserRequest{method: "DELETE", path: "/api/session", cookie: cookie})
	wantStatus(t, "sign-out without the CSRF token", resp, body, http.StatusForbidden, api.CodeCSRFFailed)
	resp, body = b.send(browserRequest{method: "DELETE", path: "/api/session", cookie: cookie, csrf: csrf})
	wantStatus(t, "sign-out", resp, body, http.StatusOK, "")
	resp, body = b.send(browserRequest{method: "DELETE", path: "/api/session", cookie: cookie, csrf: csrf})
	wantStatus(t, "sign-out of an ended session", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)

	// Failed sign-ins, until the address is refused for a while.
	for {
		resp, body := signIn(`{"token":"wrong-token-0123456789abcdef"}`)
		if resp.StatusCode == http.StatusTooManyRequests {
			wantStatus(t, "sign-in after failures", resp, body, http.StatusTooManyRequests, api.CodeTooManyRequests)
			break
		}
		wantStatus(t, "sign-in with a wrong token", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)
	}
}

// tokenTraffic exercises the token routes and the audit log.
func tokenTraffic(t *testing.T, v *specValidator) {
	f := newElectionFixtureWith(t, func(f *fixture, cfg *api.Config) {
		tokens, err := api.NewTokenStore(f.pool)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Tokens = tokens
	})
	f.client = v.client(t)
	post := func(body string) request {
		return request{method: "POST", path: "/api/tokens", contentType: "application/json", body: jsonBody(body)}
	}
	resp, body := f.do(post(`{"name":"auditor","role":"viewer"}`))
	var created api.TokenCreated
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &created) != nil || !strings.HasPrefix(created.Token, api.TokenPrefix) {
		t.Fatalf("create a token: %d %s", resp.StatusCode, body)
	}
	f.wantError(post(`{"name":"x","role":"root"}`), http.StatusBadRequest, `role "root" is not one of admin, guardian, viewer`)
	f.wantError(post(`{"name":"x","role":"guardian"}`), http.StatusBadRequest, "must name its election")
	f.wantError(post(`{"name":"x","role":"guardian","election_id":99,"guardian_id":"1"}`), http.StatusBadRequest, `election 99 has no guardian "1"`)
	f.wantError(post(`{"name":"x","role":"viewer","guardian_id":"1"}`), http.StatusBadRequest, "leave them out")
	f.wantError(post(`{"name":"","role":"viewer"}`), http.StatusBadRequest, "needs a name")

	if resp, body := f.do(request{method: "GET", path: "/api/tokens"}); resp.StatusCode != http.StatusOK || strings.Contains(string(body), created.Token) {
		t.Errorf("list tokens: %d %s; want 200 without the token itself", resp.StatusCode, body)
	}
	f.wantError(request{method: "GET", path: "/api/tokens", auth: "Bearer " + created.Token}, http.StatusForbidden, "admin")
	if resp, body := f.do(request{method: "GET", path: "/api/jobs/active", auth: "Bearer " + created.Token}); resp.StatusCode != http.StatusOK {
		t.Errorf("the viewer's token on a read route: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.do(request{method: "DELETE", path: "/api/tokens/" + itoa(created.Info.ID)}); resp.StatusCode != http.StatusOK {
		t.Errorf("revoke: %d %s", resp.StatusCode, body)
	}
	f.wantError(request{method: "GET", path: "/api/jobs/active", auth: "Bearer " + created.Token}, http.StatusUnauthorized, "revoked")
	f.wantError(request{method: "DELETE", path: "/api/tokens/abc"}, http.StatusBadRequest, `"abc"`)
	f.wantError(request{method: "DELETE", path: "/api/tokens/999999"}, http.StatusNotFound, "no token has id 999999")

	resp, body = f.do(request{method: "GET", path: "/api/audit?limit=1"})
	var page api.AuditResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &page) != nil || len(page.Entries) != 1 ||
		page.Entries[0].Action != jobs.AuditRevokeToken || page.Before != page.Entries[0].ID {
		t.Errorf("the audit log's newest line: %d %s; want the revocation and a cursor", resp.StatusCode, body)
	}
	f.wantError(request{method: "GET", path: "/api/audit?limit=0"}, http.StatusBadRequest, "limit")
	f.wantError(request{method: "GET", path: "/api/audit?who=me"}, http.StatusBadRequest, "who")
}
