package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/jobs"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// idleOp is an operation serve does not know; its job stays QUEUED when
// serve runs no workers.
type idleOp struct{}

func (idleOp) Type() string                                             { return "CMD_TEST_IDLE" }
func (idleOp) ChunkTimeout() time.Duration                              { return time.Minute }
func (idleOp) Process(context.Context, jobs.Chunk) (jobs.Result, error) { return jobs.NoResult, nil }
func (idleOp) Complete(context.Context, pgx.Tx, jobs.JobStatus) error   { return nil }

// TestServeBrowserServices: serve signs a browser in, shows it River UI
// and a job's event stream by the cookie, and still stops at once on
// SIGTERM while the stream is open.
func TestServeBrowserServices(t *testing.T) {
	pool := testdb.New(t)
	logger := slog.New(slog.DiscardHandler)
	broker, err := riverbroker.New(pool, riverbroker.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := jobs.NewEngine(pool, broker, jobs.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Register(idleOp{}); err != nil {
		t.Fatal(err)
	}
	job, err := engine.CreateJob(context.Background(), jobs.CreateParams{OperationType: idleOp{}.Type(), TotalChunks: 2, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, map[string]string{
		"TALLYQ_DATABASE_URL":   testdb.URL(t),
		"TALLYQ_ADMIN_TOKEN":    testToken,
		"TALLYQ_HTTP_ADDR":      "127.0.0.1:0",
		"TALLYQ_WORKERS":        "0",
		"TALLYQ_SHUTDOWN_GRACE": "20s",
	}, "serve")
	var seen []map[string]any
	base := "http://" + p.waitLog(t, "serving", &seen)["addr"].(string)

	resp, err := http.Post(base+"/api/session", "application/json", strings.NewReader(`{"token":"`+testToken+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusOK || cookie == nil {
		t.Fatalf("sign-in: %d, cookies %q", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	get := func(ctx context.Context, path string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	ui := get(context.Background(), "/riverui/")
	page, _ := io.ReadAll(ui.Body)
	ui.Body.Close()
	if ui.StatusCode != http.StatusOK || !strings.Contains(string(page), "<html") {
		t.Fatalf("GET /riverui/ with the cookie: %d %.200s", ui.StatusCode, page)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream := get(ctx, "/api/jobs/"+job.JobID.String()+"/events")
	defer stream.Body.Close()
	lines := bufio.NewScanner(stream.Body)
	var first jobs.JobStatus
	for lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			if err := json.Unmarshal([]byte(data), &first); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if first.JobID != job.JobID || first.Status != jobs.StatusQueued {
		t.Fatalf("first event %+v, want the QUEUED job", first)
	}

	// The open stream must not hold the shutdown: were it to last the
	// grace, the shutdown would fail and serve exit 1.
	if code := p.stop(t, &seen); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM with a stream open; logs %v", code, seen)
	}
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "data: ") {
			t.Fatalf("an event after the stop: %q", lines.Text())
		}
	}
}

// TestBrowserServicesWithoutRiver: River UI is only for the River broker.
func TestBrowserServicesWithoutRiver(t *testing.T) {
	pool := testdb.New(t)
	opts := engineOptions{broker: choiceValue{value: "rabbitmq"}}
	b, err := newBrowserServices(context.Background(), &service{pool: pool, opts: opts}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if b.riverUI != nil || b.sessions == nil || b.hub == nil {
		t.Fatalf("with RabbitMQ: %+v; want sessions and a hub, no River UI", b)
	}
}
