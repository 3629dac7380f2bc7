package jobs_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/jobs"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// countOp is an operation whose chunks each add one row; Complete runs once,
// after the last chunk has committed.
type countOp struct{}

func (countOp) Type() string                { return "COUNT" }
func (countOp) ChunkTimeout() time.Duration { return time.Minute }

// Process computes outside any transaction; its Result is applied in the
// transaction that marks the chunk done and counts it.
func (countOp) Process(ctx context.Context, c jobs.Chunk) (jobs.Result, error) {
	return jobs.ResultFunc(func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO example_counts (job_id, chunk_no) VALUES ($1, $2)`, c.JobID, c.Number)
		return err
	}), nil
}

func (countOp) Complete(ctx context.Context, tx pgx.Tx, job jobs.JobStatus) error {
	fmt.Printf("job done: %d of %d chunks\n", job.ProcessedChunks, job.TotalChunks)
	return nil
}

// Example shows an operation registered with an engine on the River broker,
// a job of ten chunks created, and workers running it while a client polls
// its status. It needs a migrated database in TALLYQ_DATABASE_URL.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("TALLYQ_DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	broker, err := riverbroker.New(pool, riverbroker.Config{})
	if err != nil {
		log.Fatal(err)
	}
	engine, err := jobs.NewEngine(pool, broker, jobs.Config{MaxAttempts: 3})
	if err != nil {
		log.Fatal(err)
	}
	if err := engine.Register(countOp{}); err != nil {
		log.Fatal(err)
	}
	job, err := engine.CreateJob(ctx, jobs.CreateParams{OperationType: "COUNT", TotalChunks: 10, CreatedBy: "example"})
	if err != nil {
		log.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go engine.RunMaintenance(runCtx)                                //nolint:errcheck // returns nil when stopped
	go engine.RunWorkers(runCtx, jobs.WorkerConfig{Concurrency: 2}) //nolint:errcheck // returns nil when stopped

	for {
		s, err := engine.Status(ctx, job.JobID)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %.0f%%\n", s.Status, s.ProgressPercent)
		if s.Status.Terminal() {
			return
		}
		time.Sleep(2 * time.Second) // a client polls; the engine needs no sleep
	}
}
