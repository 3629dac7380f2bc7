package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/migrations"
)

// checkError asserts that a response is the documented JSON error: the
// status, {"success":false,"error":{"code","message"}} and nothing else,
// with a message containing each of msgParts.
func checkError(t *testing.T, resp *http.Response, body []byte, status int, code string, msgParts ...string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var got struct {
		Success *bool `json:"success"`
		Error   *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if got.Success == nil || *got.Success || got.Error == nil {
		t.Fatalf("error body %s lacks success:false or error", body)
	}
	if bytes.Contains(body, []byte(`\u003c`)) {
		t.Errorf("body escapes < as for HTML: %s", body)
	}
	if got.Error.Code != code {
		t.Errorf("code %q, want %q (message %q)", got.Error.Code, code, got.Error.Message)
	}
	for _, part := range msgParts {
		if !strings.Contains(got.Error.Message, part) {
			t.Errorf("message %q lacks %q", got.Error.Message, part)
		}
	}
}

func TestAPIErrors(t *testing.T) {
	f := newFixture(t)
	queued := f.createJob(opNoop, 2, 1).JobID.String()
	cancelled := f.createJob(opNoop, 2, 1).JobID
	if _, err := f.engine.Cancel(context.Background(), cancelled, "test"); err != nil {
		t.Fatal(err)
	}
	unknown := randomID()
	big := `{"reason":"` + strings.Repeat("x", api.DefaultMaxJSONBody) + `"}`

	for _, tc := range []struct {
		name   string
		req    request
		status int
		code   string
		msg    []string
	}{
		// Authentication.
		{"no token", request{method: "GET", path: "/api/jobs/active", auth: "-"}, 401, api.CodeUnauthorized, []string{"Bearer"}},
		{"wrong token", request{method: "GET", path: "/api/jobs/active", auth: "Bearer wrong-token-0123456789ab"}, 401, api.CodeUnauthorized, []string{"not valid"}},
		{"token of another length", request{method: "GET", path: "/api/jobs/active", auth: "Bearer " + testToken + "x"}, 401, api.CodeUnauthorized, nil},
		{"basic auth", request{method: "GET", path: "/api/jobs/active", auth: "Basic YWRtaW46YWRtaW4="}, 401, api.CodeUnauthorized, []string{"Bearer <token>"}},
		{"empty bearer", request{method: "GET", path: "/api/jobs/active", auth: "Bearer "}, 401, api.CodeUnauthorized, nil},
		{"unauthenticated unknown api route", request{method: "GET", path: "/api/nothing", auth: "-"}, 401, api.CodeUnauthorized, nil},

		// Routing.
		{"unknown route", request{method: "GET", path: "/nothing", auth: "-"}, 404, api.CodeNotFound, []string{"/nothing"}},
		{"unknown api route", request{method: "GET", path: "/api/nothing"}, 404, api.CodeNotFound, []string{"/api/nothing"}},
		{"GET on cancel", request{method: "GET", path: "/api/jobs/" + queued + "/cancel"}, 405, api.CodeMethodNotAllowed, []string{"GET", "POST"}},
		{"POST on status", request{method: "POST", path: "/api/jobs/" + queued + "/status"}, 405, api.CodeMethodNotAllowed, []string{"allowed: GET, HEAD"}},
		{"DELETE on active", request{method: "DELETE", path: "/api/jobs/active"}, 405, api.CodeMethodNotAllowed, nil},
		{"POST on healthz", request{method: "POST", path: "/healthz", auth: "-"}, 405, api.CodeMethodNotAllowed, nil},

		// Path and query parameters.
		{"bad uuid", request{method: "GET", path: "/api/jobs/not-a-uuid/status"}, 400, api.CodeInvalidID, []string{`"not-a-uuid"`}},
		{"uuid without dashes", request{method: "GET", path: "/api/jobs/" + strings.ReplaceAll(queued, "-", "") + "/status"}, 400, api.CodeInvalidID, nil},
		{"bad uuid on cancel", request{method: "POST", path: "/api/jobs/12345/cancel"}, 400, api.CodeInvalidID, []string{`"12345"`}},
		{"limit zero", request{method: "GET", path: "/api/jobs?limit=0"}, 400, api.CodeInvalidQuery, []string{`"limit"`, "1 to 500"}},
		{"limit too big", request{method: "GET", path: "/api/jobs?limit=501"}, 400, api.CodeInvalidQuery, []string{`"limit"`}},
		{"limit not a number", request{method: "GET", path: "/api/jobs?limit=ten"}, 400, api.CodeInvalidQuery, []string{`"limit"`, `"ten"`}},
		{"negative election", request{method: "GET", path: "/api/jobs?electionId=-3"}, 400, api.CodeInvalidQuery, []string{`"electionId"`, "positive integer"}},
		{"election not a number", request{method: "GET", path: "/api/jobs?electionId=abc"}, 400, api.CodeInvalidQuery, []string{`"electionId"`}},
		{"unknown status", request{method: "GET", path: "/api/jobs?status=DONE"}, 400, api.CodeInvalidQuery, []string{`"status"`, "QUEUED", `"DONE"`}},
		{"lower-case status", request{method: "GET", path: "/api/jobs?status=queued"}, 400, api.CodeInvalidQuery, []string{`"status"`}},
		{"unknown parameter", request{method: "GET", path: "/api/jobs?electionID=3"}, 400, api.CodeInvalidQuery, []string{`"electionID"`, "electionId"}},
		{"repeated parameter", request{method: "GET", path: "/api/jobs?status=QUEUED&status=FAILED"}, 400, api.CodeInvalidQuery, []string{`"status"`, "2 times"}},
		{"malformed query", request{method: "GET", path: "/api/jobs?limit=%zz"}, 400, api.CodeInvalidQuery, nil},
		{"forged cursor", request{method: "GET", path: "/api/jobs?after=bm90LWEtY3Vyc29y"}, 400, api.CodeInvalidQuery, []string{`"after"`}},

		// Unknown jobs and conflicts.
		{"unknown job status", request{method: "GET", path: "/api/jobs/" + unknown + "/status"}, 404, api.CodeJobNotFound, []string{unknown}},
		{"unknown job cancel", request{method: "POST", path: "/api/jobs/" + unknown + "/cancel"}, 404, api.CodeJobNotFound, []string{unknown}},
		{"unknown job retry", request{method: "POST", path: "/api/jobs/" + unknown + "/retry"}, 404, api.CodeJobNotFound, []string{unknown}},
		{"cancel a cancelled job", request{method: "POST", path: "/api/jobs/" + cancelled.String() + "/cancel"}, 409, api.CodeConflict, []string{"CANCELLED", "only QUEUED or IN_PROGRESS"}},
		{"retry a queued job", request{method: "POST", path: "/api/jobs/" + queued + "/retry"}, 409, api.CodeConflict, []string{"QUEUED", "only FAILED or CANCELLED"}},

		// Bodies.
		{"malformed JSON", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: jsonBody(`{"reason":`)}, 400, api.CodeInvalidJSON, []string{"malformed JSON"}},
		{"JSON syntax error", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: jsonBody(`{"reason" "x"}`)}, 400, api.CodeInvalidJSON, []string{"byte"}},
		{"unknown field", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: jsonBody(`{"force":true}`)}, 400, api.CodeInvalidJSON, []string{`"force"`}},
		{"wrong field type", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: jsonBody(`{"reason":5}`)}, 400, api.CodeInvalidJSON, []string{`"reason"`, "string"}},
		{"not an object", request{method: "POST", path: "/api/jobs/" + queued + "/retry", contentType: "application/json", body: jsonBody(`[1,2]`)}, 400, api.CodeInvalidJSON, []string{"object"}},
		{"trailing data", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: jsonBody(`{} {}`)}, 400, api.CodeInvalidJSON, []string{"single JSON object"}},
		{"blank body", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: jsonBody("  \n")}, 400, api.CodeInvalidJSON, []string{"no JSON value"}},
		{"trailing garbage", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: jsonBody(`{}x`)}, 400, api.CodeInvalidJSON, nil},
		{"reason too long", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: jsonBody(`{"reason":"` + strings.Repeat("y", 1001) + `"}`)}, 400, api.CodeBadRequest, []string{`"reason"`}},
		{"wrong content type", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "text/plain", body: jsonBody(`{}`)}, 415, api.CodeUnsupportedMediaType, []string{"application/json", "text/plain"}},
		{"no content type", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", body: jsonBody(`{}`)}, 415, api.CodeUnsupportedMediaType, nil},
		{"body over the limit", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: jsonBody(big)}, 413, api.CodePayloadTooLarge, []string{"65536"}},
		{"streamed body over the limit", request{method: "POST", path: "/api/jobs/" + queued + "/cancel", contentType: "application/json", body: io.MultiReader(jsonBody(big))}, 413, api.CodePayloadTooLarge, []string{"65536"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.do(tc.req)
			checkError(t, resp, body, tc.status, tc.code, tc.msg...)
			if tc.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without a WWW-Authenticate header")
			}
			if tc.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}

	// None of the refused requests changed the queued job.
	st, err := f.engine.Status(context.Background(), uuid.MustParse(queued))
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != jobs.StatusQueued {
		t.Errorf("queued job is %s after refused requests", st.Status)
	}
}

func TestAllowHeaderNamesMethods(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{
		"/api/jobs/" + randomID() + "/retry": "POST",
		"/api/jobs/active":                   "GET HEAD",
		"/api/jobs":                          "GET HEAD",
		"/api/jobs/":                         "GET HEAD",
		"/healthz":                           "GET HEAD",
		"/api/audit":                         "GET HEAD",
	} {
		// PROPFIND is a method chi has no tree for; it must still get the list.
		for _, method := range []string{"PUT", "PROPFIND"} {
			resp, _ := f.do(request{method: method, path: path})
			if got := strings.Join(resp.Header.Values("Allow"), " "); resp.StatusCode != http.StatusMethodNotAllowed || got != want {
				t.Errorf("%s %s: %d, Allow %q, want 405 and %q", method, path, resp.StatusCode, got, want)
			}
		}
	}
}

// A method chi does not know on a path no route has is not found, not a
// 405 with nothing allowed.
func TestUnknownMethodOnUnknownPath(t *testing.T) {
	f := newFixture(t)
	resp, body := f.do(request{method: "PROPFIND", path: "/api/nothing-here"})
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Allow") != "" || !strings.Contains(string(body), "no route PROPFIND") {
		t.Fatalf("%d, Allow %q: %s", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}

func TestHeadWhereGet(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/healthz", "/api/jobs/active", "/api/jobs", "/api/jobs/", "/api/audit"} {
		resp, body := f.do(request{method: "HEAD", path: path})
		if resp.StatusCode != http.StatusOK || len(body) != 0 {
			t.Errorf("HEAD %s: %d with %d body bytes", path, resp.StatusCode, len(body))
		}
	}
}

// panicking is the real engine whose Status panics, as a bug would.
type panicking struct{ *jobs.Engine }

func (panicking) Status(context.Context, uuid.UUID) (jobs.JobStatus, error) {
	panic("secret internal detail: connection to 10.0.0.1 lost")
}

func TestPanicBecomesJSON500(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.handler(panicking{f.engine}))
	defer srv.Close()
	resp, body := doOn(t, srv.URL, request{method: "GET", path: "/api/jobs/" + randomID() + "/status"})
	checkError(t, resp, body, http.StatusInternalServerError, api.CodeInternal)
	if bytes.Contains(body, []byte("secret")) || bytes.Contains(body, []byte("10.0.0.1")) {
		t.Errorf("500 body leaks the panic: %s", body)
	}
	// The server survives and keeps serving.
	resp, body = doOn(t, srv.URL, request{method: "GET", path: "/healthz", auth: "-"})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz after a panic: %d %s", resp.StatusCode, body)
	}
}

func TestReadyzRefusesUnmigratedDatabase(t *testing.T) {
	f := newFixture(t)
	if err := migrations.New(f.pool).Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, body := f.do(request{method: "GET", path: "/readyz", auth: "-"})
	checkError(t, resp, body, http.StatusServiceUnavailable, api.CodeNotReady, "tallyq migrate up")
	// Liveness does not depend on the database.
	resp, body = f.do(request{method: "GET", path: "/healthz", auth: "-"})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d %s", resp.StatusCode, body)
	}
}

func TestReadyzRefusesUnreachableDatabase(t *testing.T) {
	f := newFixture(t)
	f.pool.Close()
	resp, body := f.do(request{method: "GET", path: "/readyz", auth: "-"})
	checkError(t, resp, body, http.StatusServiceUnavailable, api.CodeNotReady, "database")
}

func TestNewRefusesBadConfig(t *testing.T) {
	f := newFixture(t)
	if _, err := api.New(api.Config{AdminToken: testToken}); err == nil {
		t.Error("New without Jobs succeeded")
	}
	for _, token := range []string{"", "short-token"} {
		_, err := api.New(api.Config{Jobs: f.engine, AdminToken: token})
		if err == nil || !strings.Contains(err.Error(), "at least 16") {
			t.Errorf("token %q: err = %v, want a length error", token, err)
		}
	}
}
