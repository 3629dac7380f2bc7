package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/jobs"
)

// browserFixture is the API with sessions, job events and, when given,
// River UI, on a fixture's engine and database.
type browserFixture struct {
	*fixture
	hub     *jobs.StatusHub
	stopHub context.CancelFunc
	url     string
	client  *http.Client
}

// browserOptions varies newBrowserFixture.
type browserOptions struct {
	riverUI   http.Handler
	heartbeat time.Duration
	tls       bool
	// auth replaces the admin token's authentication.
	auth api.Authenticator
}

func newBrowserFixture(t *testing.T, opts browserOptions) *browserFixture {
	t.Helper()
	return newBrowserFixtureOn(t, newFixture(t), opts)
}

// newBrowserFixtureOn is newBrowserFixture on a given fixture.
func newBrowserFixtureOn(t *testing.T, f *fixture, opts browserOptions) *browserFixture {
	t.Helper()
	sessions, err := api.NewSessionStore(f.pool, api.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	hub := jobs.NewStatusHub(f.pool, jobs.StatusHubConfig{
		ReconnectDelay: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); hub.Run(ctx) }()
	stop := func() { cancel(); <-hubDone }
	h, err := api.New(api.Config{Jobs: f.engine, AdminToken: testToken, Authenticator: opts.auth,
		Logger: slog.New(slog.DiscardHandler), Sessions: sessions, StatusHub: hub, RiverUI: opts.riverUI,
		EventHeartbeat: opts.heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	if opts.tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	// The server closes after the hub stops, which ends open streams.
	t.Cleanup(srv.Close)
	t.Cleanup(stop)
	return &browserFixture{fixture: f, hub: hub, stopHub: stop, url: srv.URL, client: srv.Client()}
}

// browserRequest is one request of a browser test.
type browserRequest struct {
	method, path string
	// bearer is sent as `Authorization: Bearer`, cookie as the session
	// cookie, csrf as the CSRF header; each only when set.
	bearer, cookie, csrf string
	header               map[string]string
	body                 string
}

// send sends req and returns the response with its body read.
func (b *browserFixture) send(req browserRequest) (*http.Response, []byte) {
	b.t.Helper()
	resp := b.open(context.Background(), req)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, body
}

// open sends req and returns the response with its body unread.
func (b *browserFixture) open(ctx context.Context, req browserRequest) *http.Response {
	b.t.Helper()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r, err := http.NewRequestWithContext(ctx, req.method, b.url+req.path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+req.bearer)
	}
	if req.cookie != "" {
		r.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: req.cookie})
	}
	if req.csrf != "" {
		r.Header.Set(api.CSRFHeader, req.csrf)
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	resp, err := b.client.Do(r)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

// signIn signs in with the test token and returns the session cookie's
// value and the CSRF token.
func (b *browserFixture) signIn() (cookie, csrf string) {
	b.t.Helper()
	resp, body := b.send(browserRequest{method: "POST", path: "/api/session", body: `{"token":"` + testToken + `"}`})
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	var got api.SessionResponse
	if err := json.Unmarshal(body, &got); err != nil {
		b.t.Fatal(err)
	}
	c := sessionCookieOf(b.t, resp)
	return c.Value, got.CSRFToken
}

// sessionCookieOf returns the session cookie resp sets, failing the test
// if it sets none.
func sessionCookieOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %q", api.SessionCookie, resp.Header.Values("Set-Cookie"))
	return nil
}

// wantStatus fails the test unless resp has the status and, for errors,
// the error code.
func wantStatus(t *testing.T, what string, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, resp.StatusCode, status, body)
	}
	if code == "" {
		return
	}
	var e api.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code {
		t.Fatalf("%s: body %s, want error code %q", what, body, code)
	}
}

func TestSignInSetsSessionCookie(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	resp, body := b.send(browserRequest{method: "POST", path: "/api/session", body: `{"token":"` + testToken + `"}`})
	wantStatus(t, "sign-in", resp, body, http.StatusOK, "")
	var got api.SessionResponse
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Success || got.Subject != "admin" || got.Role != api.RoleAdmin || len(got.CSRFToken) < 40 {
		t.Fatalf("sign-in answered %+v", got)
	}
	if strings.Contains(string(body), testToken) {
		t.Fatal("the sign-in response repeats the token")
	}
	c := sessionCookieOf(t, resp)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || len(c.Value) < 40 || c.MaxAge <= 0 {
		t.Fatalf("cookie %q: want HttpOnly, SameSite=Strict, Path=/, a lasting session id, not Secure over plain HTTP",
			resp.Header.Get("Set-Cookie"))
	}
	if c.Value == got.CSRFToken {
		t.Fatal("the CSRF token is the session id")
	}

	// Behind a TLS-terminating proxy the cookie is Secure.
	resp, body = b.send(browserRequest{method: "POST", path: "/api/session", body: `{"token":"` + testToken + `"}`,
		header: map[string]string{"X-Forwarded-Proto": "https"}})
	wantStatus(t, "sign-in behind a proxy", resp, body, http.StatusOK, "")
	if !sessionCookieOf(t, resp).Secure {
		t.Fatalf("cookie %q behind X-Forwarded-Proto: https is not Secure", resp.Header.Get("Set-Cookie"))
	}

	// GET /api/session gives the page its CSRF token back.
	resp, body = b.send(browserRequest{method: "GET", path: "/api/session", cookie: c.Value})
	wantStatus(t, "GET /api/session", resp, body, http.StatusOK, "")
	var again api.SessionResponse
	if err := json.Unmarshal(body, &again); err != nil || again != got {
		t.Fatalf("GET /api/session = %s, want %+v", body, got)
	}
}

func TestSignInOverTLSSetsSecureCookie(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{tls: true})
	resp, body := b.send(browserRequest{method: "POST", path: "/api/session", body: `{"token":"` + testToken + `"}`})
	wantStatus(t, "sign-in", resp, body, http.StatusOK, "")
	if c := sessionCookieOf(t, resp); !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie over TLS: %q", resp.Header.Get("Set-Cookie"))
	}
}

func TestSignInRefusesWrongToken(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"wrong token", `{"token":"not-the-admin-token-0123456789"}`, http.StatusUnauthorized, api.CodeUnauthorized},
		{"empty token", `{"token":""}`, http.StatusBadRequest, api.CodeBadRequest},
		{"unknown field", `{"token":"x","user":"admin"}`, http.StatusBadRequest, api.CodeInvalidJSON},
	} {
		resp, body := b.send(browserRequest{method: "POST", path: "/api/session", body: tc.body})
		wantStatus(t, tc.name, resp, body, tc.status, tc.code)
		if len(resp.Cookies()) != 0 {
			t.Fatalf("%s: cookies set: %q", tc.name, resp.Header.Values("Set-Cookie"))
		}
	}
	// The token never goes in a URL: a query-string token authenticates nothing.
	resp, body := b.send(browserRequest{method: "GET", path: "/api/jobs?token=" + testToken})
	wantStatus(t, "token in the query", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)
	resp, body = b.send(browserRequest{method: "GET", path: "/api/session?token=" + testToken})
	wantStatus(t, "token in the session query", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)
}

func TestSignInRateLimit(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	// Ten failures from one address are answered 401; then, for the rest
	// of the minute, even the right token is refused.
	failures := 0
	for ; failures < 100; failures++ {
		resp, body := b.send(browserRequest{method: "POST", path: "/api/session", body: `{"token":"guess-0123456789abcdef"}`})
		if resp.StatusCode == http.StatusTooManyRequests {
			wantStatus(t, "limited sign-in", resp, body, http.StatusTooManyRequests, api.CodeTooManyRequests)
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			break
		}
		wantStatus(t, "failed sign-in", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)
	}
	if failures != 10 {
		t.Fatalf("limited after %d failures", failures)
	}
	resp, body := b.send(browserRequest{method: "POST", path: "/api/session", body: `{"token":"` + testToken + `"}`})
	wantStatus(t, "right token while limited", resp, body, http.StatusTooManyRequests, api.CodeTooManyRequests)
	// Bearer requests are not sign-ins and are not limited.
	resp, body = b.send(browserRequest{method: "GET", path: "/api/jobs", bearer: testToken})
	wantStatus(t, "bearer while sign-in is limited", resp, body, http.StatusOK, "")
}

func TestSessionCookieAndCSRF(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	cookie, csrf := b.signIn()
	job := b.createJob(opNoop, 3, 1)
	jobPath := "/api/jobs/" + job.JobID.String()

	resp, body := b.send(browserRequest{method: "GET", path: "/api/jobs", cookie: cookie})
	wantStatus(t, "GET with the cookie", resp, body, http.StatusOK, "")
	resp, body = b.send(browserRequest{method: "GET", path: jobPath + "/status", cookie: cookie})
	wantStatus(t, "GET status with the cookie", resp, body, http.StatusOK, "")

	resp, body = b.send(browserRequest{method: "POST", path: jobPath + "/cancel", cookie: cookie})
	wantStatus(t, "POST without the CSRF header", resp, body, http.StatusForbidden, api.CodeCSRFFailed)
	resp, body = b.send(browserRequest{method: "POST", path: jobPath + "/cancel", cookie: cookie, csrf: csrf[:len(csrf)-1] + "x"})
	wantStatus(t, "POST with a wrong CSRF header", resp, body, http.StatusForbidden, api.CodeCSRFFailed)
	if st, err := b.engine.Status(context.Background(), job.JobID); err != nil || st.Status != jobs.StatusQueued {
		t.Fatalf("after refused cancels the job is %+v, %v; want QUEUED", st, err)
	}
	resp, body = b.send(browserRequest{method: "POST", path: jobPath + "/cancel", cookie: cookie, csrf: csrf})
	wantStatus(t, "POST with the CSRF header", resp, body, http.StatusOK, "")

	// A bearer request needs no CSRF token: no other site can add the header.
	resp, body = b.send(browserRequest{method: "POST", path: jobPath + "/retry", bearer: testToken})
	wantStatus(t, "bearer POST without CSRF", resp, body, http.StatusOK, "")
	// A CSRF token does not stand in for the cookie.
	resp, body = b.send(browserRequest{method: "POST", path: jobPath + "/cancel", csrf: csrf})
	wantStatus(t, "CSRF header without the cookie", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)
	// Nor does another session's CSRF token go with this cookie.
	_, otherCSRF := b.signIn()
	resp, body = b.send(browserRequest{method: "POST", path: jobPath + "/cancel", cookie: cookie, csrf: otherCSRF})
	wantStatus(t, "another session's CSRF token", resp, body, http.StatusForbidden, api.CodeCSRFFailed)
}

func TestSignOutEndsSession(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	cookie, csrf := b.signIn()
	resp, body := b.send(browserRequest{method: "DELETE", path: "/api/session", cookie: cookie})
	wantStatus(t, "sign-out without CSRF", resp, body, http.StatusForbidden, api.CodeCSRFFailed)
	resp, body = b.send(browserRequest{method: "DELETE", path: "/api/session", cookie: cookie, csrf: csrf})
	wantStatus(t, "sign-out", resp, body, http.StatusOK, "")
	if c := sessionCookieOf(t, resp); c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("sign-out's cookie %q does not delete the cookie", resp.Header.Get("Set-Cookie"))
	}
	// The server forgot the session: replaying the old cookie fails.
	for _, req := range []browserRequest{
		{method: "GET", path: "/api/jobs", cookie: cookie},
		{method: "GET", path: "/api/session", cookie: cookie},
		{method: "DELETE", path: "/api/session", cookie: cookie, csrf: csrf},
	} {
		resp, body := b.send(req)
		wantStatus(t, req.method+" "+req.path+" with the old cookie", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)
	}
}

func TestExpiredSessionIsRefused(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	idle, _ := b.signIn()
	old, _ := b.signIn()
	live, _ := b.signIn()
	ctx := context.Background()
	for _, c := range []struct{ cookie, set string }{
		{idle, "last_seen_at = now() - interval '13 hours'"},
		{old, "expires_at = now() - interval '1 second'"},
	} {
		if _, err := b.pool.Exec(ctx, `UPDATE tallyq_sessions SET `+c.set+` WHERE id_hash = $1`, hashOf(c.cookie)); err != nil {
			t.Fatal(err)
		}
		resp, body := b.send(browserRequest{method: "GET", path: "/api/jobs", cookie: c.cookie})
		wantStatus(t, "expired session ("+c.set+")", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)
	}
	resp, body := b.send(browserRequest{method: "GET", path: "/api/jobs", cookie: live})
	wantStatus(t, "live session", resp, body, http.StatusOK, "")
	resp, body = b.send(browserRequest{method: "GET", path: "/api/jobs", cookie: "forged" + live[6:]})
	wantStatus(t, "forged session id", resp, body, http.StatusUnauthorized, api.CodeUnauthorized)

	// The next sign-in deletes the expired rows.
	b.signIn()
	var n int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM tallyq_sessions WHERE id_hash = ANY($1)`,
		[][]byte{hashOf(idle), hashOf(old), hashOf(live)}).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("after a sign-in %d of the idle, old and live sessions remain, want the live one", n)
	}
}

func TestSessionIDIsNotStored(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	cookie, _ := b.signIn()
	var rows, plain, hashed int
	err := b.pool.QueryRow(context.Background(), `SELECT count(*),
			count(*) FILTER (WHERE strpos(s::text, $1) > 0 OR strpos(encode(id_hash, 'escape'), $1) > 0),
			count(*) FILTER (WHERE id_hash = $2)
		FROM tallyq_sessions s`, cookie, hashOf(cookie)).Scan(&rows, &plain, &hashed)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 1 || plain != 0 || hashed != 1 {
		t.Fatalf("sessions: %d rows, %d holding the session id, %d keyed by its SHA-256; want 1, 0, 1", rows, plain, hashed)
	}
}

func hashOf(sessionID string) []byte {
	h := sha256.Sum256([]byte(sessionID))
	return h[:]
}
