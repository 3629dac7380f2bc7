package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// APIConfig sizes the api scenario.
type APIConfig struct {
	Pool PoolConfig `json:"pool"`
	// Ballots is the election whose verified tally runs while the pollers
	// poll; ChunkSize its tally's.
	Ballots   int `json:"ballots"`
	ChunkSize int `json:"chunkSize"`
	// Workers is the server's --workers.
	Workers int `json:"workers"`
	// Pollers poll GET /api/jobs/{id}/status every Interval each.
	Pollers  int           `json:"pollers"`
	Interval time.Duration `json:"interval"`
	// Idle is how long the anchor polls the completed job, nothing running.
	Idle time.Duration `json:"idle"`
	// Processes runs `tallyq serve`.
	Processes
	Logger   *slog.Logger     `json:"-"`
	Progress func(msg string) `json:"-"`
}

// Latency summarizes the status requests of one phase.
type Latency struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50Ms    float64 `json:"p50Ms"`
	P99Ms    float64 `json:"p99Ms"`
	MaxMs    float64 `json:"maxMs"`
	// FirstError says what the first failed request got.
	FirstError string `json:"firstError,omitempty"`
}

// APIResult is the outcome of the api scenario.
type APIResult struct {
	Config   APIConfig         `json:"config"`
	Postgres map[string]string `json:"postgres"`
	PoolInfo
	// Busy is while the server's own workers tally (JobSeconds long);
	// Separate while a separate worker process with as many slots tallies
	// and the server has none (`tallyq serve --workers 0`); Idle, the
	// anchor, with nothing running.
	Busy               Latency `json:"busy"`
	Separate           Latency `json:"separate"`
	Idle               Latency `json:"idle"`
	JobSeconds         float64 `json:"jobSeconds"`
	SeparateJobSeconds float64 `json:"separateJobSeconds"`
	// Ratio is Busy.P99Ms / Idle.P99Ms; SeparateRatio Separate's.
	Ratio         float64 `json:"ratio"`
	SeparateRatio float64 `json:"separateRatio"`
}

// RunAPI starts `tallyq serve` with cfg.Workers slots, starts a verified
// tally, and has cfg.Pollers clients poll the job's status until it
// completes; then, as the anchor, polls the completed job with nothing
// running for cfg.Idle; then tallies again with the slots in a separate
// `tallyq worker` process and a server without workers, polling as before.
func RunAPI(ctx context.Context, pool *pgxpool.Pool, cfg APIConfig) (APIResult, error) {
	res := APIResult{Config: cfg}
	if cfg.Ballots < 1 || cfg.ChunkSize < 1 || cfg.Workers < 1 || cfg.Pollers < 1 || cfg.Interval <= 0 || cfg.Idle <= 0 {
		return res, fmt.Errorf("api scenario: ballots, chunk size, workers, pollers, interval and idle time must be positive: %+v", cfg)
	}
	b, id, err := startWithElection(ctx, pool, cfg.Pool, cfg.Ballots, cfg.Logger, cfg.Progress)
	if err != nil {
		return res, err
	}
	res.Postgres, res.PoolInfo, res.Config.Pool = b.postgres, b.poolInfo(), b.ballots.Config
	if err := resetTally(ctx, pool, id, true, cfg.ChunkSize); err != nil {
		return res, err
	}
	srv, err := startServer(ctx, cfg, cfg.Workers)
	if err != nil {
		return res, err
	}
	err = b.inProcessPhases(ctx, srv, id, cfg, &res)
	if err = errors.Join(err, srv.proc.stop()); err != nil {
		return res, err
	}
	if err := b.separatePhase(ctx, id, cfg, &res); err != nil {
		return res, err
	}
	if res.Idle.P99Ms > 0 {
		res.Ratio = res.Busy.P99Ms / res.Idle.P99Ms
		res.SeparateRatio = res.Separate.P99Ms / res.Idle.P99Ms
	}
	return res, nil
}

// inProcessPhases polls while the server's own workers tally, then polls
// the completed job with nothing running (the anchor).
func (b *electionBench) inProcessPhases(ctx context.Context, srv *apiServer, id int64, cfg APIConfig, res *APIResult) error {
	var (
		job uuid.UUID
		err error
	)
	if res.Busy, res.JobSeconds, job, err = b.busyPhase(ctx, srv, id, cfg, "in-process workers"); err != nil {
		return err
	}
	ictx, cancel := context.WithTimeout(ctx, cfg.Idle)
	defer cancel()
	res.Idle = srv.poll(ictx, job, cfg)
	b.progress(fmt.Sprintf("idle: %d requests, p50 %.1f ms, p99 %.1f ms, %d errors", res.Idle.Requests, res.Idle.P50Ms, res.Idle.P99Ms, res.Idle.Errors))
	return ctx.Err()
}

// separatePhase polls a server without workers while a `tallyq worker`
// process with as many slots tallies the election again.
func (b *electionBench) separatePhase(ctx context.Context, id int64, cfg APIConfig, res *APIResult) error {
	if err := resetTally(ctx, b.pool, id, true, cfg.ChunkSize); err != nil {
		return err
	}
	srv, err := startServer(ctx, cfg, 0)
	if err != nil {
		return err
	}
	worker, err := cfg.start(workerArgs(cfg.Workers, "256MiB"))
	if err != nil {
		return errors.Join(err, srv.proc.stop())
	}
	res.Separate, res.SeparateJobSeconds, _, err = b.busyPhase(ctx, srv, id, cfg, "a separate worker process")
	return errors.Join(err, worker.stop(), srv.proc.stop())
}

// busyPhase starts the election's tally and polls its status until it
// completes.
func (b *electionBench) busyPhase(ctx context.Context, srv *apiServer, id int64, cfg APIConfig, workers string) (Latency, float64, uuid.UUID, error) {
	started, err := b.svc.StartTally(ctx, id, "bench")
	if err != nil {
		return Latency{}, 0, uuid.Nil, err
	}
	jobID := uuid.UUID(started.Job.JobID)
	pctx, stop := context.WithCancel(ctx)
	busy := make(chan Latency, 1)
	go func() { busy <- srv.poll(pctx, jobID, cfg) }()
	job, err := WaitTerminal(ctx, b.pool, b.engine, started.Job.JobID)
	stop()
	lat := <-busy
	if err == nil {
		err = checkTallied(ctx, b.pool, id, job, cfg.Ballots)
	}
	if err != nil {
		return lat, 0, jobID, err
	}
	secs := elapsed(job).Seconds()
	b.progress(fmt.Sprintf("while %s tallied (%.1f s): %d requests, p50 %.1f ms, p99 %.1f ms, %d errors",
		workers, secs, lat.Requests, lat.P50Ms, lat.P99Ms, lat.Errors))
	return lat, secs, jobID, nil
}

// apiServer is a running `tallyq serve`.
type apiServer struct {
	proc   *tallyqProcess
	base   string
	token  string
	client *http.Client
}

// serverStartTimeout bounds the wait for the server's /readyz.
const serverStartTimeout = time.Minute

// startServer starts `tallyq serve` with that many in-process workers.
func startServer(ctx context.Context, cfg APIConfig, workers int) (*apiServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &apiServer{base: "http://" + addr, token: hex.EncodeToString(tok),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Pollers, MaxIdleConns: cfg.Pollers}}}
	s.proc, err = cfg.start([]string{"serve", "--http-addr", addr, "--workers", strconv.Itoa(workers), "--log-level", "error", "--log-format", "text"},
		"TALLYQ_ADMIN_TOKEN="+s.token)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(serverStartTimeout)
	for {
		resp, err := s.client.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.proc.exited:
			return nil, fmt.Errorf("tallyq serve exited before it was ready: %w", s.proc.err)
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), s.proc.stop())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("tallyq serve on %s not ready within %s", addr, serverStartTimeout), s.proc.stop())
		}
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// poll runs cfg.Pollers pollers of the job's status, each every
// cfg.Interval from a random offset, until ctx ends.
func (s *apiServer) poll(ctx context.Context, job uuid.UUID, cfg APIConfig) Latency {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		lat       Latency
		wg        sync.WaitGroup
	)
	url := s.base + "/api/jobs/" + job.String() + "/status"
	for range cfg.Pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now().Add(mrand.N(cfg.Interval))
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				next = next.Add(cfg.Interval)
				d, err := s.status(ctx, url, job)
				if ctx.Err() != nil {
					return // a request cut short by the phase's end is not a sample
				}
				mu.Lock()
				lat.Requests++
				if err != nil {
					lat.Errors++
					if lat.FirstError == "" {
						lat.FirstError = err.Error()
					}
				} else {
					latencies = append(latencies, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(latencies) > 0 {
		slices.Sort(latencies)
		ms := func(q float64) float64 {
			return float64(latencies[min(len(latencies)-1, int(q*float64(len(latencies))))].Microseconds()) / 1000
		}
		lat.P50Ms, lat.P99Ms, lat.MaxMs = ms(0.5), ms(0.99), ms(1)
	}
	return lat
}

// status makes one status request and checks that it answered the job's
// status.
func (s *apiServer) status(ctx context.Context, url string, job uuid.UUID) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		JobID  uuid.UUID `json:"jobId"`
		Status string    `json:"status"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	d := time.Since(start)
	switch {
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("status %s", resp.Status)
	case err != nil:
		return 0, fmt.Errorf("decode the status: %w", err)
	case st.JobID != job || st.Status == "":
		return 0, fmt.Errorf("the status of job %s answered for job %s", job, st.JobID)
	}
	return d, nil
}
