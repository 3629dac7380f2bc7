package rabbitmq_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestNodeKilledMidJob kills the RabbitMQ node (SIGKILL) while workers hold
// chunks and messages wait in the queue, then starts it again: Ready reports
// the outage, the broker reconnects, and the job completes with every chunk
// counted once.
func TestNodeKilledMidJob(t *testing.T) {
	t.Parallel()
	n := privateNode(t)
	h := newHarness(t, n.url)
	cfg := h.config()
	cfg.RepublishAfter = 3 * time.Second // a message the node lost is published again soon
	b := h.broker(cfg)
	g := newGate(200)
	e := h.engine(b, &testOp{gate: g.wait})
	const chunks, slots = 1000, 8
	h.run(e, slots)
	// RabbitMQ 3.10 may lose a quorum queue declared seconds before the
	// node is killed (its Ra server comes back empty and never elects a
	// leader), so the node first restarts cleanly, as a node whose queues
	// were declared long ago would have. The broker reconnects.
	h.waitTopology(b)
	n.script("stop")
	n.script("start")
	eventually(t, time.Minute, "the broker to reconnect after the clean restart", func() (bool, error) {
		return b.Reconnects() > 0 && b.Ready(context.Background()) == nil, nil
	})
	id := h.create(e, chunks, 0)
	eventually(t, time.Minute, "every worker to hold a chunk at the gate", func() (bool, error) {
		return g.holding.Load() == slots, nil
	})
	n.script("crash")
	eventually(t, 30*time.Second, "Ready to report the outage", func() (bool, error) {
		return b.Ready(context.Background()) != nil, nil
	})
	err := b.Ready(context.Background())
	if !strings.Contains(err.Error(), "not connected to RabbitMQ") {
		t.Fatalf("Ready during the outage: %v", err)
	}
	// The held chunks commit while the node is down; their messages come
	// again after the restart and find them done.
	g.release()
	out := n.script("start")
	if url := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]); url != n.url {
		t.Fatalf("the node came back at %s, not %s", url, n.url)
	}
	eventually(t, time.Minute, "the broker to reconnect", func() (bool, error) {
		return b.Ready(context.Background()) == nil, nil
	})
	h.waitTerminal(e, id, 2*time.Minute)
	h.assertCountedOnce(e, id, chunks)
	eventually(t, 30*time.Second, "the outbox to empty", func() (bool, error) { return h.outboxRows(id) == 0, nil })
	if d := h.queueDepth(b.DeadQueue()); d != 0 {
		t.Fatalf("%d messages dead-lettered", d)
	}
}

// TestConnectionsForceClosed closes every connection of the node
// (rabbitmqctl close_all_connections) mid-job: the broker reconnects,
// declares its topology again, resumes consuming and publishing, and the job
// completes with every chunk counted once.
func TestConnectionsForceClosed(t *testing.T) {
	t.Parallel()
	n := privateNode(t)
	h := newHarness(t, n.url)
	b := h.broker(h.config())
	g := newGate(100)
	e := h.engine(b, &testOp{gate: g.wait})
	const chunks, slots = 3000, 8
	h.run(e, slots)
	id := h.create(e, chunks, 0)
	eventually(t, time.Minute, "every worker to hold a chunk at the gate", func() (bool, error) {
		return g.holding.Load() == slots, nil
	})
	before := b.Reconnects()
	n.script("ctl", "close_all_connections", "tallyq test: forced close")
	eventually(t, time.Minute, "the broker to reconnect", func() (bool, error) {
		return b.Reconnects() > before && b.Ready(context.Background()) == nil, nil
	})
	g.release()
	h.waitTerminal(e, id, 2*time.Minute)
	h.assertCountedOnce(e, id, chunks)
	eventually(t, 30*time.Second, "the outbox to empty", func() (bool, error) { return h.outboxRows(id) == 0, nil })
}

// TestFairness: a job created after a large one finishes while the large
// one still runs.
func TestFairness(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	b := h.broker(h.config())
	e := h.engine(b, &testOp{})
	const big, small = 30_000, 10
	bigID := h.create(e, big, 0)
	smallID := h.create(e, small, 0)
	stop := h.run(e, 8)
	h.waitTerminal(e, smallID, time.Minute)
	s := h.status(e, bigID)
	stop()
	h.assertCountedOnce(e, smallID, small)
	if s.Status.Terminal() || s.ProcessedChunks >= big/2 {
		t.Fatalf("the small job finished only after the large one had done %d of %d chunks (%s)", s.ProcessedChunks, big, s.Status)
	}
}

// TestLostMessagesRepublished: messages the broker loses (purged from the
// queue here) are published again from the outbox once RepublishAfter has
// passed, and the job completes.
func TestLostMessagesRepublished(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sharedURL(t))
	cfg := h.config()
	cfg.RepublishAfter = time.Second
	cfg.ChunksPerMessage = 1 // the purge counts messages as chunks
	b := h.broker(cfg)
	g := newGate(0)
	e := h.engine(b, &testOp{gate: g.wait})
	const chunks = 100
	h.run(e, 1)
	id := h.create(e, chunks, 0)
	eventually(t, 30*time.Second, "every message to be published", func() (bool, error) {
		var unpublished int
		err := h.pool.QueryRow(context.Background(), `SELECT coalesce(sum(end_chunk - next_chunk), 0) FROM amqp_outbox WHERE job_id = $1`, id).Scan(&unpublished)
		return err == nil && unpublished == 0 && g.holding.Load() == 1, err
	})
	conn, ch := h.amqpChannel()
	purged, err := ch.QueuePurge(b.QueueName(testOpType), false)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	if purged != chunks-1 {
		t.Fatalf("purged %d messages; want the %d not held by the worker", purged, chunks-1)
	}
	g.release()
	h.waitTerminal(e, id, time.Minute)
	h.assertCountedOnce(e, id, chunks)
}
