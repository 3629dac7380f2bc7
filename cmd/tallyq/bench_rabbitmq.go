package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/bench"
)

// queueRabbitMQKey is the key of `bench queue --broker rabbitmq`'s result in
// the --json file, beside the River result under "queue".
const queueRabbitMQKey = "queue-rabbitmq"

// jsonKey keeps the two brokers' queue results apart in the --json file.
func (o *queueBenchOptions) jsonKey() string {
	if o.broker.value == "rabbitmq" {
		return queueRabbitMQKey
	}
	return "queue"
}

// runRabbitMQ is `tallyq bench queue --broker rabbitmq`.
func (o *queueBenchOptions) runRabbitMQ(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error) {
	res, err := bench.RunRabbitMQ(ctx, pool, bench.RabbitMQConfig{
		URL: o.amqpURL, Chunks: o.chunks, Workers: o.workers, Rounds: o.rounds, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	printRabbitMQResult(e, res)
	return res, nil
}

func printRabbitMQResult(e *env, r bench.RabbitMQResult) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "queue benchmark, RabbitMQ\t%d chunks/round, %d workers, %d rounds, %d CPUs\n", r.Config.Chunks, r.Config.Workers, r.Config.Rounds, runtime.NumCPU())
	printPostgres(w, r.Postgres)
	fmt.Fprintf(w, "rabbitmq\t%s\n", r.RabbitMQServer)
	fmt.Fprintf(w, "raw amqp091 msgs/s (confirmed publish, then acked consume)\t%s (median %.0f)\n", rates(r.RawAMQPPerSec), r.RawAMQPMedian)
	fmt.Fprintf(w, "RabbitMQ broker chunks/s, exact progress\t%s (median %.0f)\n", rates(r.BrokerPerSec), r.BrokerMedian)
	fmt.Fprintf(w, "RabbitMQ broker chunks per message\t%s\n", join(r.ChunksPerMessage, " ", tenths))
	fmt.Fprintf(w, "River broker chunks/s, exact progress\t%s (median %.0f)\n", rates(r.RiverPerSec), r.RiverMedian)
	fmt.Fprintf(w, "engine alone chunks/s (no broker: a Go channel)\t%s (median %.0f)\n", rates(r.FloorPerSec), r.FloorMedian)
	fmt.Fprintf(w, "ratio RabbitMQ broker / raw amqp091\t%.2f\n", r.Ratio)
	fmt.Fprintf(w, "ceiling: engine alone / raw amqp091\t%.2f\n", r.FloorRatio)
	fmt.Fprintf(w, "CPU µs per chunk (this process + Postgres + RabbitMQ)\traw amqp091 %s; RabbitMQ broker %s; River broker %s; engine alone %s\n",
		rabbitCPU(r.RawAMQPCPU), rabbitCPU(r.BrokerCPU), rabbitCPU(r.RiverCPU), rabbitCPU(r.FloorCPU))
	w.Flush()
}

func rabbitCPU(cs []bench.RabbitMQCPU) string {
	return join(cs, ", ", func(c bench.RabbitMQCPU) string {
		return fmt.Sprintf("%.0f+%.0f+%.0f", c.Self, c.Postgres, c.RabbitMQ)
	})
}
