package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/queue"
)

// pickSQL locks, round-robin across jobs, the ranges with chunks left to
// publish: it walks the jobs that have such ranges (a skip scan of the
// partial index), and takes an equal share of ranges from each, oldest
// first, skipping those another relay holds. The locks last until the
// publishing of the batch is confirmed and the cursors are moved.
const pickSQL = `
	WITH RECURSIVE jobs AS (
		(SELECT job_id FROM amqp_outbox WHERE next_chunk < end_chunk ORDER BY job_id LIMIT 1)
		UNION ALL
		SELECT (SELECT o.job_id FROM amqp_outbox o WHERE o.next_chunk < o.end_chunk AND o.job_id > jobs.job_id ORDER BY o.job_id LIMIT 1)
		FROM jobs WHERE jobs.job_id IS NOT NULL
	), picked AS (
		SELECT job_id FROM jobs WHERE job_id IS NOT NULL LIMIT $1
	), share AS (
		SELECT ceil($1::numeric / greatest(count(*), 1))::int AS n FROM picked
	)
	SELECT o.seq, o.job_id, o.operation, o.next_chunk, o.end_chunk
	FROM picked CROSS JOIN share CROSS JOIN LATERAL (
		SELECT seq, job_id, operation, next_chunk, end_chunk FROM amqp_outbox o
		WHERE o.job_id = picked.job_id AND o.next_chunk < o.end_chunk
		ORDER BY o.seq LIMIT share.n
		FOR UPDATE SKIP LOCKED
	) o
	ORDER BY o.job_id, o.seq`

// advanceSQL moves the cursors of ranges past their confirmed chunks and
// dates the ranges it completes.
const advanceSQL = `
	UPDATE amqp_outbox o SET next_chunk = u.next,
		published_at = CASE WHEN u.next = o.end_chunk THEN now() ELSE o.published_at END
	FROM unnest($1::bigint[], $2::int[]) AS u(seq, next)
	WHERE o.seq = u.seq`

// relay publishes the outbox until ctx is done. It runs again at once after
// a batch, and otherwise when EnqueueTx notifies, this process has handled
// a publish step's deliveries, the connection comes back, or PollInterval
// passes.
func (r *runner) relay(ctx context.Context) {
	for {
		n, err := r.publishBatch(ctx)
		if err != nil && ctx.Err() == nil && !errors.Is(err, errDisconnected) {
			r.log.Warn("publish outbox messages", "error", err)
		}
		if err == nil && n > 0 {
			continue
		}
		t := time.NewTimer(r.b.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// outRange is an outbox range picked for publishing: take of its chunks,
// from next on, are published in this batch.
type outRange struct {
	seq       int64
	jobID     [16]byte
	operation string
	next, end int32
	take      int32
}

// publishBatch publishes up to PublishBatch chunks, within each queue's
// room, in one transaction that locks their ranges until their publishing
// is confirmed and then moves the ranges' cursors past the confirmed ones.
// It returns how many it published.
func (r *runner) publishBatch(ctx context.Context) (int, error) {
	s := r.session.Load()
	if s == nil {
		return 0, errDisconnected
	}
	tx, err := r.b.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	// A cursor a crash loses only publishes the chunks again.
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, pickSQL, r.b.cfg.PublishBatch)
	if err != nil {
		return 0, fmt.Errorf("pick outbox ranges: %w", err)
	}
	picked, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outRange, error) {
		var o outRange
		err := row.Scan(&o.seq, &o.jobID, &o.operation, &o.next, &o.end)
		return o, err
	})
	if err != nil {
		return 0, fmt.Errorf("pick outbox ranges: %w", err)
	}
	if len(picked) == 0 {
		return 0, nil
	}
	room, packers, err := r.room(s, picked)
	if err != nil {
		return 0, err
	}
	// A random first job: when the room is smaller than the jobs, each
	// batch favours another.
	if share(picked, room, r.b.cfg.PublishBatch, rand.IntN(len(picked))) == 0 {
		return 0, nil // every queue is full; a handled delivery wakes the relay
	}
	confirmed, err := r.publish(ctx, s, picked, packers)
	seqs, nexts := make([]int64, 0, len(picked)), make([]int32, 0, len(picked))
	published := 0
	for i, o := range picked {
		if confirmed[i] > 0 {
			seqs, nexts = append(seqs, o.seq), append(nexts, o.next+confirmed[i])
			published += int(confirmed[i])
		}
	}
	if published == 0 {
		return 0, err
	}
	if _, aerr := tx.Exec(ctx, advanceSQL, seqs, nexts); aerr != nil {
		return 0, fmt.Errorf("move the cursors of %d outbox ranges: %w", len(seqs), aerr)
	}
	if cerr := tx.Commit(ctx); cerr != nil {
		return 0, fmt.Errorf("move the cursors of %d outbox ranges: %w", len(seqs), cerr)
	}
	return published, err
}

// publishStep is the least room in a queue worth a batch, in chunks,
// unless fewer wait for it: a batch's fixed cost (a transaction, a read of
// the queue's depth, its confirms) spread over a few messages would cost
// more per message than the messages themselves, and publishing in steps
// lets workers claim and commit the chunks in larger batches too.
func (b *Broker) publishStep() int { return max(1, b.cfg.MaxInFlight/4) }

// packer sizes an operation's messages in a batch: a message carries
// several consecutive chunks of a job while many chunks wait per consumer
// slot, which spreads a message's cost (the node's, the relay's, the
// consumer's) over its chunks; as the backlog drains, messages shrink back
// to one chunk each, so that the last chunks still spread over every slot.
type packer struct {
	waiting int // chunks the picked ranges hold that no message of this batch carries yet
	slots   int // consumer slots: the queue's consumers times this process's concurrency
	most    int // Config.ChunksPerMessage
}

// size is the chunk count of the next message: the chunks waiting per two
// slots, between 1 and most.
func (p *packer) size() int { return min(p.most, max(1, p.waiting/(2*p.slots))) }

// took records that a message carries n chunks.
func (p *packer) took(n int) { p.waiting -= n }

// room reads the depth of the queues of the picked ranges' operations and
// returns how many more chunks each may take under MaxInFlight (its
// messages counted at the size the next would have: the node counts
// messages, not chunks), none while that is less than a publish step and
// fewer than the picked ranges hold for the queue; and a packer for each.
func (r *runner) room(s *session, picked []outRange) (map[string]int, map[string]*packer, error) {
	packers := map[string]*packer{}
	for _, o := range picked {
		p := packers[o.operation]
		if p == nil {
			p = &packer{most: r.b.cfg.ChunksPerMessage}
			packers[o.operation] = p
		}
		p.waiting += int(o.end - o.next)
	}
	room := make(map[string]int, len(packers))
	for op, p := range packers {
		name := r.b.QueueName(op)
		q, err := s.pub.QueueDeclarePassive(name, true, false, false, false, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("read the depth of %s: %w", name, err)
		}
		p.slots = max(1, q.Consumers) * r.concurrency
		if free := max(0, r.b.cfg.MaxInFlight-q.Messages*p.size()); free >= min(r.b.publishStep(), p.waiting) {
			room[op] = free
		}
	}
	return room, packers, nil
}

// share sets each picked range's take: at most budget chunks in all and at
// most room[operation] of each operation, shared round-robin across jobs
// (picked is ordered by job) from the first'th job on, each job's from its
// oldest range on. It returns the sum of the takes.
func share(picked []outRange, room map[string]int, budget, first int) int {
	jobs := byJob(picked)
	total := 0
	for budget > 0 {
		open, free := 0, 0
		counted := map[string]bool{}
		for _, job := range jobs {
			if !slices.ContainsFunc(job, func(o outRange) bool { return o.canTake(room) }) {
				continue
			}
			open++
			for _, o := range job {
				if !counted[o.operation] {
					counted[o.operation], free = true, free+room[o.operation]
				}
			}
		}
		if open == 0 {
			break
		}
		per := max(1, min(budget, free)/open)
		for k := range jobs {
			job := jobs[(first+k)%len(jobs)]
			want := min(per, budget)
			for i := range job {
				n := min(want, int(job[i].end-job[i].next-job[i].take), room[job[i].operation])
				job[i].take += int32(n)
				want, budget, total = want-n, budget-n, total+n
				room[job[i].operation] -= n
			}
		}
	}
	return total
}

// canTake reports whether o has chunks left to take with room in its queue.
func (o outRange) canTake(room map[string]int) bool {
	return o.take < o.end-o.next && room[o.operation] > 0
}

// byJob splits picked, ordered by job, into each job's ranges (sharing
// picked's array).
func byJob(picked []outRange) [][]outRange {
	var jobs [][]outRange
	for i := 0; i < len(picked); {
		j := i + 1
		for j < len(picked) && picked[j].jobID == picked[i].jobID {
			j++
		}
		jobs = append(jobs, picked[i:j])
		i = j
	}
	return jobs
}

// publish publishes the takes of picked, in messages sized by packers,
// and waits for every confirm; it returns, for each range, how many of its
// chunks from next on the node confirmed without a gap.
func (r *runner) publish(ctx context.Context, s *session, picked []outRange, packers map[string]*packer) ([]int32, error) {
	type sent struct {
		dc     *amqp.DeferredConfirmation
		index  int
		chunks int32
	}
	var (
		confirms []sent
		pubErr   error
	)
publishing:
	for i, o := range picked {
		p := packers[o.operation]
		for c, end := o.next, o.next+o.take; c < end; {
			n := min(int32(p.size()), end-c)
			env := envelope{Message: queue.Message{JobID: uuid.UUID(o.jobID), Chunk: int(c), Operation: o.operation}, Seq: o.seq}
			if n > 1 {
				env.Count = int(n)
			}
			body, err := encodeEnvelope(env)
			if err != nil {
				return make([]int32, len(picked)), err
			}
			// Straight to the queue through the default exchange: routing
			// through the broker's exchange cost the node more CPU per message.
			dc, err := s.pub.PublishWithDeferredConfirmWithContext(ctx, "", r.b.QueueName(o.operation), false, false, amqp.Publishing{
				ContentType:  "application/json",
				DeliveryMode: amqp.Persistent,
				Body:         body,
			})
			if err != nil {
				pubErr = fmt.Errorf("publish %s: %w", env.Message, err)
				break publishing
			}
			confirms = append(confirms, sent{dc, i, n})
			p.took(int(n))
			c += n
		}
	}
	confirmed := make([]int32, len(picked))
	gap := make([]bool, len(picked)) // a message of the range was not confirmed
	nacked := 0
	for _, c := range confirms {
		ok, err := c.dc.WaitContext(ctx)
		if err != nil {
			return confirmed, errors.Join(pubErr, fmt.Errorf("wait for publisher confirms: %w", err))
		}
		switch {
		case !ok:
			nacked++
			gap[c.index] = true
		case !gap[c.index]:
			confirmed[c.index] += c.chunks
		}
		if ok {
			r.b.publishedMessages.Add(1)
			r.b.publishedChunks.Add(int64(c.chunks))
		}
	}
	if nacked > 0 {
		pubErr = errors.Join(pubErr, fmt.Errorf("RabbitMQ refused %d of %d messages; their chunks stay in the outbox and are published again", nacked, len(confirms)))
	}
	return confirmed, pubErr
}

// listen wakes the relay on each notification of EnqueueTx, on a
// connection of its own, until ctx is done.
func (r *runner) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := r.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("listen for outbox notifications; polling meanwhile", "error", err)
		if !sleep(ctx, time.Second) {
			return
		}
	}
}

func (r *runner) listenOnce(ctx context.Context) error {
	pc, err := r.b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection leaves the pool: it stays subscribed.
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+outboxChannel); err != nil {
		return err
	}
	r.wakeRelay() // rows enqueued before LISTEN
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		r.wakeRelay()
	}
}

// reconcileSQL replaces ranges published longer than $1 ago whose chunks
// still await a delivery by ranges of just those chunks, to be published
// again: their messages were lost, or wait in a queue that long. It
// returns how many chunks it queued again.
const reconcileSQL = `
	WITH old AS (
		SELECT seq, job_id, operation, first_chunk, end_chunk FROM amqp_outbox
		WHERE published_at < now() - $1::interval
		ORDER BY published_at LIMIT 100 FOR UPDATE SKIP LOCKED
	), awaiting AS (
		SELECT old.seq, old.job_id, old.operation, w.chunk,
			w.chunk - row_number() OVER (PARTITION BY old.seq ORDER BY w.chunk) AS run
		FROM old JOIN queue_awaiting_delivery w
			ON w.job_id = old.job_id AND w.chunk >= old.first_chunk AND w.chunk < old.end_chunk
	), again AS (
		INSERT INTO amqp_outbox (job_id, operation, first_chunk, end_chunk, next_chunk)
		SELECT job_id, operation, min(chunk), max(chunk) + 1, min(chunk)
		FROM awaiting GROUP BY seq, job_id, operation, run
		RETURNING end_chunk - first_chunk AS n
	), gone AS (
		DELETE FROM amqp_outbox o USING old WHERE o.seq = old.seq
	)
	SELECT coalesce(sum(n), 0) FROM again`

// cleanupSQL deletes ranges none of whose chunks awaits a delivery: every
// one is done, failed, cancelled, waiting for a retry (which enqueues it
// again) or of a job no longer active.
const cleanupSQL = `
	DELETE FROM amqp_outbox o WHERE o.seq IN (
		SELECT r.seq FROM amqp_outbox r
		WHERE NOT EXISTS (SELECT 1 FROM queue_awaiting_delivery w
			WHERE w.job_id = r.job_id AND w.chunk >= r.first_chunk AND w.chunk < r.end_chunk)
		LIMIT 10000 FOR UPDATE SKIP LOCKED)`

// reconcile deletes settled ranges every second (or PollInterval, if
// longer), and publishes again the chunks still awaiting a delivery
// RepublishAfter after their range was published.
func (r *runner) reconcile(ctx context.Context) {
	cleanup := time.NewTicker(max(r.b.cfg.PollInterval, time.Second))
	defer cleanup.Stop()
	republish := time.NewTicker(max(r.b.cfg.PollInterval, min(r.republishAfter/4, time.Minute)))
	defer republish.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-cleanup.C:
			if _, err := r.b.pool.Exec(ctx, cleanupSQL); err != nil && ctx.Err() == nil {
				r.log.Warn("delete settled outbox ranges", "error", err)
			}
		case <-republish.C:
			var n int64
			if err := r.b.pool.QueryRow(ctx, reconcileSQL, r.republishAfter).Scan(&n); err != nil {
				if ctx.Err() == nil {
					r.log.Warn("reconcile the outbox", "error", err)
				}
				continue
			}
			if n > 0 {
				r.log.Warn("publishing again chunks still awaiting a delivery long after their publishing", "chunks", n, "after", r.republishAfter)
				r.wakeRelay()
			}
		}
	}
}
