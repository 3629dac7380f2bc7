package bench

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
)

// floorBroker is the queue scenario's "engine alone" anchor, never a broker
// to run: messages go through a Go channel, with no database row and no
// network, so what a no-op job costs through it is the engine's own claim,
// commit and exact progress. It delivers a message as soon as EnqueueTx
// returns, before its transaction commits, and loses it on a crash.
type floorBroker struct {
	msgs chan queue.Message
	stop context.CancelFunc
	wg   sync.WaitGroup
}

var _ queue.Broker = (*floorBroker)(nil)

func newFloorBroker(capacity int) *floorBroker {
	return &floorBroker{msgs: make(chan queue.Message, capacity)}
}

func (b *floorBroker) Name() string { return "floor" }

func (b *floorBroker) EnqueueTx(_ context.Context, _ pgx.Tx, msgs []queue.Message) error {
	for _, m := range msgs {
		select {
		case b.msgs <- m:
		default:
			return errors.New("floor broker: more messages than its capacity")
		}
	}
	return nil
}

func (b *floorBroker) Start(ctx context.Context, h queue.Handler, concurrency int) error {
	ctx, b.stop = context.WithCancel(context.WithoutCancel(ctx))
	b.wg.Add(concurrency)
	for range concurrency {
		go func() {
			defer b.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-b.msgs:
					if h.HandleChunk(ctx, queue.NewDelivery(m, 1, nil, nil)) != nil && ctx.Err() == nil {
						b.msgs <- m // the engine could not record it: again
					}
				}
			}
		}()
	}
	return nil
}

func (b *floorBroker) Stop(context.Context) error {
	if b.stop == nil {
		return queue.ErrNotStarted
	}
	b.stop()
	b.wg.Wait()
	return nil
}

func (b *floorBroker) Ready(context.Context) error { return nil }

// floorRate runs one no-op job through the engine with floorBroker and
// returns chunks per second, as brokerRate does.
func floorRate(ctx context.Context, pool *pgxpool.Pool, chunks, workers int, logger *slog.Logger) (float64, error) {
	e, err := jobs.NewEngine(pool, newFloorBroker(chunks), jobs.Config{Logger: logger})
	if err != nil {
		return 0, err
	}
	if err := e.Register(noopOp{}); err != nil {
		return 0, err
	}
	return timeJob(ctx, pool, e, chunks, workers)
}
