package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/queue"
)

// pickSQL marks published up to $1 unpublished rows, taken round-robin
// across jobs, and returns them: it walks the jobs that have unpublished
// rows (a skip scan of the partial index, so a job of a million rows costs
// one lookup), takes an equal share from each, skipping rows another relay
// holds, and marks them in the same statement. The mark commits only once
// their publishing is confirmed; until then the rows stay locked.
const pickSQL = `
	WITH RECURSIVE jobs AS (
		(SELECT job_id FROM amqp_outbox WHERE published_at IS NULL ORDER BY job_id LIMIT 1)
		UNION ALL
		SELECT (SELECT o.job_id FROM amqp_outbox o WHERE o.published_at IS NULL AND o.job_id > jobs.job_id ORDER BY o.job_id LIMIT 1)
		FROM jobs WHERE jobs.job_id IS NOT NULL
	), picked AS (
		SELECT job_id FROM jobs WHERE job_id IS NOT NULL LIMIT $1
	), share AS (
		SELECT ceil($1::numeric / greatest(count(*), 1))::int AS n FROM picked
	), chosen AS (
		SELECT o.job_id, o.chunk
		FROM picked CROSS JOIN share CROSS JOIN LATERAL (
			SELECT job_id, chunk FROM amqp_outbox o
			WHERE o.job_id = picked.job_id AND o.published_at IS NULL
			ORDER BY o.chunk LIMIT share.n
			FOR UPDATE SKIP LOCKED
		) o
	)
	UPDATE amqp_outbox o SET published_at = now()
	FROM chosen WHERE o.job_id = chosen.job_id AND o.chunk = chosen.chunk
	RETURNING o.job_id, o.chunk, o.operation, o.seq`

// unmarkSQL makes rows whose publishing was not confirmed unpublished again.
const unmarkSQL = `
	UPDATE amqp_outbox o SET published_at = NULL
	FROM unnest($1::uuid[], $2::int[], $3::bigint[]) AS u(job_id, chunk, seq)
	WHERE o.job_id = u.job_id AND o.chunk = u.chunk AND o.seq = u.seq`

// relay publishes outbox rows until ctx is done. It runs again at once
// after a batch, and otherwise when EnqueueTx notifies, a settle makes
// room, the connection comes back, or PollInterval passes.
func (r *runner) relay(ctx context.Context) {
	for {
		n, err := r.publishBatch(ctx)
		if err != nil && ctx.Err() == nil && !errors.Is(err, errDisconnected) {
			r.log.Warn("publish outbox rows", "error", err)
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

// outRow is an outbox row being published.
type outRow struct {
	jobID     [16]byte
	chunk     int32
	operation string
	seq       int64
}

// publishBatch publishes one batch of rows, within the in-flight bound, in
// one transaction that marks them published and holds their locks until
// their publishing is confirmed; it commits the marks of the confirmed ones.
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
	// A mark a crash loses only publishes the row again.
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return 0, err
	}
	var inFlight int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM amqp_outbox WHERE published_at IS NOT NULL`).Scan(&inFlight); err != nil {
		return 0, fmt.Errorf("count messages in flight: %w", err)
	}
	room := min(r.b.cfg.MaxInFlight-inFlight, r.b.cfg.PublishBatch)
	if room <= 0 {
		return 0, nil
	}
	rows, err := tx.Query(ctx, pickSQL, room)
	if err != nil {
		return 0, fmt.Errorf("pick outbox rows: %w", err)
	}
	picked, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outRow, error) {
		var o outRow
		err := row.Scan(&o.jobID, &o.chunk, &o.operation, &o.seq)
		return o, err
	})
	if err != nil {
		return 0, fmt.Errorf("pick outbox rows: %w", err)
	}
	if len(picked) == 0 {
		return 0, nil
	}
	confirmed, err := r.publish(ctx, s, picked)
	if len(confirmed) == 0 {
		return 0, err // the rollback unmarks every row
	}
	if len(confirmed) < len(picked) {
		if _, uerr := tx.Exec(ctx, unmarkSQL, markArgs(unconfirmed(picked, confirmed))...); uerr != nil {
			return 0, fmt.Errorf("unmark outbox rows not published: %w", uerr)
		}
	}
	if cerr := tx.Commit(ctx); cerr != nil {
		return 0, fmt.Errorf("mark %d outbox rows published: %w", len(confirmed), cerr)
	}
	return len(confirmed), err
}

// unconfirmed returns the rows of picked that are not in confirmed, a
// subsequence of it.
func unconfirmed(picked, confirmed []outRow) []outRow {
	var out []outRow
	j := 0
	for _, o := range picked {
		if j < len(confirmed) && confirmed[j] == o {
			j++
			continue
		}
		out = append(out, o)
	}
	return out
}

// publish publishes rows and waits for every confirm; it returns the rows
// the broker confirmed.
func (r *runner) publish(ctx context.Context, s *session, rows []outRow) ([]outRow, error) {
	confirms := make([]*amqp.DeferredConfirmation, 0, len(rows))
	var pubErr error
	for _, o := range rows {
		m := queue.Message{JobID: uuid.UUID(o.jobID), Chunk: int(o.chunk), Operation: o.operation}
		body, err := encodeEnvelope(envelope{Message: m, Seq: o.seq})
		if err != nil {
			return nil, err
		}
		// Straight to the queue through the default exchange: routing
		// through the broker's exchange cost the node more CPU per message.
		dc, err := s.pub.PublishWithDeferredConfirmWithContext(ctx, "", r.b.QueueName(o.operation), false, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			Body:         body,
		})
		if err != nil {
			pubErr = fmt.Errorf("publish %s: %w", m, err)
			break
		}
		confirms = append(confirms, dc)
	}
	confirmed := make([]outRow, 0, len(confirms))
	nacked := 0
	for i, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return confirmed, errors.Join(pubErr, fmt.Errorf("wait for publisher confirms: %w", err))
		}
		if ok {
			confirmed = append(confirmed, rows[i])
		} else {
			nacked++
		}
	}
	if nacked > 0 {
		pubErr = errors.Join(pubErr, fmt.Errorf("RabbitMQ refused %d of %d messages; they stay in the outbox and are published again", nacked, len(confirms)))
	}
	return confirmed, pubErr
}

func markArgs(rows []outRow) []any {
	jobIDs := make([][16]byte, len(rows))
	chunks := make([]int32, len(rows))
	seqs := make([]int64, len(rows))
	for i, o := range rows {
		jobIDs[i], chunks[i], seqs[i] = o.jobID, o.chunk, o.seq
	}
	return []any{jobIDs, chunks, seqs}
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

// reconcile makes the relay publish again the rows published longer than
// RepublishAfter ago and still in the outbox: their message was lost, or
// waits in a queue that long.
func (r *runner) reconcile(ctx context.Context) {
	interval := max(r.b.cfg.PollInterval, min(r.republishAfter/4, time.Minute))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tag, err := r.b.pool.Exec(ctx, `
			UPDATE amqp_outbox o SET published_at = NULL
			FROM (SELECT job_id, chunk FROM amqp_outbox
				WHERE published_at < now() - $1::interval
				ORDER BY published_at LIMIT 10000 FOR UPDATE SKIP LOCKED) old
			WHERE o.job_id = old.job_id AND o.chunk = old.chunk`, r.republishAfter)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("reconcile the outbox", "error", err)
			}
			continue
		}
		if n := tag.RowsAffected(); n > 0 {
			r.log.Warn("publishing again outbox rows still unsettled long after their publishing", "rows", n, "after", r.republishAfter)
			r.wakeRelay()
		}
	}
}
