package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/metrics"
	"github.com/tallyq/tallyq/web"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run the HTTP API with in-process workers",
		run:     runServe,
	})
}

func runServe(ctx context.Context, e *env, args []string) error {
	var opts serveOptions
	if err := parseOptions(e, args, "serve", "[flags]",
		"Serve the HTTP API (job status, listing, cancel, retry; /healthz, /readyz, /metrics) and run\n--workers chunk slots in the same process. Stops on SIGTERM or SIGINT: the API stops\naccepting, in-flight chunks get --shutdown-grace to finish, and the process exits 0.",
		&opts); err != nil {
		return err
	}
	logger := opts.logger(e)
	reserveServingProc(opts.workers, e.lookupEnv, logger)
	svc, err := startService(ctx, logger, opts.engineOptions, opts.workers)
	if err != nil {
		return err
	}
	if err := svc.metrics.WatchDatabase(svc.pool, metrics.DatabaseOptions{Outbox: opts.broker.value == "rabbitmq"}); err != nil {
		svc.pool.Close()
		return err
	}
	browser, err := newBrowserServices(ctx, svc, logger)
	if err != nil {
		svc.pool.Close()
		return err
	}
	tokens, err := api.NewTokenStore(svc.pool)
	if err != nil {
		svc.pool.Close()
		return err
	}
	handler, err := api.New(api.Config{
		Jobs:           svc.engine,
		Elections:      svc.elections,
		AdminToken:     opts.adminToken,
		Tokens:         tokens,
		Logger:         logger.With("component", "http"),
		Metrics:        svc.metrics.Handler(),
		ObserveRequest: svc.metrics.ObserveRequest,
		Web:            web.Handler(),
		Sessions:       browser.sessions,
		StatusHub:      browser.hub,
		RiverUI:        browser.riverUI,
	})
	if err != nil {
		svc.pool.Close()
		return err
	}
	ln, err := net.Listen("tcp", opts.httpAddr)
	if err != nil {
		svc.pool.Close()
		return fmt.Errorf("listen on %s (--http-addr): %w", opts.httpAddr, err)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "workers", opts.workers, "broker", opts.broker.value)
	return svc.run(ctx, opts.workers, func(ctx context.Context) error {
		return browser.run(ctx, func(ctx context.Context) error { return serveHTTP(ctx, ln, handler, opts.shutdownGrace) })
	})
}

// servingProcs is how many Go scheduler slots (P) reserveServingProc keeps
// free of chunk work.
const servingProcs = 2

// reserveServingProc keeps servingProcs Go scheduler slots (P) free of chunk
// work when the server runs chunk slots itself: CPU-bound chunks on every P
// make each HTTP goroutine wait for the scheduler's 10 ms preemption at
// every hop of a request (a status poll's p99 rose from 2 to 50 ms with two
// slots on two cores; one more P brought it to 15 ms, a second, which the
// garbage collector's mark worker often held, to 8–11 ms). With a P to
// spare, the request runs at once and the kernel shares the cores between
// it and the chunks. An explicit GOMAXPROCS is left alone.
func reserveServingProc(slots int, lookupEnv func(string) (string, bool), logger *slog.Logger) {
	if _, set := lookupEnv("GOMAXPROCS"); set || slots <= 0 {
		return
	}
	if procs := runtime.GOMAXPROCS(0); procs < slots+servingProcs {
		runtime.GOMAXPROCS(slots + servingProcs)
		logger.Info("scheduler slots kept for serving", "workers", slots, "gomaxprocs", slots+servingProcs, "was", procs)
	}
}

// serveHTTP serves handler on ln until ctx is cancelled, then stops
// accepting and gives in-flight requests grace to finish.
func serveHTTP(ctx context.Context, ln net.Listener, handler http.Handler, grace time.Duration) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("HTTP server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("HTTP server shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("HTTP server: %w", err)
	}
	return nil
}
