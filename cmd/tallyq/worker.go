package main

import (
	"context"
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
		"Process chunks with --concurrency slots, one chunk per slot, taking no new chunk while\nthe live heap is over --memory-budget. Run as many worker processes as you like against\none database. Stops on SIGTERM or SIGINT: no new chunks are fetched, in-flight chunks get\n--shutdown-grace to finish (then they are released), and the process exits 0.",
		&opts); err != nil {
		return err
	}
	logger := opts.logger(e)
	svc, err := startService(ctx, logger, opts.engineOptions, opts.concurrency)
	if err != nil {
		return err
	}
	logger.Info("starting worker", "concurrency", opts.concurrency, "memoryBudget", opts.memoryBudget.String(), "broker", opts.broker.value)
	return svc.run(ctx, opts.concurrency, nil)
}
