package election

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/internal/testdb"
)

// startAtOnce runs start from n goroutines at once and checks that they
// all return the same job and that exactly one of them created (or
// resumed) it.
func startAtOnce(t *testing.T, what string, n int, start func() (Started, error)) uuid.UUID {
	t.Helper()
	got := make([]Started, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { <-gate; got[i], errs[i] = start() })
	}
	close(gate)
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("%s, request %d: %v", what, i, errs[i])
		}
		if got[i].Job.JobID != got[0].Job.JobID {
			t.Fatalf("%s: request %d got job %s, request 0 job %s", what, i, got[i].Job.JobID, got[0].Job.JobID)
		}
		if got[i].Created {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%s: %d of %d concurrent requests created the job, want 1", what, created, n)
	}
	return got[0].Job.JobID
}

// Twenty concurrent requests to start a guardian's decryption, then twenty
// to start the combine, each create one job, on a pool of four connections
// that the requests' transactions, all waiting for the election's lock,
// hold: a request that took a second connection while holding its
// transaction would wait for ever.
func TestConcurrentStartsCreateOneJob(t *testing.T) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	h := attachHarness(t, testdb.New(t, testdb.WithMaxConns(4)), harnessOptions{workers: -1})
	h.start(2)
	ctx := context.Background()
	id := h.importAndTally(pub)
	raw, err := os.ReadFile(filepath.Join(priv, "private_guardians", "private_guardian_1.json"))
	if err != nil {
		t.Fatal(err)
	}
	job := startAtOnce(t, "decryption of guardian 1", 20, func() (Started, error) { return h.svc.StartDecryption(ctx, id, "1", raw, "test") })
	h.wait(job)
	h.decryptServerSide(id, priv, "2", "3")
	h.wait(startAtOnce(t, "combine", 20, func() (Started, error) { return h.svc.StartCombine(ctx, id, "test") }))
	var jobs int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM election_jobs WHERE election_id = $1 AND operation_type IN ('DECRYPTION', 'COMBINE')`,
		id).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 4 {
		t.Fatalf("%d decryption and combine jobs, want 4: one per guardian that decrypted and one combine", jobs)
	}
}
