package rabbitmq_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
	"github.com/tallyq/tallyq/queue/rabbitmq"
)

func TestNewRefusesGuestOffLoopback(t *testing.T) {
	for _, c := range []struct {
		url  string
		want string
	}{
		{"amqp://guest:guest@rabbit.example:5672/", "refusing the default guest/guest account on rabbit.example"},
		{"", "no AMQP URL; set TALLYQ_AMQP_URL"},
		{"http://x", "AMQP URL is not valid"},
		{"amqp://u:hunter2@rabbit.example:port/", "AMQP URL is not valid"},
		{"amqp://:hunter2:/x@rabbit.example/", "its '@' comes after the host"},
	} {
		err := rabbitmq.CheckURL(c.url)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckURL(%q) = %v; want an error containing %q", c.url, err, c.want)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("CheckURL(%q) = %v: the error shows the password", c.url, err)
		}
	}
	for _, u := range []string{"amqp://guest:guest@localhost:5672/", "amqp://guest:guest@127.0.0.1/", "amqp://guest:guest@[::1]:5672/", "amqp://tallyq:pw@rabbit.example/"} {
		if err := rabbitmq.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v; want nil", u, err)
		}
	}
}

func TestEnqueueRefusesUnknownOperation(t *testing.T) {
	h := newHarness(t, sharedURL(t))
	b := h.broker(h.config())
	tx, err := h.pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	err = b.EnqueueTx(context.Background(), tx, []queue.Message{{JobID: uuid.New(), Chunk: 0, Operation: "OTHER"}})
	if err == nil || !strings.Contains(err.Error(), `operation "OTHER" has no queue`) {
		t.Fatalf("EnqueueTx of an unknown operation: %v", err)
	}
}

func TestJobCompletesEachChunkCountedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	b := h.broker(h.config())
	e := h.engine(b, &testOp{})
	h.run(e, 8)
	const chunks = 500
	id := h.create(e, chunks, 0)
	h.waitTerminal(e, id, time.Minute)
	h.assertCountedOnce(e, id, chunks)
	eventually(t, 10*time.Second, "the outbox to empty", func() (bool, error) { return h.outboxRows(id) == 0, nil })
	if n := h.queueDepth(b.DeadQueue()); n != 0 {
		t.Fatalf("%d messages dead-lettered", n)
	}
	if err := b.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}

// TestTopology checks the queues' arguments by declaring them again with
// the expected ones, which RabbitMQ accepts only if they match.
func TestTopology(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	cfg := h.config()
	cfg.DeliveryLimit = 7
	b := h.broker(cfg)
	e := h.engine(b, &testOp{})
	h.run(e, 1)
	conn, ch := h.amqpChannel()
	defer conn.Close()
	_, err := ch.QueueDeclare(b.QueueName(testOpType), true, false, false, false, amqp.Table{
		"x-queue-type": "quorum", "x-delivery-limit": int64(7), "x-dead-letter-exchange": h.prefix + ".dlx",
		"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish",
	})
	if err != nil {
		t.Fatalf("the operation queue's arguments differ: %v", err)
	}
	if b.QueueName(testOpType) != h.prefix+".test_count" || b.DeadQueue() != h.prefix+".dead" {
		t.Fatalf("queue names %s, %s", b.QueueName(testOpType), b.DeadQueue())
	}
	ch2, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch2.QueueDeclare(b.DeadQueue(), true, false, false, false, amqp.Table{"x-queue-type": "quorum", "x-overflow": "reject-publish"}); err != nil {
		t.Fatalf("the dead queue's arguments differ: %v", err)
	}
}

func TestDuplicatePublishCountedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	b := h.broker(h.config())
	watch := &watchHandler{}
	g := newGate(0) // holds the workers until the duplicates are queued
	e := h.engine(wrapped{b, func(q queue.Handler) queue.Handler { watch.Handler = q; return watch }}, &testOp{gate: g.wait})
	const chunks = 50
	id := h.create(e, chunks, 0)
	// The workers' start declares the topology.
	h.run(e, 4)
	// A delivery shows that the queue is bound.
	eventually(t, 30*time.Second, "a first delivery", func() (bool, error) { return watch.deliveries.Load() > 0, nil })
	conn, ch := h.amqpChannel()
	defer conn.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	// Publish every chunk's message again by hand, as a relay that crashed
	// after publishing and before moving its cursor would, in the format of
	// an earlier version (no seq), through the exchange other publishers use.
	for chunk := range chunks {
		body, _ := json.Marshal(queue.Message{JobID: id, Chunk: chunk, Operation: testOpType})
		dc, err := ch.PublishWithDeferredConfirm(b.Exchange(), "test_count", false, false, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: body,
			MessageId: id.String() + ":" + strconv.Itoa(chunk), Headers: amqp.Table{"tallyq-seq": int64(1)},
		})
		if err != nil || !dc.Wait() {
			t.Fatalf("publish duplicate: %v", err)
		}
	}
	g.release()
	h.waitTerminal(e, id, time.Minute)
	eventually(t, 30*time.Second, "both copies of every message to be delivered", func() (bool, error) {
		return watch.deliveries.Load() >= 2*chunks, nil
	})
	h.assertCountedOnce(e, id, chunks)
	eventually(t, 10*time.Second, "the outbox to empty", func() (bool, error) { return h.outboxRows(id) == 0, nil })
}

func TestAlwaysFailingChunkFailsJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	b := h.broker(h.config())
	e := h.engine(b, &testOp{failing: map[int]bool{7: true}})
	h.run(e, 4)
	const chunks = 20
	id := h.create(e, chunks, 0)
	s := h.waitTerminal(e, id, time.Minute)
	if s.Status != jobs.StatusFailed || s.ProcessedChunks != chunks-1 || s.FailedChunks != 1 {
		t.Fatalf("job: status %s, processed %d, failed %d; want FAILED, %d, 1", s.Status, s.ProcessedChunks, s.FailedChunks, chunks-1)
	}
	if s.ErrorMessage == nil || !strings.Contains(*s.ErrorMessage, "chunk 7 always fails") {
		t.Fatalf("error message %v does not name the chunk's error", s.ErrorMessage)
	}
	var state string
	var attempts int
	if err := h.pool.QueryRow(context.Background(), `SELECT state, attempts FROM job_chunks WHERE job_id = $1 AND chunk_no = 7`, id).Scan(&state, &attempts); err != nil {
		t.Fatal(err)
	}
	if state != "failed" || attempts != engineConfig(nil).MaxAttempts {
		t.Fatalf("chunk 7: %s after %d attempts; want failed after %d", state, attempts, engineConfig(nil).MaxAttempts)
	}
}

// TestDeliveryLimitDeadLettersToFailedChunk: a worker that keeps failing
// to record a message (it returns an error, so the message is requeued)
// drives the message over the queue's delivery limit; RabbitMQ dead-letters
// it, and the dead-letter consumer reports it to the engine, which fails the
// chunk, its attempts being spent.
func TestDeliveryLimitDeadLettersToFailedChunk(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                string
		chunks, concurrency int
		packed              bool
	}{
		{"a message per chunk", 10, 4, false},
		// Chunk 3 shares its message with others, which commit on its
		// first delivery; the dead letter reports every chunk it carries.
		{"messages of several chunks", 60, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, sharedURL(t))
			cfg := h.config()
			cfg.DeliveryLimit = 2
			b := h.broker(cfg)
			watch := &watchHandler{refuse: func(d *queue.Delivery) bool { return d.Chunk == 3 }}
			e := h.engine(wrapped{b, func(q queue.Handler) queue.Handler { watch.Handler = q; return watch }}, &testOp{})
			id := h.create(e, c.chunks, 0)
			// Chunk 3's attempts were spent by earlier deliveries.
			if _, err := h.pool.Exec(context.Background(), `UPDATE job_chunks SET attempts = 3 WHERE job_id = $1 AND chunk_no = 3`, id); err != nil {
				t.Fatal(err)
			}
			h.run(e, c.concurrency)
			s := h.waitTerminal(e, id, time.Minute)
			if s.Status != jobs.StatusFailed || s.ProcessedChunks != c.chunks-1 || s.FailedChunks != 1 {
				t.Fatalf("job: status %s, processed %d, failed %d; want FAILED, %d, 1", s.Status, s.ProcessedChunks, s.FailedChunks, c.chunks-1)
			}
			var state, lastErr string
			if err := h.pool.QueryRow(context.Background(), `SELECT state, last_error FROM job_chunks WHERE job_id = $1 AND chunk_no = 3`, id).Scan(&state, &lastErr); err != nil {
				t.Fatal(err)
			}
			if state != "failed" || !strings.Contains(lastErr, "delivery_limit") {
				t.Fatalf("chunk 3: %s, %q; want failed by the delivery limit", state, lastErr)
			}
			if s.ErrorMessage == nil || !strings.Contains(*s.ErrorMessage, "dead-lettered") {
				t.Fatalf("job error %v does not say the message was dead-lettered", s.ErrorMessage)
			}
			eventually(t, 10*time.Second, "the dead queue to be drained", func() (bool, error) { return h.queueDepth(b.DeadQueue()) == 0, nil })
			eventually(t, 10*time.Second, "the outbox to empty", func() (bool, error) { return h.outboxRows(id) == 0, nil })
			var applied int
			if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM test_applied WHERE job_id = $1`, id).Scan(&applied); err != nil {
				t.Fatal(err)
			}
			if applied != c.chunks-1 {
				t.Fatalf("%d results applied; want each of the %d other chunks' once", applied, c.chunks-1)
			}
			if messages, chunks := b.Published(); c.packed != (messages < chunks) {
				t.Fatalf("%d messages carried %d chunks; packed: want %v", messages, chunks, c.packed)
			}
		})
	}
}

// TestPackedMessageRequeuedWhenOneChunkFails: a message of several chunks
// one of which its worker cannot record is requeued whole; its other
// chunks, committed on the first delivery, find themselves settled when it
// comes again, and every chunk counts once.
func TestPackedMessageRequeuedWhenOneChunkFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	b := h.broker(h.config())
	var refused atomic.Bool
	watch := &watchHandler{refuse: func(d *queue.Delivery) bool { return d.Chunk == 5 && refused.CompareAndSwap(false, true) }}
	e := h.engine(wrapped{b, func(q queue.Handler) queue.Handler { watch.Handler = q; return watch }}, &testOp{})
	const chunks = 300
	id := h.create(e, chunks, 0)
	h.run(e, 2)
	h.waitTerminal(e, id, time.Minute)
	h.assertCountedOnce(e, id, chunks)
	messages, published := b.Published()
	if messages*2 > published {
		t.Fatalf("%d messages carried %d chunks; want at least 2 chunks a message on average with %d chunks for 2 slots", messages, published, chunks)
	}
	// Chunk 5's message carried others: they came again with it.
	if n := watch.redelivered.Load(); n < 2 {
		t.Fatalf("%d deliveries again; want chunk 5's message's chunks again", n)
	}
	if n := h.queueDepth(b.DeadQueue()); n != 0 {
		t.Fatalf("%d messages dead-lettered", n)
	}
}

// TestKilledConsumerPrefetchNotDeadLettered: a consumer that dies holding
// prefetched messages raises each one's delivery count; none of them may be
// dead-lettered for that, and the job completes.
func TestKilledConsumerPrefetchNotDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	cfg := h.config()
	cfg.ChunksPerMessage = 1 // the doomed consumer counts messages as chunks
	b := h.broker(cfg)
	watch := &watchHandler{}
	const chunks, held = 300, 100
	// The broker's one worker holds its first chunk at a gate until the
	// other consumer has taken its share.
	g := newGate(0)
	e := h.engine(wrapped{b, func(q queue.Handler) queue.Handler { watch.Handler = q; return watch }}, &testOp{gate: g.wait})
	h.run(e, 1)
	h.waitTopology(b)
	id := h.create(e, chunks, 0)
	// A second consumer, a worker that will be killed, takes held
	// messages and never acknowledges them.
	conn, ds := h.consumeRaw(b.QueueName(testOpType), "doomed", held)
	for i := 0; i < held; i++ {
		select {
		case <-ds:
		case <-time.After(30 * time.Second):
			t.Fatalf("the doomed consumer got %d messages of %d", i, held)
		}
	}
	conn.Close() // killed: its unacknowledged messages return to the queue
	g.release()
	h.assertRedeliveredNoneDead(e, b, watch, id, chunks, held)
}

// TestEnqueueRanges: EnqueueTx writes one outbox range per run of
// consecutive chunks, and a chunk enqueued again (a retry, an expired
// lease) gets a range of its own, to be published again; a range none of
// whose chunks awaits a delivery (here: no such job) is deleted.
func TestEnqueueRanges(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	b := h.broker(h.config())
	ctx := context.Background()
	job := uuid.New()
	enqueue := func(chunks ...int) {
		t.Helper()
		msgs := make([]queue.Message, len(chunks))
		for i, c := range chunks {
			msgs[i] = queue.Message{JobID: job, Chunk: c, Operation: testOpType}
		}
		tx, err := h.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		if err := b.EnqueueTx(ctx, tx, msgs); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	window := make([]int, 10_000)
	for i := range window {
		window[i] = i
	}
	enqueue(window...)
	enqueue(7, 3, 4, 9, 3)
	rows, err := h.pool.Query(ctx, `SELECT first_chunk, end_chunk, next_chunk, published_at IS NULL
		FROM amqp_outbox WHERE job_id = $1 ORDER BY seq`, job)
	if err != nil {
		t.Fatal(err)
	}
	type rng struct {
		First, End, Next int
		Unpublished      bool
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rng])
	if err != nil {
		t.Fatal(err)
	}
	want := []rng{{0, 10_000, 0, true}, {3, 5, 3, true}, {7, 8, 7, true}, {9, 10, 9, true}}
	if !slices.Equal(got, want) {
		t.Fatalf("outbox ranges %v; want %v", got, want)
	}
	// The job does not exist, so none of its chunks awaits a delivery: a
	// started broker deletes its ranges (marked published here, so that
	// the relay leaves them be).
	if _, err := h.pool.Exec(ctx, `UPDATE amqp_outbox SET next_chunk = end_chunk WHERE job_id = $1`, job); err != nil {
		t.Fatal(err)
	}
	h.run(h.engine(b, &testOp{}), 1)
	eventually(t, 10*time.Second, "the outbox to empty", func() (bool, error) { return h.outboxRows(job) == 0, nil })
}
