package jobs

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// batcher groups requests from concurrent chunk workers into one database
// round: while one batch is in flight the next accumulates, so under load a
// single transaction (and a single WAL flush) serves many chunks, and with one
// worker it adds no waiting.
type batcher[In, Out any] struct {
	reqs chan batchReq[In, Out]
	run  func(ctx context.Context, in []In) []batchResult[Out]
	max  int
	wg   sync.WaitGroup
}

type batchReq[In, Out any] struct {
	in    In
	reply chan batchResult[Out]
}

type batchResult[Out any] struct {
	out Out
	err error
}

// newBatcher starts loops goroutines running run on batches of at most max
// requests, until ctx is done.
func newBatcher[In, Out any](ctx context.Context, loops, max int, run func(context.Context, []In) []batchResult[Out]) *batcher[In, Out] {
	b := &batcher[In, Out]{reqs: make(chan batchReq[In, Out]), run: run, max: max}
	base := rand.N(1 << 16)
	for i := range loops {
		b.wg.Add(1)
		go b.loop(context.WithValue(ctx, shardKey{}, base+i))
	}
	return b
}

// do submits in and waits for its result.
func (b *batcher[In, Out]) do(ctx context.Context, in In) (Out, error) {
	reply := make(chan batchResult[Out], 1)
	select {
	case b.reqs <- batchReq[In, Out]{in: in, reply: reply}:
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
	r := <-reply
	return r.out, r.err
}

func (b *batcher[In, Out]) loop(ctx context.Context) {
	defer b.wg.Done()
	for {
		var first batchReq[In, Out]
		select {
		case <-ctx.Done():
			return
		case first = <-b.reqs:
		}
		batch := b.collect(first)
		in := make([]In, len(batch))
		for i, r := range batch {
			in[i] = r.in
		}
		results := b.run(ctx, in)
		for i, r := range batch {
			r.reply <- results[i]
		}
	}
}

// linger is how long a loop waits for more requests after the first: a
// fraction of a commit's own cost, so that under load each transaction
// carries many chunks, while alone a chunk waits no longer than this.
const linger = 500 * time.Microsecond

// collect gathers requests for one batch: first, what is already waiting,
// and what arrives within the linger time.
func (b *batcher[In, Out]) collect(first batchReq[In, Out]) []batchReq[In, Out] {
	batch := []batchReq[In, Out]{first}
	var timeout <-chan time.Time
	for len(batch) < b.max {
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
			continue
		default:
		}
		if timeout == nil {
			timeout = time.After(linger)
		}
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
		case <-timeout:
			return batch
		}
	}
	return batch
}

// wait returns when every loop has stopped.
func (b *batcher[In, Out]) wait() { b.wg.Wait() }
