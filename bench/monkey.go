package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// monkey runs a chaos run's worker processes: it SIGKILLs one every
// KillMin–KillMax and starts another in its place, and starts again any
// that exits by itself.
type monkey struct {
	cfg      ChaosConfig
	progress func(string)
	args     []string
	env      []string
	rng      *rand.Rand
	client   *http.Client

	mu     sync.Mutex
	faults ChaosFaults
	err    error // why the loop ended early

	cancel context.CancelFunc
	done   chan struct{}
}

// restartDelay spaces the restarts of a worker that keeps exiting by
// itself (a server it needs is down).
const restartDelay = 500 * time.Millisecond

// startMonkey starts cfg.Workers processes of `tallyq args...` and the
// loop that kills them.
func startMonkey(ctx context.Context, cfg ChaosConfig, progress func(string), args []string, env ...string) *monkey {
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &monkey{cfg: cfg, progress: progress, args: args, env: env, rng: rand.New(rand.NewPCG(seed, seed)),
		client: &http.Client{Timeout: time.Second}, cancel: cancel, done: make(chan struct{})}
	go m.loop(ctx)
	return m
}

// count updates the fault counts.
func (m *monkey) count(f func(*ChaosFaults)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.faults)
}

// stop ends the loop, stops the workers with SIGTERM and returns the
// faults injected, with the error that ended the loop early if one did.
func (m *monkey) stop() (ChaosFaults, error) {
	m.cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.faults, m.err
}

func (m *monkey) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
}

func (m *monkey) loop(ctx context.Context) {
	defer close(m.done)
	workers := make([]*chaosWorker, m.cfg.Workers)
	defer func() { stopWorkers(workers) }()
	for i := range workers {
		if workers[i] = m.start(); workers[i] == nil {
			return
		}
	}
	next := time.Now().Add(m.pause())
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i, w := range workers {
			if !w.hasExited() {
				continue
			}
			if w.exitedAt.IsZero() {
				w.exitedAt = time.Now()
				m.count(func(f *ChaosFaults) { f.Exits++ })
			}
			if time.Since(w.exitedAt) >= restartDelay {
				if workers[i] = m.start(); workers[i] == nil {
					return
				}
			}
		}
		if time.Now().After(next) {
			if !m.killOne(workers) {
				return
			}
			next = time.Now().Add(m.pause())
		}
	}
}

// pause is a random time from KillMin to KillMax.
func (m *monkey) pause() time.Duration {
	return m.cfg.KillMin + time.Duration(m.rng.Int64N(int64(m.cfg.KillMax-m.cfg.KillMin)+1))
}

// start starts a worker; nil means it could not (the loop then ends).
func (m *monkey) start() *chaosWorker {
	w := &chaosWorker{watch: &metricsAddrWatch{out: m.cfg.Output}}
	p := m.cfg.Processes
	p.Output = w.watch
	proc, err := p.start(m.args, m.env...)
	if err != nil {
		m.fail(err)
		return nil
	}
	w.proc = proc
	m.count(func(f *ChaosFaults) { f.Starts++ })
	return w
}

// killOne SIGKILLs a random running worker, after reading whether it has
// a chunk in flight, and starts another in its place; false means the loop
// must end.
func (m *monkey) killOne(workers []*chaosWorker) bool {
	var running []int
	for i, w := range workers {
		if !w.hasExited() {
			running = append(running, i)
		}
	}
	if len(running) == 0 {
		return true // all are restarting
	}
	i := running[m.rng.IntN(len(running))]
	inChunk := m.inFlight(workers[i]) > 0
	if err := workers[i].proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		m.fail(fmt.Errorf("chaos run: SIGKILL a worker: %w", err))
		return false
	}
	<-workers[i].proc.exited
	m.count(func(f *ChaosFaults) {
		f.Kills++
		if inChunk {
			f.KillsInChunk++
		}
	})
	workers[i] = m.start()
	return workers[i] != nil
}

// inFlight scrapes a worker's tallyq_chunks_in_flight, summed over the
// operations; 0 when it serves no metrics yet (it is starting).
func (m *monkey) inFlight(w *chaosWorker) float64 {
	addr := w.watch.addr()
	if addr == "" {
		return 0
	}
	resp, err := m.client.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return sumMetric(resp.Body, "tallyq_chunks_in_flight")
}

// sumMetric sums the samples of a metric in Prometheus' text format.
func sumMetric(r io.Reader, name string) float64 {
	var sum float64
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// stopWorkers stops the running workers with SIGTERM, all at once.
func stopWorkers(workers []*chaosWorker) {
	var wg sync.WaitGroup
	for _, w := range workers {
		if w != nil {
			wg.Go(func() { _ = w.proc.stop() })
		}
	}
	wg.Wait()
}

// chaosWorker is one worker process.
type chaosWorker struct {
	proc     *tallyqProcess
	watch    *metricsAddrWatch
	exitedAt time.Time // when the loop saw it exit by itself
}

func (w *chaosWorker) hasExited() bool {
	select {
	case <-w.proc.exited:
		return true
	default:
		return false
	}
}

// metricsAddrWatch passes a worker's output on and picks from its JSON
// log the address it serves metrics on (it listens on port 0).
type metricsAddrWatch struct {
	out io.Writer // nil: discarded

	mu      sync.Mutex
	partial []byte
	served  string
}

func (w *metricsAddrWatch) Write(p []byte) (int, error) {
	if w.out != nil {
		_, _ = w.out.Write(p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.served != "" {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(w.partial[:i], &line) == nil && line.Msg == "serving metrics" {
			w.served, w.partial = line.Addr, nil
			return len(p), nil
		}
		w.partial = w.partial[i+1:]
	}
}

func (w *metricsAddrWatch) addr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.served
}
