package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/bench"
	"github.com/tallyq/tallyq/migrations"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "run a benchmark scenario against its anchor in the same run (" + strings.Join(benchScenarioNames(), ", ") + ")",
		run:     runBench,
	})
}

// benchScenario is one scenario of `tallyq bench`: its help, its flags and
// how it runs and prints.
type benchScenario struct {
	name, summary string
	// options returns the scenario's flags, unparsed.
	options func() benchOptions
}

// benchOptions are a scenario's flags, which also run it.
type benchOptions interface {
	options
	// common returns the flags every scenario has.
	common() *benchCommon
	// slots is how many database connections the scenario keeps busy.
	slots() int
	// run runs the scenario, prints its table and returns its result.
	run(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error)
}

var benchScenarios = []benchScenario{
	{name: "queue", options: func() benchOptions { return &queueBenchOptions{} },
		summary: "queue: no-op chunks per second through the River broker with exact progress, next to raw\nRiver no-op jobs per second on the same database in the same run, and their ratio; and\nthe time to create a large job. With --broker rabbitmq: chunks per second through the\nRabbitMQ broker next to raw amqp091 (persistent, confirmed publishes to a quorum queue,\nthen acked consumes) on the same node, their ratio, and the River broker beside them."},
	{name: "tally", options: func() benchOptions { return &tallyBenchOptions{} },
		summary: "tally: ballots per second of the tally job, unverified and verified, with --workers\nin-process slots, next to the in-memory rate of the same operations on the same stored\nballots with as many goroutines, their ratios, and the ratio to the seed system's 5\nballots/s per worker. Ballots are relabelled copies of a cached pool of encrypted ones."},
	{name: "memory", options: func() benchOptions { return &memoryBenchOptions{} },
		summary: "memory: the peak resident set (VmHWM) of a separate `tallyq worker` process tallying\nelections of each --sizes at each --chunk-sizes, and the ratio of the largest to the\nsmallest. Each size is ingested once and re-tallied per chunk size."},
	{name: "pipeline", options: func() benchOptions { return &pipelineBenchOptions{} },
		summary: "pipeline: a whole election on --broker with in-process workers: the wall time of the\ntally (unverified), each guardian's decryption, the compensation for the --missing\nguardians and the combine; and the modular exponentiations counted against what\ndecrypting every chunk's subtotal would need. Ballots are stored as checked copies of a\ncached pool (see IngestChecked); the ingest is not part of the pipeline's time."},
	{name: "scale", options: func() benchOptions { return &scaleBenchOptions{} },
		summary: "scale: the verified tally rate (CPU-bound) with --processes `tallyq worker --concurrency 1`\nprocesses against one, alternating, and the speedup."},
	{name: "api", options: func() benchOptions { return &apiBenchOptions{} },
		summary: "api: GET /api/jobs/{id}/status latency (p50, p99) and errors of --pollers clients of a\n`tallyq serve` while its workers run a verified tally, against the same polling with\nnothing running."},
	{name: "chaos", options: func() benchOptions { return &chaosBenchOptions{} },
		summary: "chaos: not a benchmark but a fault-injection run (`make chaos`): a whole election (tally,\n--missing guardians compensated, combine) on --workers `tallyq worker` processes while one\nof them is SIGKILLed every --kill-min to --kill-max and started again, the Postgres of\n--postgres-dir is crashed once (pg_ctl -m immediate) and, with --broker rabbitmq, the node of\n--rabbitmq-dir is killed once (SIGKILL). Then the results must equal the voters' plaintext,\nevery job must have completed with processed == total chunks, and an audit of the result\ntables must find every chunk's effect exactly once. It prints the kills and crashes survived."},
	{name: "create", options: func() benchOptions { return &createBenchOptions{} },
		summary: "create: the time to create a --chunks no-op job through the engine (one transaction:\nthe job, a row per chunk, a River job per chunk of its first enqueue window) against\ninserting a raw River job per chunk, and this process's peak memory (VmHWM)."},
}

func benchScenarioNames() []string {
	names := make([]string, len(benchScenarios))
	for i, s := range benchScenarios {
		names[i] = s.name
	}
	return names
}

// benchCommon are the flags of every scenario.
type benchCommon struct {
	dbOptions
	jsonPath string
}

func (o *benchCommon) common() *benchCommon { return o }

func (o *benchCommon) register(fs *flagSet) {
	o.dbOptions.register(fs)
	fs.StringEnv(&o.jsonPath, "json", "TALLYQ_BENCH_JSON", "",
		"also write the result as JSON into this `file`, under the scenario's name (other scenarios' results in it are kept)")
}

func runBench(ctx context.Context, e *env, args []string) error {
	names := benchScenarioNames()
	flags, name, err := splitWord(args, append(names, benchReportName)...)
	if err != nil {
		return err
	}
	if name == benchReportName {
		return runBenchReport(e, flags)
	}
	if name == "" {
		name = "queue"
	}
	var sc benchScenario
	for _, s := range benchScenarios {
		if s.name == name {
			sc = s
		}
	}
	opts := sc.options()
	summary := sc.summary + "\nRun it on a database that serves nothing else."
	if err := parseOptions(e, flags, "bench", "[flags] "+strings.Join(names, "|"), summary, opts); err != nil {
		return err
	}
	c := opts.common()
	logger := c.logger(e)
	pool, err := connect(ctx, c.databaseURL, opts.slots(), 0, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.New(pool).Check(ctx); err != nil {
		return err
	}
	res, err := opts.run(ctx, e, pool, logger)
	if err != nil {
		return fmt.Errorf("%s benchmark: %w", sc.name, err)
	}
	if c.jsonPath != "" {
		key := sc.name
		if k, ok := opts.(interface{ jsonKey() string }); ok {
			key = k.jsonKey()
		}
		return mergeBenchJSON(c.jsonPath, key, res)
	}
	return nil
}

// mergeBenchJSON writes res under key name into the JSON object in path,
// keeping the other scenarios' results already there.
func mergeBenchJSON(path, name string, res any) error {
	all := map[string]json.RawMessage{}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	default:
		var old map[string]json.RawMessage
		if json.Unmarshal(b, &old) == nil {
			for _, n := range append(benchScenarioNames(), queueRabbitMQKey, pipelineRabbitMQKey, "chaos-river", "chaos-rabbitmq") {
				if v, ok := old[n]; ok {
					all[n] = v
				}
			}
		}
	}
	if all[name], err = json.Marshal(res); err != nil {
		return err
	}
	if b, err = json.MarshalIndent(all, "", "  "); err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// queueBenchOptions are the flags of `tallyq bench queue`.
type queueBenchOptions struct {
	benchCommon
	chunks       int
	workers      int
	rounds       int
	createChunks int
	broker       choiceValue
	amqpURL      string
}

func (o *queueBenchOptions) register(fs *flagSet) {
	o.benchCommon.register(fs)
	fs.IntEnv(&o.chunks, "chunks", "TALLYQ_BENCH_CHUNKS", 20_000, "no-op chunks (and raw River jobs) per round")
	fs.IntEnv(&o.workers, "workers", "TALLYQ_BENCH_WORKERS", 200, "worker count of both the broker and raw River")
	fs.IntEnv(&o.rounds, "rounds", "TALLYQ_BENCH_ROUNDS", 3, "rounds, alternating raw River and the broker; the medians are compared")
	fs.IntEnv(&o.createChunks, "create-chunks", "TALLYQ_BENCH_CREATE_CHUNKS", 100_000, "size of the job whose creation is timed (0: skip)")
	o.broker = choiceValue{value: "river", choices: []string{"river", "rabbitmq"}}
	fs.VarEnv(&o.broker, "broker", "TALLYQ_BROKER",
		"`broker` measured: river (against raw River), or rabbitmq (against raw amqp091 on the node of --amqp-url, with the River broker beside)")
	fs.StringEnv(&o.amqpURL, "amqp-url", "TALLYQ_AMQP_URL", "", "RabbitMQ URL with credentials, for --broker rabbitmq")
}

func (o *queueBenchOptions) validate() error {
	if o.chunks < 1 || o.workers < 1 || o.rounds < 1 || o.createChunks < 0 {
		return usagef("--chunks, --workers and --rounds must be positive and --create-chunks not negative")
	}
	if o.broker.value == "rabbitmq" && o.amqpURL == "" {
		return usagef("--broker rabbitmq needs --amqp-url or TALLYQ_AMQP_URL")
	}
	return o.dbOptions.validate()
}

func (o *queueBenchOptions) slots() int { return o.workers }

func (o *queueBenchOptions) run(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error) {
	if o.broker.value == "rabbitmq" {
		return o.runRabbitMQ(ctx, e, pool, logger)
	}
	res, err := bench.RunQueue(ctx, pool, bench.QueueConfig{
		Chunks: o.chunks, Workers: o.workers, Rounds: o.rounds, CreateChunks: o.createChunks, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	printQueueResult(e, res)
	return res, nil
}

func printQueueResult(e *env, r bench.QueueResult) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "queue benchmark\t%d chunks/round, %d workers, %d rounds, %d CPUs\n", r.Config.Chunks, r.Config.Workers, r.Config.Rounds, runtime.NumCPU())
	printPostgres(w, r.Postgres)
	fmt.Fprintf(w, "raw River no-op jobs/s\t%s (median %.0f)\n", rates(r.RawRiverPerSec), r.RawRiverMedian)
	fmt.Fprintf(w, "River broker chunks/s, exact progress\t%s (median %.0f)\n", rates(r.BrokerPerSec), r.BrokerMedian)
	fmt.Fprintf(w, "River broker chunks per River job\t%s\n", join(r.ChunksPerJob, " ", tenths))
	fmt.Fprintf(w, "ratio broker / raw River\t%.2f\n", r.Ratio)
	fmt.Fprintf(w, "CPU µs per chunk (this process + Postgres)\traw River %s; broker %s\n", cpuCosts(r.RawRiverCPU), cpuCosts(r.BrokerCPU))
	if r.Config.CreateChunks > 0 {
		fmt.Fprintf(w, "create a %d-chunk job\t%.2f s (%.0f chunks/s)\n", r.Config.CreateChunks, r.CreateSeconds, r.CreateChunksPer)
	}
	w.Flush()
}

func printPostgres(w *tabwriter.Writer, pg map[string]string) {
	fmt.Fprintf(w, "postgres\t%s; fsync=%s synchronous_commit=%s full_page_writes=%s\n",
		pg["server_version"], pg["fsync"], pg["synchronous_commit"], pg["full_page_writes"])
}

func cpuCosts(cs []bench.CPUCost) string {
	return join(cs, ", ", func(c bench.CPUCost) string { return fmt.Sprintf("%.0f+%.0f", c.SelfMicros, c.PostgresMicros) })
}

func rates(xs []float64) string {
	return join(xs, " ", func(x float64) string { return fmt.Sprintf("%.0f", x) })
}

// tenths formats x with one decimal.
func tenths(x float64) string { return fmt.Sprintf("%.1f", x) }

// join formats each element of xs and joins them with sep.
func join[T any](xs []T, sep string, format func(T) string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = format(x)
	}
	return strings.Join(parts, sep)
}
