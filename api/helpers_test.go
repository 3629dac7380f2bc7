package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/testdb"
	"github.com/tallyq/tallyq/jobs"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// The real engine implements the API's view of it.
var _ api.JobService = (*jobs.Engine)(nil)

const (
	testToken = "test-admin-token-0123456789"
	// opNoop's chunks succeed at once; opFail's fail while the fixture's
	// failing flag is set.
	opNoop = "API_TEST_NOOP"
	opFail = "API_TEST_FAIL"
)

// testOp is a trivial operation: its chunks do nothing, or fail while
// fail is set.
type testOp struct {
	name string
	fail *atomic.Bool
}

func (o testOp) Type() string                { return o.name }
func (o testOp) ChunkTimeout() time.Duration { return time.Minute }

func (o testOp) Process(_ context.Context, c jobs.Chunk) (jobs.Result, error) {
	if o.fail != nil && o.fail.Load() {
		return nil, errors.New("chunk refuses to work")
	}
	return jobs.NoResult, nil
}

func (o testOp) Complete(context.Context, pgx.Tx, jobs.JobStatus) error { return nil }

// fixture is an API server on a real engine over the test's own database.
type fixture struct {
	t       *testing.T
	failing *atomic.Bool // opFail's chunks fail while it is set
	pool    *pgxpool.Pool
	engine  *jobs.Engine
	srv     *httptest.Server
	// client sends the test's requests; nil means http.DefaultClient.
	client *http.Client
	// stopWorkers stops the workers runWorkers started.
	stopWorkers func()
}

// httpClient is the client the fixture's requests go through.
func (f *fixture) httpClient() *http.Client {
	if f.client != nil {
		return f.client
	}
	return http.DefaultClient
}

// newFixture starts the API on the real engine. The engine runs no
// workers until runWorkers is called, so jobs stay QUEUED.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := testdb.New(t)
	logger := slog.New(slog.DiscardHandler)
	broker, err := riverbroker.New(pool, riverbroker.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := jobs.NewEngine(pool, broker, jobs.Config{Logger: logger, BackoffBase: time.Millisecond, SweepInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	failing := new(atomic.Bool)
	failing.Store(true)
	for _, op := range []testOp{{name: opNoop}, {name: opFail, fail: failing}} {
		if err := engine.Register(op); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{t: t, failing: failing, pool: pool, engine: engine}
	f.srv = httptest.NewServer(f.handler(engine))
	t.Cleanup(f.srv.Close)
	return f
}

// handler returns the API on svc with the test token.
func (f *fixture) handler(svc api.JobService) http.Handler {
	f.t.Helper()
	h, err := api.New(api.Config{Jobs: svc, AdminToken: testToken, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

// runWorkers runs the engine's workers and maintenance until the returned
// stop is called or the test ends.
func (f *fixture) runWorkers() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := f.engine.RunWorkers(ctx, jobs.WorkerConfig{Concurrency: 2, ShutdownGrace: 5 * time.Second}); err != nil {
			f.t.Errorf("RunWorkers: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := f.engine.RunMaintenance(ctx); err != nil && !errors.Is(err, context.Canceled) {
			f.t.Errorf("RunMaintenance: %v", err)
		}
	}()
	stop = sync.OnceFunc(func() { cancel(); wg.Wait() })
	f.t.Cleanup(stop)
	f.stopWorkers = stop
	return stop
}

// createJob creates a job through the engine.
func (f *fixture) createJob(op string, chunks int, electionID int64) jobs.JobStatus {
	f.t.Helper()
	st, err := f.engine.CreateJob(context.Background(), jobs.CreateParams{
		OperationType: op, TotalChunks: chunks, ElectionID: &electionID, CreatedBy: "test", MaxAttempts: 1,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// waitForJob polls the job's status through the API, as a frontend does,
// until the job is over.
func (f *fixture) waitForJob(id uuid.UUID, onProgress func(jobProgress)) jobProgress {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := waitForJob(ctx, f.httpClient(), f.srv.URL, testToken, id.String(), 10*time.Millisecond, onProgress)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// request is one HTTP request of a test.
type request struct {
	method string
	path   string
	// auth is the Authorization header; "" sends the test token, "-" none.
	auth        string
	contentType string
	body        io.Reader
}

// do sends req to the fixture's server and returns the response and its body.
func (f *fixture) do(req request) (*http.Response, []byte) {
	f.t.Helper()
	return doWith(f.t, f.httpClient(), f.srv.URL, req)
}

func doOn(t *testing.T, baseURL string, req request) (*http.Response, []byte) {
	t.Helper()
	return doWith(t, http.DefaultClient, baseURL, req)
}

// doWith sends req to baseURL through client and returns the response and its body.
func doWith(t *testing.T, client *http.Client, baseURL string, req request) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := sendWith(client, baseURL, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// sendWith is doWith returning its error, so that it may run on any goroutine.
func sendWith(client *http.Client, baseURL string, req request) (*http.Response, []byte, error) {
	r, err := http.NewRequest(req.method, baseURL+req.path, req.body)
	if err != nil {
		return nil, nil, err
	}
	switch req.auth {
	case "":
		r.Header.Set("Authorization", "Bearer "+testToken)
	case "-":
	default:
		r.Header.Set("Authorization", req.auth)
	}
	if req.contentType != "" {
		r.Header.Set("Content-Type", req.contentType)
	}
	resp, err := client.Do(r)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

// randomID is a job id that no job has.
func randomID() string { return uuid.NewString() }

// adminAndViewer authenticates the test token as the admin and
// viewerToken as a caller with the role "viewer", whom admin routes refuse.
func adminAndViewer(t *testing.T, viewerToken string) api.Authenticator {
	t.Helper()
	admin, err := api.NewTokenAuthenticator(testToken, api.Identity{Subject: "admin", Role: api.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := api.NewTokenAuthenticator(viewerToken, api.Identity{Subject: "viewer", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	return api.Chain{admin, viewer}
}
