package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tallyq/tallyq/internal/logline"
	"github.com/tallyq/tallyq/internal/pgserver"
	"github.com/tallyq/tallyq/internal/testdb"
)

// runMainEnv makes the test binary run tallyq's main instead of the tests,
// so that tests can start tallyq as a real subprocess.
const runMainEnv = "TALLYQ_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// runIn runs tallyq in this process with the given environment and returns
// its exit status and output.
func runIn(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	e, stdout, stderr := testEnv(vars)
	code := run(context.Background(), e, args)
	return code, stdout.String(), stderr.String()
}

func TestMigrateAndRefuseOutdatedSchema(t *testing.T) {
	vars := map[string]string{"TALLYQ_DATABASE_URL": testdb.URL(t), "TALLYQ_ADMIN_TOKEN": testToken}

	code, out, errOut := runIn(t, vars, "migrate", "version")
	if code != 0 || !strings.Contains(out, "current: yes") || !strings.Contains(out, "River schema:") {
		t.Fatalf("migrate version on a migrated database: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = runIn(t, vars, "migrate", "down", "--yes"); code != 0 {
		t.Fatalf("migrate down: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runIn(t, vars, "migrate", "version")
	if code != 0 || !strings.Contains(out, "tallyq schema: 0") || !strings.Contains(out, "current: no") ||
		!strings.Contains(out, "tallyq migrate up") {
		t.Errorf("migrate version on an empty database: exit %d\n%s", code, out)
	}
	for _, cmd := range []string{"serve", "worker"} {
		code, _, errOut = runIn(t, vars, cmd)
		if code != 1 || !strings.Contains(errOut, "tallyq migrate up") {
			t.Errorf("%s on an empty database: exit %d, stderr %q; want 1 and the command to run", cmd, code, errOut)
		}
	}
	if code, out, errOut = runIn(t, vars, "migrate", "up"); code != 0 || !strings.Contains(out, "current: yes") {
		t.Fatalf("migrate up: exit %d\n%s%s", code, out, errOut)
	}
}

// A password with an unescaped '/' makes the URL's host out of its start:
// refused before connecting, without showing it.
func TestDatabaseURLWithTheAtAfterTheHost(t *testing.T) {
	code, _, errOut := runIn(t, map[string]string{"TALLYQ_DATABASE_URL": "postgres://:s3cret:/x@db/tallyq"}, "migrate", "version")
	if code != 2 || !strings.Contains(errOut, "percent-encode") || strings.Contains(errOut, "s3cret") {
		t.Errorf("exit %d, stderr %q: want 2, what to percent-encode and no password", code, errOut)
	}
}

func TestUnreachableDatabase(t *testing.T) {
	// Port 1 on loopback refuses connections.
	code, _, errOut := runIn(t, map[string]string{"TALLYQ_DATABASE_URL": "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=5"}, "migrate", "version")
	if code != 1 || !strings.Contains(errOut, "cannot reach the database") || strings.Contains(errOut, "s3cret") {
		t.Errorf("exit %d, stderr %q: want 1, the reason and no password", code, errOut)
	}
}

// process is tallyq running as a subprocess, its JSON log lines on a channel.
type process struct {
	cmd  *exec.Cmd
	logs chan map[string]any
	done chan struct{}
}

func startProcess(t *testing.T, vars map[string]string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{runMainEnv + "=1", "TALLYQ_LOG_FORMAT=json"}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: make(chan map[string]any, 1000), done: make(chan struct{})}
	go p.readLogs(t, stderr)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		_ = cmd.Wait()
	})
	return p
}

func (p *process) readLogs(t *testing.T, r io.Reader) {
	defer close(p.done)
	defer close(p.logs)
	logline.Scan(r, func(line map[string]any, _ string) { p.logs <- line })
}

// waitLog returns the first log line with message msg, failing the test if
// the process ends or a minute passes first. Every line read is kept in seen.
func (p *process) waitLog(t *testing.T, msg string, seen *[]map[string]any) map[string]any {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-p.logs:
			if !ok {
				t.Fatalf("process ended before logging %q; it logged %v", msg, *seen)
			}
			*seen = append(*seen, line)
			if line["msg"] == msg {
				return line
			}
		case <-timeout:
			t.Fatalf("no %q log line within a minute; got %v", msg, *seen)
		}
	}
}

// stop sends SIGTERM and returns the exit status.
func (p *process) stop(t *testing.T, seen *[]map[string]any) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range p.logs {
		*seen = append(*seen, line)
	}
	<-p.done
	err := p.cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func TestServeAnswersAndStopsOnSIGTERM(t *testing.T) {
	dbURL := testdb.URL(t)
	p := startProcess(t, map[string]string{
		"TALLYQ_DATABASE_URL": dbURL,
		"TALLYQ_ADMIN_TOKEN":  testToken,
		"TALLYQ_HTTP_ADDR":    "127.0.0.1:0",
		"TALLYQ_WORKERS":      "1",
	}, "serve")
	var seen []map[string]any
	serving := p.waitLog(t, "serving", &seen)
	base := "http://" + serving["addr"].(string)
	p.waitLog(t, "workers started", &seen)

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/api/jobs/active": 401} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	req, _ := http.NewRequest("GET", base+"/api/jobs/active", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"jobs":[]}` {
		t.Errorf("GET /api/jobs/active with the token: %d %s", resp.StatusCode, body)
	}

	if code := p.stop(t, &seen); code != 0 {
		t.Errorf("serve exited %d after SIGTERM; logs %v", code, seen)
	}
	var stopped bool
	for _, line := range seen {
		stopped = stopped || line["msg"] == "stopped"
		raw, _ := json.Marshal(line)
		if strings.Contains(string(raw), testToken) {
			t.Errorf("a log line holds the admin token: %s", raw)
		}
	}
	if !stopped {
		t.Errorf("no \"stopped\" log line; logs %v", seen)
	}
}

func TestWorkerStopsOnSIGTERM(t *testing.T) {
	p := startProcess(t, map[string]string{
		"TALLYQ_DATABASE_URL":  testdb.URL(t),
		"TALLYQ_CONCURRENCY":   "2",
		"TALLYQ_MEMORY_BUDGET": "128MiB",
	}, "worker")
	var seen []map[string]any
	starting := p.waitLog(t, "starting worker", &seen)
	if starting["concurrency"] != float64(2) || starting["memoryBudget"] != "128MiB" {
		t.Errorf("worker started with %v", starting)
	}
	// The engine's own line: the broker consumes now, so the stop below
	// drains running workers rather than an unfinished start.
	p.waitLog(t, "workers started", &seen)
	if code := p.stop(t, &seen); code != 0 {
		t.Errorf("worker exited %d after SIGTERM; logs %v", code, seen)
	}
}

// A worker started before its database waits for it, saying so, and starts
// once it answers: an orchestrator may start both at once, or restart the
// database under running workers.
func TestWorkerWaitsForTheDatabaseAtStart(t *testing.T) {
	srv := testdb.PrivateServer(t, false)
	db := testdb.Open(t, testdb.OnServer(srv.URL()))
	ctx := context.Background()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, map[string]string{
		"TALLYQ_DATABASE_URL": db.URL,
		"TALLYQ_CONNECT_WAIT": "5m",
		"TALLYQ_CONCURRENCY":  "1",
	}, "worker")
	waiting := startsOnceUp(t, p, "waiting for the database", srv)
	if waiting["error"] == "" || waiting["retryIn"] == nil {
		t.Errorf("the waiting line says neither why nor for how long: %v", waiting)
	}
}

// startsOnceUp checks that p, a worker started while server was down, logs
// msg while it waits, starts its workers once server is up again and stops
// cleanly. It returns the waiting line.
func startsOnceUp(t *testing.T, p *process, msg string, server *pgserver.Server) map[string]any {
	t.Helper()
	var seen []map[string]any
	waiting := p.waitLog(t, msg, &seen)
	if err := server.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "workers started", &seen)
	if code := p.stop(t, &seen); code != 0 {
		t.Errorf("worker exited %d after SIGTERM; logs %v", code, seen)
	}
	return waiting
}

// With no time to wait, or once it is over, a worker gives up on a database
// that does not answer, saying how long it tried.
func TestWorkerGivesUpOnTheDatabase(t *testing.T) {
	url := "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=5"
	for wait, want := range map[string]string{"0s": "cannot reach the database", "1s": "gave up after"} {
		code, _, errOut := runIn(t, map[string]string{"TALLYQ_DATABASE_URL": url, "TALLYQ_CONNECT_WAIT": wait}, "worker")
		if code != 1 || !strings.Contains(errOut, want) || strings.Contains(errOut, "s3cret") {
			t.Errorf("connect wait %s: exit %d, stderr %q: want 1, %q and no password", wait, code, errOut, want)
		}
	}
}
