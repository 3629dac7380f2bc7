package jobs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/internal/testdb"
)

// signalTimeout bounds every wait for a hub's signal.
const signalTimeout = 20 * time.Second

// inBackground runs run until the returned stop is called, which waits
// for it to return; the test's end stops it too.
func inBackground(t *testing.T, run func(ctx context.Context)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { run(ctx) })
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

// awaitSignal fails the test unless sub is signalled within signalTimeout.
func awaitSignal(t *testing.T, sub *StatusSubscription, what string) {
	t.Helper()
	select {
	case <-sub.Changed():
	case <-time.After(signalTimeout):
		t.Fatalf("no signal %s within %s", what, signalTimeout)
	}
}

// assertNoSignal fails the test if a signal waits for sub.
func assertNoSignal(t *testing.T, sub *StatusSubscription, what string) {
	t.Helper()
	select {
	case <-sub.Changed():
		t.Fatalf("unexpected signal %s", what)
	default:
	}
}

func notify(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `SELECT pg_notify($1, $2)`, StatusChannel, id.String()); err != nil {
		t.Fatal(err)
	}
}

// hubBackends returns the backend pids of the hub's listening connections
// to the pool's database.
func hubBackends(t *testing.T, pool *pgxpool.Pool) []int32 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND query LIKE 'LISTEN%'`, HubApplicationName)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int32
	for rows.Next() {
		var pid int32
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pids
}

// TestStatusHubFansOutByJob: one LISTEN connection serves every subscriber;
// a notification wakes the subscribers of its job and no others.
func TestStatusHubFansOutByJob(t *testing.T) {
	pool := testdb.New(t)
	hub := NewStatusHub(pool, StatusHubConfig{Logger: testConfig().Logger})
	const jobsN, perJob = 10, 20
	ids := make([]uuid.UUID, jobsN)
	subs := make([][]*StatusSubscription, jobsN)
	for i := range ids {
		ids[i] = uuid.New()
		for range perJob {
			subs[i] = append(subs[i], hub.Subscribe(ids[i]))
		}
	}
	stop := inBackground(t, hub.Run)

	// Once listening, the hub wakes everyone: changes may predate it.
	for i := range subs {
		for _, s := range subs[i] {
			awaitSignal(t, s, "after the hub started listening")
		}
	}
	if got := hubBackends(t, pool); len(got) != 1 {
		t.Fatalf("%d subscribers: %d listening connections (%v), want 1", jobsN*perJob, len(got), got)
	}
	if got := hub.Subscribers(); got != jobsN*perJob {
		t.Fatalf("Subscribers() = %d, want %d", got, jobsN*perJob)
	}
	for i, id := range ids {
		notify(t, pool, id)
		for _, s := range subs[i] {
			awaitSignal(t, s, "for a notification of its job")
		}
		// The hub relays in order, so every earlier notification has been
		// relayed by now: the other jobs' subscribers must have nothing.
		for j := range subs {
			if j != i {
				for _, s := range subs[j] {
					assertNoSignal(t, s, "for another job's notification")
				}
			}
		}
	}

	// Signals coalesce: a burst leaves one waiting signal.
	for range 5 {
		notify(t, pool, ids[0])
	}
	notify(t, pool, ids[1])
	awaitSignal(t, subs[1][0], "after the burst")
	awaitSignal(t, subs[0][0], "for the burst")
	assertNoSignal(t, subs[0][0], "twice for one coalesced burst")

	for i := range subs {
		for _, s := range subs[i] {
			s.Close()
			s.Close()
		}
	}
	if got := hub.Subscribers(); got != 0 {
		t.Fatalf("after every Close, Subscribers() = %d", got)
	}
	stop()
	late := hub.Subscribe(ids[0])
	select {
	case <-late.Done():
	default:
		t.Fatal("a subscription to a stopped hub is not done")
	}
}

// TestStatusHubReconnects: a lost listening connection is replaced, every
// subscriber is told to re-read, and notifications flow again.
func TestStatusHubReconnects(t *testing.T) {
	pool := testdb.New(t)
	id := uuid.New()
	hub := NewStatusHub(pool, StatusHubConfig{ReconnectDelay: 10 * time.Millisecond,
		Logger: testConfig().Logger})
	sub := hub.Subscribe(id)
	defer sub.Close()
	stop := inBackground(t, hub.Run)
	awaitSignal(t, sub, "after the hub started listening")

	before := hubBackends(t, pool)
	if len(before) != 1 {
		t.Fatalf("listening connections: %v, want one", before)
	}
	if _, err := pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, before[0]); err != nil {
		t.Fatal(err)
	}
	awaitSignal(t, sub, "after the hub reconnected")
	after := hubBackends(t, pool)
	if len(after) != 1 || after[0] == before[0] {
		t.Fatalf("listening connections after the kill: %v (before: %v), want one new one", after, before)
	}
	notify(t, pool, id)
	awaitSignal(t, sub, "for a notification after the reconnection")

	stop()
	select {
	case <-sub.Done():
	default:
		t.Fatal("the subscription is not done after the hub stopped")
	}
}

// TestStatusHubSignalsCommittedProgress: every committed chunk reaches the
// job's subscribers through the engine's progress notifications, without a
// status change and without anything polling.
func TestStatusHubSignalsCommittedProgress(t *testing.T) {
	h := newHarness(t)
	const chunks = 3
	release := make(chan struct{})
	h.op.gate = untilClosed(release)
	job := h.create(chunks)
	hub := NewStatusHub(h.pool, StatusHubConfig{Logger: testConfig().Logger})
	sub := hub.Subscribe(job.JobID)
	defer sub.Close()
	inBackground(t, hub.Run)
	awaitSignal(t, sub, "when the hub started listening")
	h.start(1) // one slot: the chunks commit one at a time
	for n := 1; n <= chunks; n++ {
		release <- struct{}{}
		for h.status(job.JobID).ProcessedChunks < n {
			awaitSignal(t, sub, "after a chunk was committed")
		}
	}
}

// TestStatusHubHandsOutTheStatus: on a notification the hub reads the job's
// status once and every subscriber gets it with the signal; after a
// signal for which it read nothing (start-up), subscribers read themselves.
func TestStatusHubHandsOutTheStatus(t *testing.T) {
	h := newHarness(t)
	job := h.create(3)
	hub := NewStatusHub(h.pool, StatusHubConfig{Logger: testConfig().Logger})
	subs := []*StatusSubscription{hub.Subscribe(job.JobID), hub.Subscribe(job.JobID)}
	inBackground(t, hub.Run)
	for _, sub := range subs {
		defer sub.Close()
		awaitSignal(t, sub, "when the hub started listening")
		if _, ok := sub.Status(); ok {
			t.Fatal("a status came with the start-up signal, for which the hub read none")
		}
	}
	notify(t, h.pool, job.JobID)
	for _, sub := range subs {
		awaitSignal(t, sub, "after the notification")
		st, ok := sub.Status()
		if !ok || st.JobID != job.JobID || st.TotalChunks != 3 || st.Status != StatusQueued {
			t.Fatalf("status handed out %+v (%v), want the job's, QUEUED with 3 chunks", st, ok)
		}
	}
}
