package bench

import (
	"strings"
	"testing"
	"time"
)

// The report has the machine, a row per figure with its anchor and ratio,
// and names the ratio weakest against its target.
func TestWriteReport(t *testing.T) {
	pg := map[string]string{"server_version": "15.18", "fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
	r := &Results{
		Queue:         &QueueResult{Config: QueueConfig{Chunks: 100, Workers: 4, Rounds: 1}, Postgres: pg, BrokerMedian: 600, RawRiverMedian: 1000, Ratio: 0.6},
		QueueRabbitMQ: &RabbitMQResult{BrokerMedian: 800, RawAMQPMedian: 1000, RiverMedian: 600, Ratio: 0.8, RabbitMQServer: "RabbitMQ 3.10.8"},
		Tally: &TallyResult{Config: TallyConfig{Ballots: 20, ChunkSize: 5, Workers: 2, Rounds: 1, VerifiedRounds: 1, VerifiedBallots: 10, VerifiedChunkSize: 2},
			Unverified:     TallyRates{QueueMedian: 700, InMemoryMedian: 1000, Ratio: 0.7, PerWorker: 350, SeedRatio: 70},
			Verified:       TallyRates{QueueMedian: 30, InMemoryMedian: 31, Ratio: 0.97, PerWorker: 15, SeedRatio: 3},
			PerProofMedian: 20, BatchSpeedup: 1.55},
		Memory: &MemoryResult{Config: MemoryConfig{Sizes: []int{1000}, ChunkSizes: []int{50}, Concurrency: 2, MemoryBudget: "256MiB"},
			Runs: []MemoryRun{{Ballots: 1000, ChunkSize: 50, VmHWMMiB: 30}}, MinMiB: 25, MaxMiB: 30, Ratio: 1.2},
		Pipeline: &PipelineResult{Config: PipelineConfig{Pool: PoolConfig{Group: "standard", Size: 500, Spoiled: 25}, Ballots: 100000, Spoiled: 100, Missing: 2, ChunkSize: 500, Workers: 2},
			Broker: "river", Guardians: 5, Quorum: 3, TallySeconds: 40, TallyChunks: 200, DecryptionSeconds: []float64{10, 11, 12},
			CompensationSeconds: 50, CombineSeconds: 30, TotalSeconds: 160,
			Exps: PipelineExps{Measured: 50000, PerChunk: 100000, TallySelections: 12, SpoiledSelections: 1600, Ratio: 2,
				Shares: 14508, PerShare: 3.4, PerChunkAtOurCost: 340000, RatioAtOurCost: 6.8}},
		Scale: &ScaleResult{Config: ScaleConfig{Ballots: 300, ChunkSize: 10, Scaled: 2, Rounds: 1}, OneMedian: 10, ManyMedian: 18, Speedup: 1.8},
		API: &APIResult{Config: APIConfig{Pollers: 200, Interval: 250 * time.Millisecond, Workers: 2, Ballots: 300}, Busy: Latency{Requests: 900, P50Ms: 2, P99Ms: 10}, Idle: Latency{Requests: 100, P50Ms: 1, P99Ms: 4}, Ratio: 2.5, JobSeconds: 12,
			Separate: Latency{Requests: 800, P50Ms: 1, P99Ms: 8}, SeparateRatio: 2, SeparateJobSeconds: 13},
		Create: &CreateResult{Config: CreateConfig{Chunks: 1000000}, CreateSeconds: 8, RawRiverSeconds: 6, Ratio: 0.75, StartRSSMiB: 20, VmHWMMiB: 120},
	}
	var b strings.Builder
	m := Machine{CPU: "Test CPU", Cores: 2, Date: time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC), Commit: "abc123", Command: "make bench"}
	if err := WriteReport(&b, r, m, "## Notes\n\nhand-written\n"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| commit | abc123 |", "| CPU | Test CPU, 2 cores |", "fsync=on, synchronous_commit=on", "RabbitMQ 3.10.8",
		"| queue | no-op chunks/s, River broker, exact progress | 600/s | raw River no-op jobs 1,000/s | 0.60× | ≥ 0.5× |",
		"raw amqp091 persistent+confirms 1,000/s | 0.80× |",
		"| tally | ballots/s unverified, through the queue | 700/s | in memory 1,000/s | 0.70× | ≥ 0.7× |",
		"proof by proof 20.0/s | 1.55× |", "10 ballots, chunks of 2",
		"| pipeline (river) | wall time: tally / decryptions / compensation / combine | 40.0 s / 10.0 s, 11.0 s, 12.0 s / 50.0 s / 30.0 s |",
		"per-chunk decryption 100,000 = (200 chunks × 12 + 1600 spoiled selections) × 5² | 2.00 |",
		"| pipeline (river) | the same, per-chunk at our cost per share | 50,000 (14,508 shares, 3.4 each) | per-chunk decryption 340,000 | 6.80 |",
		"| memory | worker VmHWM, largest of all sizes and chunk sizes | 30.0 MiB | smallest 25.0 MiB | 1.20× |",
		"| create | create a 1,000,000-chunk job through the engine | 8.0 s | raw River insert 6.0 s |", "peak VmHWM 120.0 MiB",
		"| scale | verified tally ballots/s, 2 worker processes | 18.0/s | 1 process 10.0/s | 1.80× | ≥ 1.7× |",
		"| api | status p99 while the server's own workers run a job | 10.0 ms (p50 2.0 ms) | idle p99 4.0 ms (p50 1.0 ms) | 2.50× | p99 < 20 ms |",
		"| api | status p99 while a separate worker process runs the job | 8.0 ms (p50 1.0 ms) | idle p99 4.0 ms (p50 1.0 ms) | 2.00× | p99 < 20 ms |",
		"| api | status errors while a job runs | 0 of 900, 0 of 800 |",
		// Slack: queue 1.2, tally 1.0, memory 1.0, create 1.25, scale 1.06, api 2: tally's unverified ratio comes first.
		"Weakest against its target: **tally, ballots/s unverified, through the queue: 0.70×** (target ≥ 0.7×, met; 1.00 of the target).",
		"## Notes\n\nhand-written\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// pairedRatio takes each round against its own anchor: a machine twice as
// slow in one round moves neither side's ratio.
func TestPairedRatio(t *testing.T) {
	xs, anchors := []float64{700, 350, 800}, []float64{1000, 500, 1000}
	if got := pairedRatio(xs, anchors); got != 0.7 {
		t.Fatalf("pairedRatio = %v; want the median of 0.7, 0.7, 0.8: 0.7", got)
	}
	if got := pairedRatio([]float64{1}, []float64{0}); got != 0 {
		t.Fatalf("pairedRatio without an anchor = %v; want 0", got)
	}
}
