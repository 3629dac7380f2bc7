package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/jobs"
)

// decode decodes a JSON body strictly into v.
func decode(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func checkOK(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		resp, body := f.do(request{method: "GET", path: path, auth: "-"})
		checkOK(t, resp, body)
		var got struct{ Status string }
		decode(t, body, &got)
		if got.Status != want {
			t.Errorf("%s: %s", path, body)
		}
	}
}

// seedFields are the status fields the seed frontend reads, plus the rate
// and ETA; the status body has at least these.
var seedFields = []string{"jobId", "status", "totalChunks", "processedChunks", "failedChunks",
	"progressPercent", "startedAt", "completedAt", "errorMessage", "operationType", "electionId",
	"chunksPerSecond", "etaSeconds"}

func TestJobStatus(t *testing.T) {
	f := newFixture(t)
	job := f.createJob(opNoop, 4, 42)
	resp, body := f.do(request{method: "GET", path: "/api/jobs/" + job.JobID.String() + "/status"})
	checkOK(t, resp, body)

	var fields map[string]json.RawMessage
	decode(t, body, &fields)
	for _, name := range seedFields {
		if _, ok := fields[name]; !ok {
			t.Errorf("status lacks %q: %s", name, body)
		}
	}
	if len(fields) != len(seedFields) {
		t.Errorf("status has %d fields, want exactly the %d of the seed's response and ours: %s", len(fields), len(seedFields), body)
	}
	var got jobs.JobStatus
	decode(t, body, &got)
	want, err := f.engine.Status(context.Background(), job.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if got.JobID != job.JobID || got.Status != jobs.StatusQueued || got.TotalChunks != 4 ||
		got.ProcessedChunks != 0 || got.FailedChunks != 0 || got.ProgressPercent != 0 ||
		got.OperationType != opNoop || got.ElectionID == nil || *got.ElectionID != 42 ||
		got.CompletedAt != nil || got.ErrorMessage != nil {
		t.Errorf("status %+v, engine says %+v", got, want)
	}
}

func TestStatusOfARunJob(t *testing.T) {
	f := newFixture(t)
	f.runWorkers()
	job := f.createJob(opNoop, 20, 1)
	var seen []jobProgress
	final := f.waitForJob(job.JobID, func(p jobProgress) { seen = append(seen, p) })
	if final.Status != "COMPLETED" || final.ProcessedChunks != 20 || final.FailedChunks != 0 ||
		final.ProgressPercent != 100 || final.EtaSeconds != nil {
		t.Errorf("final status %+v", final)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].ProcessedChunks < seen[i-1].ProcessedChunks {
			t.Errorf("progress went back: %+v then %+v", seen[i-1], seen[i])
		}
	}
	resp, body := f.do(request{method: "GET", path: "/api/jobs/" + job.JobID.String() + "/status"})
	checkOK(t, resp, body)
	var st jobs.JobStatus
	decode(t, body, &st)
	if st.StartedAt == nil || st.CompletedAt == nil || st.CompletedAt.Before(*st.StartedAt) {
		t.Errorf("startedAt %v, completedAt %v", st.StartedAt, st.CompletedAt)
	}
}

func TestListJobs(t *testing.T) {
	f := newFixture(t)
	var inSeven []string // newest first, as listed
	for range 3 {
		inSeven = slices.Insert(inSeven, 0, f.createJob(opNoop, 1, 7).JobID.String())
	}
	other := f.createJob(opNoop, 1, 8)
	if _, err := f.engine.Cancel(context.Background(), other.JobID, "test"); err != nil {
		t.Fatal(err)
	}

	list := func(query string) api.JobsResponse {
		t.Helper()
		resp, body := f.do(request{method: "GET", path: "/api/jobs" + query})
		checkOK(t, resp, body)
		var page api.JobsResponse
		decode(t, body, &page)
		return page
	}
	ids := func(page api.JobsResponse) []string {
		var out []string
		for _, j := range page.Jobs {
			out = append(out, j.JobID.String())
		}
		return out
	}

	first := list("?electionId=7&limit=2")
	if !slices.Equal(ids(first), inSeven[:2]) || first.Next == "" {
		t.Fatalf("first page %v next %q, want %v and a cursor", ids(first), first.Next, inSeven[:2])
	}
	second := list("?electionId=7&limit=2&after=" + first.Next)
	if !slices.Equal(ids(second), inSeven[2:]) || second.Next != "" {
		t.Errorf("second page %v next %q, want %v and no cursor", ids(second), second.Next, inSeven[2:])
	}
	if all := list(""); len(all.Jobs) != 4 {
		t.Errorf("unfiltered list has %d jobs, want 4", len(all.Jobs))
	}
	if c := list("?status=CANCELLED"); !slices.Equal(ids(c), []string{other.JobID.String()}) {
		t.Errorf("CANCELLED jobs %v, want [%s]", ids(c), other.JobID)
	}
	if none := list("?electionId=9"); none.Jobs == nil || len(none.Jobs) != 0 {
		t.Errorf("election without jobs: %+v, want an empty list", none)
	}
	resp, body := f.do(request{method: "GET", path: "/api/jobs?electionId=9"})
	checkOK(t, resp, body)
	if !strings.Contains(string(body), `"jobs":[]`) {
		t.Errorf("empty list encodes as %s, want \"jobs\":[]", body)
	}
}

func TestActiveJobs(t *testing.T) {
	f := newFixture(t)
	a := f.createJob(opNoop, 1, 1)
	b := f.createJob(opNoop, 1, 2)
	if _, err := f.engine.Cancel(context.Background(), b.JobID, "test"); err != nil {
		t.Fatal(err)
	}
	resp, body := f.do(request{method: "GET", path: "/api/jobs/active"})
	checkOK(t, resp, body)
	var got api.JobsResponse
	decode(t, body, &got)
	if len(got.Jobs) != 1 || got.Jobs[0].JobID != a.JobID || got.Next != "" {
		t.Errorf("active jobs %s, want only %s", body, a.JobID)
	}
}

func TestCancelJob(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, contentType, body string
	}{
		{"no body", "", ""},
		{"empty object", "application/json", "{}"},
		{"reason", "application/json; charset=utf-8", `{"reason":"wrong ballots imported"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := f.createJob(opNoop, 3, 1)
			resp, body := f.do(request{method: "POST", path: "/api/jobs/" + job.JobID.String() + "/cancel",
				contentType: tc.contentType, body: strings.NewReader(tc.body)})
			checkOK(t, resp, body)
			var got api.JobActionResponse
			decode(t, body, &got)
			if !got.Success || got.Job.JobID != job.JobID || got.Job.Status != jobs.StatusCancelled {
				t.Errorf("cancel answered %s", body)
			}
			// The engine learnt who cancelled: the token's identity.
			if got.Job.ErrorMessage == nil || !strings.Contains(*got.Job.ErrorMessage, "admin") {
				t.Errorf("errorMessage %v does not name the caller", got.Job.ErrorMessage)
			}
			st, err := f.engine.Status(context.Background(), job.JobID)
			if err != nil || st.Status != jobs.StatusCancelled {
				t.Errorf("engine status %s, %v", st.Status, err)
			}
		})
	}
}

func TestRetryJob(t *testing.T) {
	f := newFixture(t)
	stop := f.runWorkers()
	job := f.createJob(opFail, 3, 1)
	failed := f.waitForJob(job.JobID, func(jobProgress) {})
	if failed.Status != "FAILED" || failed.FailedChunks != 3 || failed.ErrorMessage == nil ||
		!strings.Contains(*failed.ErrorMessage, "chunk refuses to work") {
		t.Fatalf("failing job ended as %+v", failed)
	}
	// With no workers running, the answer shows the retried job as it was
	// re-queued, before any chunk runs again.
	stop()
	f.failing.Store(false)
	resp, body := f.do(request{method: "POST", path: "/api/jobs/" + job.JobID.String() + "/retry"})
	checkOK(t, resp, body)
	var got api.JobActionResponse
	decode(t, body, &got)
	if !got.Success || got.Job.JobID != job.JobID || got.Job.Status != jobs.StatusInProgress ||
		got.Job.FailedChunks != 0 || got.Job.ErrorMessage != nil {
		t.Errorf("retry answered %s", body)
	}
	f.runWorkers()
	if done := f.waitForJob(job.JobID, func(jobProgress) {}); done.Status != "COMPLETED" || done.ProcessedChunks != 3 {
		t.Errorf("retried job ended as %+v", done)
	}
}

func TestRequestLog(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	h, err := api.New(api.Config{Jobs: f.engine, AdminToken: testToken, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	job := f.createJob(opNoop, 1, 1)
	req := httptest.NewRequest("POST", "/api/jobs/"+job.JobID.String()+"/cancel", strings.NewReader(`{"reason":"body-text"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req) // logs before it returns
	if rec.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	lines := map[string]map[string]any{} // by message
	for _, raw := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		var line map[string]any
		if err := json.Unmarshal(raw, &line); err != nil {
			t.Fatalf("log line %s: %v", raw, err)
		}
		lines[line["msg"].(string)] = line
	}
	reqLine := lines["http request"]
	if reqLine == nil || reqLine["method"] != "POST" || reqLine["route"] != "/api/jobs/{jobId}/cancel" ||
		reqLine["status"] != float64(200) || reqLine["bytes"] != float64(rec.Body.Len()) || !(reqLine["duration"].(float64) > 0) {
		t.Errorf("request log line %v in:\n%s", reqLine, logs.String())
	}
	for _, v := range reqLine {
		if s, ok := v.(string); ok && strings.Contains(s, "body-text") {
			t.Errorf("the request log line holds the body: %v", reqLine)
		}
	}
	// The audit line names the caller and the reason given.
	if audit := lines["job action"]; audit == nil || audit["by"] != "admin" || audit["reason"] != "body-text" || audit["action"] != "cancel" {
		t.Errorf("audit line %v", audit)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Errorf("the log holds the token:\n%s", logs.String())
	}
}
