package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
	"github.com/tallyq/tallyq/queue/rabbitmq"
)

// RabbitMQConfig sizes the RabbitMQ queue scenario.
type RabbitMQConfig struct {
	// URL is the AMQP URL of the node (kept out of the JSON result: it
	// holds a password).
	URL string `json:"-"`
	// Chunks is the number of no-op chunks (and raw messages) per round.
	Chunks int `json:"chunks"`
	// Workers is the worker count (and the raw consumer's prefetch).
	Workers int `json:"workers"`
	// Rounds alternates raw amqp091, the RabbitMQ broker and the River
	// broker this many times each.
	Rounds int `json:"rounds"`
	// Logger receives the brokers' and the engine's logs.
	Logger *slog.Logger `json:"-"`
}

// RabbitMQCPU is CPU time per chunk, in microseconds, of each process
// taking part.
type RabbitMQCPU struct {
	Self     float64 `json:"selfMicrosPerChunk"`
	Postgres float64 `json:"postgresMicrosPerChunk"`
	RabbitMQ float64 `json:"rabbitmqMicrosPerChunk"`
}

// RabbitMQResult is the outcome of the RabbitMQ queue scenario.
type RabbitMQResult struct {
	Config        RabbitMQConfig    `json:"config"`
	Postgres      map[string]string `json:"postgres"`
	RawAMQPPerSec []float64         `json:"rawAmqpPerSec"`
	BrokerPerSec  []float64         `json:"rabbitmqBrokerPerSec"`
	RiverPerSec   []float64         `json:"riverBrokerPerSec"`
	// ChunksPerMessage is, per round, the mean chunks a message of the
	// RabbitMQ broker carried (rabbitmq.Config.ChunksPerMessage).
	ChunksPerMessage []float64 `json:"rabbitmqChunksPerMessage"`
	// FloorPerSec is the engine alone: chunks through a Go channel, no
	// broker (floorBroker); it bounds what any broker can reach.
	FloorPerSec   []float64 `json:"engineFloorPerSec"`
	RawAMQPMedian float64   `json:"rawAmqpMedian"`
	BrokerMedian  float64   `json:"rabbitmqBrokerMedian"`
	RiverMedian   float64   `json:"riverBrokerMedian"`
	FloorMedian   float64   `json:"engineFloorMedian"`
	// FloorRatio is the engine alone over raw amqp091 (pairedRatio): the highest ratio a
	// broker on this engine could show in this run.
	FloorRatio     float64       `json:"engineFloorRatio"`
	Ratio          float64       `json:"ratio"`
	RawAMQPCPU     []RabbitMQCPU `json:"rawAmqpCPU"`
	BrokerCPU      []RabbitMQCPU `json:"rabbitmqBrokerCPU"`
	RiverCPU       []RabbitMQCPU `json:"riverBrokerCPU"`
	FloorCPU       []RabbitMQCPU `json:"engineFloorCPU"`
	RabbitMQServer string        `json:"rabbitmqServer"`
}

// benchPrefix names the scenario's queues on the node.
const benchPrefix = "tallyq-bench"

// RunRabbitMQ measures no-op chunks per second through the RabbitMQ broker
// with exact progress against raw amqp091 (persistent messages published
// with confirms to a quorum queue, then consumed with acks, on the same
// node), with the River broker's figure on the same database beside them
// and the engine's alone (floorBroker), alternating the four each round.
func RunRabbitMQ(ctx context.Context, pool *pgxpool.Pool, cfg RabbitMQConfig) (RabbitMQResult, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	res := RabbitMQResult{Config: cfg}
	var err error
	if res.Postgres, err = PostgresSettings(ctx, pool); err != nil {
		return res, err
	}
	for range cfg.Rounds {
		sides := []struct {
			name  string
			rate  func() (float64, error)
			rates *[]float64
			cpu   *[]RabbitMQCPU
		}{
			{"raw amqp091", func() (float64, error) { return rawAMQPRate(ctx, cfg, &res.RabbitMQServer) }, &res.RawAMQPPerSec, &res.RawAMQPCPU},
			{"RabbitMQ broker", func() (float64, error) {
				rate, perMessage, err := rabbitBrokerRate(ctx, pool, cfg)
				res.ChunksPerMessage = append(res.ChunksPerMessage, perMessage)
				return rate, err
			}, &res.BrokerPerSec, &res.BrokerCPU},
			{"River broker", func() (float64, error) {
				rate, _, err := brokerRate(ctx, pool, QueueConfig{Chunks: cfg.Chunks, Workers: cfg.Workers, Logger: cfg.Logger})
				return rate, err
			}, &res.RiverPerSec, &res.RiverCPU},
			{"engine alone", func() (float64, error) {
				return floorRate(ctx, pool, cfg.Chunks, cfg.Workers, cfg.Logger)
			}, &res.FloorPerSec, &res.FloorCPU},
		}
		for _, s := range sides {
			if err := vacuum(ctx, pool); err != nil {
				return res, err
			}
			if _, err := pool.Exec(ctx, `VACUUM ANALYZE amqp_outbox`); err != nil {
				return res, fmt.Errorf("vacuum the outbox: %w", err)
			}
			start := readCPU()
			rabbitStart := processCPU("beam.smp")
			r, err := s.rate()
			if err != nil {
				return res, fmt.Errorf("%s: %w", s.name, err)
			}
			c := costPer(start, cfg.Chunks)
			*s.rates = append(*s.rates, r)
			*s.cpu = append(*s.cpu, RabbitMQCPU{Self: c.SelfMicros, Postgres: c.PostgresMicros,
				RabbitMQ: float64((processCPU("beam.smp") - rabbitStart).Microseconds()) / float64(cfg.Chunks)})
		}
	}
	res.RawAMQPMedian, res.BrokerMedian, res.RiverMedian = median(res.RawAMQPPerSec), median(res.BrokerPerSec), median(res.RiverPerSec)
	res.FloorMedian = median(res.FloorPerSec)
	if res.RawAMQPMedian > 0 {
		res.Ratio = pairedRatio(res.BrokerPerSec, res.RawAMQPPerSec)
		res.FloorRatio = pairedRatio(res.FloorPerSec, res.RawAMQPPerSec)
	}
	return res, nil
}

// rawAMQPRate publishes cfg.Chunks persistent messages with confirms to a
// fresh quorum queue, then consumes them with an ack each, and returns
// messages per second over both.
func rawAMQPRate(ctx context.Context, cfg RabbitMQConfig, server *string) (float64, error) {
	conn, err := amqp.Dial(cfg.URL)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if p, ok := conn.Properties["version"].(string); ok {
		*server = "RabbitMQ " + p
	}
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	name := benchPrefix + ".raw-" + uuid.NewString()
	if _, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}); err != nil {
		return 0, fmt.Errorf("declare %s: %w", name, err)
	}
	defer ch.QueueDelete(name, false, false, false) //nolint:errcheck // measurement is over
	if err := ch.Confirm(false); err != nil {
		return 0, err
	}
	body, err := json.Marshal(queue.Message{JobID: uuid.New(), Chunk: 0, Operation: noopOp{}.Type()})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	// Confirms are awaited in windows, as the broker's relay does per batch.
	const window = 1000
	for sent := 0; sent < cfg.Chunks; sent += window {
		n := min(window, cfg.Chunks-sent)
		confirms := make([]*amqp.DeferredConfirmation, 0, n)
		for range n {
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", name, false, false, amqp.Publishing{
				ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: body,
			})
			if err != nil {
				return 0, fmt.Errorf("publish: %w", err)
			}
			confirms = append(confirms, dc)
		}
		for _, dc := range confirms {
			if ok, err := dc.WaitContext(ctx); err != nil || !ok {
				return 0, errors.Join(errors.New("a publish was not confirmed"), err)
			}
		}
	}
	if err := ch.Qos(cfg.Workers, 0, false); err != nil {
		return 0, err
	}
	deliveries, err := ch.Consume(name, "", false, false, false, false, nil)
	if err != nil {
		return 0, err
	}
	for got := 0; got < cfg.Chunks; got++ {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case d, ok := <-deliveries:
			if !ok {
				return 0, errors.New("the consumer's channel closed")
			}
			if err := d.Ack(false); err != nil {
				return 0, err
			}
		}
	}
	return float64(cfg.Chunks) / time.Since(start).Seconds(), nil
}

// rabbitBrokerRate runs one no-op job through a fresh RabbitMQ broker and
// returns chunks per second from the workers' start to the job's
// completion, as brokerRate does for River, and the mean chunks per
// message the broker published.
func rabbitBrokerRate(ctx context.Context, pool *pgxpool.Pool, cfg RabbitMQConfig) (rate, chunksPerMessage float64, err error) {
	b, err := rabbitmq.New(pool, rabbitmq.Config{URL: cfg.URL, Operations: []string{noopOp{}.Type()}, QueuePrefix: benchPrefix, Logger: cfg.Logger})
	if err != nil {
		return 0, 0, err
	}
	e, err := jobs.NewEngine(pool, b, jobs.Config{Logger: cfg.Logger})
	if err != nil {
		return 0, 0, err
	}
	if err := e.Register(noopOp{}); err != nil {
		return 0, 0, err
	}
	rate, err = timeJob(ctx, pool, e, cfg.Chunks, cfg.Workers)
	if messages, chunks := b.Published(); messages > 0 {
		chunksPerMessage = float64(chunks) / float64(messages)
	}
	return rate, chunksPerMessage, err
}
