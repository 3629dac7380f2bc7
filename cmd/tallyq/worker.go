package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/tallyq/tallyq/internal/metrics"
)

func init() {
	register(&command{
		name:    "worker",
		summary: "run chunk workers without the HTTP API",
		run:     runWorker,
	})
}

func runWorker(ctx context.Context, e *env, args []string) error {
	var opts workerOptions
	if err := parseOptions(e, args, "worker", "[flags]",
		"Process chunks with --concurrency slots, one chunk per slot, taking no new chunk while\nthe live heap is over --memory-budget; --gc-percent is the GC's target. Run as many\nworker processes as you like against one database. Stops on SIGTERM or SIGINT: no new\nchunks are fetched, in-flight chunks get --shutdown-grace to finish (then they are\nreleased), and the process exits 0. With --metrics-addr it serves Prometheus metrics at\nGET /metrics on that address.",
		&opts); err != nil {
		return err
	}
	logger := opts.logger(e)
	svc, err := startService(ctx, logger, opts.engineOptions, opts.concurrency)
	if err != nil {
		return err
	}
	var serveMetrics func(ctx context.Context) error
	if opts.metricsAddr != "" {
		ln, err := net.Listen("tcp", opts.metricsAddr)
		if err != nil {
			svc.pool.Close()
			return fmt.Errorf("listen on %s (--metrics-addr): %w", opts.metricsAddr, err)
		}
		logger.Info("serving metrics", "addr", ln.Addr().String())
		serveMetrics = func(ctx context.Context) error {
			return serveHTTP(ctx, ln, metricsHandler(svc.metrics), opts.shutdownGrace)
		}
	}
	setGCPercent(opts.gcPercent, logger)
	logger.Info("starting worker", "concurrency", opts.concurrency, "memoryBudget", opts.memoryBudget.String(),
		"gcPercent", opts.gcPercent, "broker", opts.broker.value)
	return svc.run(ctx, opts.concurrency, serveMetrics)
}

// metricsHandler serves a worker's metrics at GET /metrics and answers GET
// /healthz while the process runs.
func metricsHandler(reg *metrics.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	return mux
}
