package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/jobs"
)

// browserServices are what serve adds for browsers: sessions, the status
// hub behind the job event streams, and River UI with the River broker.
type browserServices struct {
	sessions *api.SessionStore
	hub      *jobs.StatusHub
	riverUI  http.Handler // nil unless the broker is River
}

// newBrowserServices builds the browser services of svc. River UI's
// background work runs until ctx ends.
func newBrowserServices(ctx context.Context, svc *service, logger *slog.Logger) (*browserServices, error) {
	sessions, err := api.NewSessionStore(svc.pool, api.SessionConfig{})
	if err != nil {
		return nil, err
	}
	b := &browserServices{
		sessions: sessions,
		hub:      jobs.NewStatusHub(svc.pool, jobs.StatusHubConfig{Logger: logger.With("component", "status-hub")}),
	}
	if svc.opts.broker.value == "river" {
		if b.riverUI, err = startRiverUI(ctx, svc.pool, logger.With("component", "riverui")); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// run runs the status hub beside serve, which serves HTTP until ctx ends;
// the hub stops with ctx, ending open event streams so that the HTTP
// server's shutdown need not wait for them.
func (b *browserServices) run(ctx context.Context, serve func(ctx context.Context) error) error {
	hubCtx, stopHub := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { b.hub.Run(hubCtx) })
	defer wg.Wait()
	defer stopHub()
	return serve(ctx)
}

// startRiverUI returns River UI's handler, for mounting under /riverui/,
// over an insert-only River client on pool (River UI reads and changes
// River's tables; it runs no jobs), with its background services started
// until ctx ends.
func startRiverUI(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (http.Handler, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("create River UI's River client: %w", err)
	}
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    logger,
		Prefix:    "/riverui",
	})
	if err != nil {
		return nil, fmt.Errorf("create River UI: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("start River UI: %w", err)
	}
	return h, nil
}
