package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"

	"github.com/tallyq/tallyq/api"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// newRiverUIFixture is a browser fixture with River UI mounted, built as
// serve builds it, and a viewer token beside the admin's.
func newRiverUIFixture(t *testing.T) *browserFixture {
	t.Helper()
	f := newFixture(t)
	logger := slog.New(slog.DiscardHandler)
	client, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(client, nil), Logger: logger, Prefix: "/riverui"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := ui.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return newBrowserFixtureOn(t, f, browserOptions{riverUI: ui, auth: adminAndViewer(t, riverUIViewerToken)})
}

const riverUIViewerToken = "test-riverui-viewer-token-0123456789"

func TestRiverUIForAdmins(t *testing.T) {
	b := newRiverUIFixture(t)
	const chunks = 7
	b.createJob(opNoop, chunks, 1) // no workers run: its chunks wait as available River jobs
	cookie, _ := b.signIn()
	for _, cred := range []struct {
		name           string
		bearer, cookie string
	}{{"bearer", testToken, ""}, {"cookie", "", cookie}} {
		resp, body := b.send(browserRequest{method: "GET", path: "/riverui/", bearer: cred.bearer, cookie: cred.cookie})
		wantStatus(t, cred.name+": River UI page", resp, body, http.StatusOK, "")
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(body), "<html") {
			t.Fatalf("%s: River UI page is %q: %.200s", cred.name, ct, body)
		}

		resp, body = b.send(browserRequest{method: "GET", path: "/riverui/api/jobs?state=available&limit=100",
			bearer: cred.bearer, cookie: cred.cookie})
		wantStatus(t, cred.name+": River UI job list", resp, body, http.StatusOK, "")
		var list struct {
			Data []struct {
				Kind  string `json:"kind"`
				State string `json:"state"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatalf("%s: job list %.200s: %v", cred.name, body, err)
		}
		if len(list.Data) != chunks {
			t.Fatalf("%s: River UI lists %d available jobs, want the %d chunks", cred.name, len(list.Data), chunks)
		}
		for _, j := range list.Data {
			if j.Kind != riverbroker.Kind || j.State != "available" {
				t.Fatalf("%s: listed job %+v", cred.name, j)
			}
		}
	}
}

func TestRiverUIRefusesOthers(t *testing.T) {
	b := newRiverUIFixture(t)
	for _, tc := range []struct {
		name, path, bearer string
		status             int
		code               string
	}{
		{"no credentials", "/riverui/", "", http.StatusUnauthorized, api.CodeUnauthorized},
		{"no credentials, API", "/riverui/api/jobs", "", http.StatusUnauthorized, api.CodeUnauthorized},
		{"no credentials, bare prefix", "/riverui", "", http.StatusUnauthorized, api.CodeUnauthorized},
		{"wrong token", "/riverui/", "wrong-token-0123456789", http.StatusUnauthorized, api.CodeUnauthorized},
		{"not an admin", "/riverui/", riverUIViewerToken, http.StatusForbidden, api.CodeForbidden},
	} {
		resp, body := b.send(browserRequest{method: "GET", path: tc.path, bearer: tc.bearer})
		wantStatus(t, tc.name, resp, body, tc.status, tc.code)
	}

	// River UI's page cannot send the CSRF header; a cookie request that
	// changes state must come from the same origin instead.
	cookie, _ := b.signIn()
	resp, body := b.send(browserRequest{method: "POST", path: "/riverui/api/jobs/cancel", cookie: cookie,
		body: `{"ids":["1"]}`, header: map[string]string{"Sec-Fetch-Site": "cross-site"}})
	wantStatus(t, "cross-site POST with the cookie", resp, body, http.StatusForbidden, api.CodeCSRFFailed)
	resp, body = b.send(browserRequest{method: "POST", path: "/riverui/api/jobs/cancel", cookie: cookie,
		body: `{"ids":["1"]}`, header: map[string]string{"Sec-Fetch-Site": "same-origin"}})
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		t.Fatalf("same-origin POST with the cookie: %d %s", resp.StatusCode, body)
	}
}

func TestRiverUINotMountedWithoutHandler(t *testing.T) {
	b := newBrowserFixture(t, browserOptions{})
	for _, path := range []string{"/riverui/", "/riverui/api/jobs"} {
		resp, body := b.send(browserRequest{method: "GET", path: path, bearer: testToken})
		wantStatus(t, path+" without River UI", resp, body, http.StatusNotFound, api.CodeNotFound)
	}
}
