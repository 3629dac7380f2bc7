package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/jobs"
)

// Fifty concurrent create-tally-queue requests for one election create one
// job: one answer is 202 (it started the job), the others 200 with the same
// job id, and the election has one TALLY job.
func TestConcurrentTallyRequestsCreateOneJob(t *testing.T) {
	f := newElectionFixture(t)
	id := f.importFixture(fixtures.Record(t, "minimal"))
	const requests = 50
	type answer struct {
		status int
		job    uuid.UUID
		err    error
	}
	answers := make([]answer, requests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			<-start
			resp, raw, err := sendWith(http.DefaultClient, f.srv.URL, request{method: "POST", path: "/api/create-tally-queue",
				contentType: "application/json", body: jsonBody(`{"election_id": ` + itoa(id) + `}`)})
			var q api.QueueResponse
			if err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted) {
				err = json.Unmarshal(raw, &q)
			} else if err == nil {
				err = fmt.Errorf("answer %d: %s", resp.StatusCode, raw)
			}
			var status int
			if resp != nil {
				status = resp.StatusCode
			}
			answers[i] = answer{status, q.JobID, err}
		})
	}
	close(start)
	wg.Wait()
	started := 0
	for i, a := range answers {
		if a.err != nil {
			t.Fatalf("request %d: %v", i, a.err)
		}
		if a.job != answers[0].job {
			t.Fatalf("request %d answered job %s, request 0 job %s", i, a.job, answers[0].job)
		}
		if a.status == http.StatusAccepted {
			started++
		}
	}
	var tallies int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM election_jobs WHERE election_id = $1 AND operation_type = 'TALLY'`,
		id).Scan(&tallies); err != nil {
		t.Fatal(err)
	}
	if started != 1 || tallies != 1 {
		t.Fatalf("%d of %d requests started a job and the election has %d TALLY jobs; want 1 and 1", started, requests, tallies)
	}
}

// Five hundred concurrent pollers of a running job's status all get its
// status: no error, while the server's connection pool stays within its
// bound and no request gives up waiting for one of its connections.
func TestFiveHundredPollersOfARunningJob(t *testing.T) {
	f := newFixture(t)
	job := f.createJob(opNoop, 50_000, 1)
	f.runWorkers()
	const pollers, polls = 500, 8
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: pollers}}
	poll := request{method: "GET", path: "/api/jobs/" + job.JobID.String() + "/status"}
	var (
		failures, answered atomic.Int64
		firstFailure       atomic.Value
		mostConns          atomic.Int32
	)
	sampling, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			mostConns.Store(max(mostConns.Load(), f.pool.Stat().TotalConns()))
			select {
			case <-sampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for range pollers {
		wg.Go(func() {
			for range polls {
				resp, raw, err := sendWith(client, f.srv.URL, poll)
				var s jobs.JobStatus
				if err == nil && resp.StatusCode == http.StatusOK {
					err = json.Unmarshal(raw, &s)
				} else if err == nil {
					err = fmt.Errorf("answer %d: %s", resp.StatusCode, raw)
				}
				if err == nil && s.JobID != job.JobID {
					err = fmt.Errorf("answered the status of job %s", s.JobID)
				}
				if err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				answered.Add(1)
			}
		})
	}
	wg.Wait()
	close(sampling)
	<-sampled
	st, err := f.engine.Status(context.Background(), job.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.Terminal() {
		t.Fatalf("the job ended (%s) before the pollers did: it must be larger to be polled while it runs", st.Status)
	}
	stat := f.pool.Stat()
	if failures.Load() != 0 || answered.Load() != pollers*polls {
		t.Fatalf("%d of %d polls failed (first: %v)", failures.Load(), pollers*polls, firstFailure.Load())
	}
	if most := mostConns.Load(); most > stat.MaxConns() || stat.CanceledAcquireCount() != 0 {
		t.Fatalf("pool: up to %d connections of at most %d, %d acquires gave up", most, stat.MaxConns(), stat.CanceledAcquireCount())
	}
	t.Logf("%d polls answered while the job ran (%d of %d chunks done then); pool: up to %d of %d connections, %d acquires waited for one",
		answered.Load(), st.ProcessedChunks, st.TotalChunks, mostConns.Load(), stat.MaxConns(), stat.EmptyAcquireCount())
}
