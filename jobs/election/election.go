// Package election runs an ElectionGuard election's operations as tallyq
// jobs: ballot ingest, the verified tally, each guardian's decryption,
// compensation for missing guardians and the combine that yields verifiable
// results, plus reading results and exporting the election record.
//
// Every operation is a jobs.Operation registered with the engine, so it is
// chunked, exactly counted, retried and recovered like any job. Postgres holds
// everything: ballots in eg/record's compact encoding, chunk subtotals, the
// one encrypted tally, shares, results, and guardian secrets sealed with
// internal/seal.
//
// An election moves through the states OPEN → TALLYING → TALLIED →
// DECRYPTING → COMBINING → DECRYPTED; asking for an operation in the wrong
// state is an error wrapping ErrConflict that says what must happen first.
package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/seal"
	"github.com/tallyq/tallyq/jobs"
)

// State is an election's place in the pipeline.
type State string

// The election states, in pipeline order.
const (
	StateOpen       State = "OPEN"
	StateTallying   State = "TALLYING"
	StateTallied    State = "TALLIED"
	StateDecrypting State = "DECRYPTING"
	StateCombining  State = "COMBINING"
	StateDecrypted  State = "DECRYPTED"
)

// Operation types of the election jobs.
const (
	OpTally      = "TALLY"
	OpDecryption = "DECRYPTION"
	OpCombine    = "COMBINE"
	// OpCompensation is the design's operation of the missing guardians'
	// shares. Here they are the first stage of the COMBINE job, so no job
	// has this type; brokers and metrics still name it, so that a
	// deployment's queues and dashboards stay as the design lists them.
	OpCompensation = "COMPENSATION"
)

// Operations returns the operation types, in pipeline order, for the
// brokers' queues and the metrics.
func Operations() []string {
	return []string{OpTally, OpDecryption, OpCompensation, OpCombine}
}

// DefaultChunkSize is the number of ballots in a tally chunk, chosen with
// `tallyq bench tally` (2,000 4096-bit ballots, 2 workers, Postgres on the
// same 2 cores): an unverified tally through the queue ran at 0.55× the
// in-memory rate with chunks of 100 and 0.71–0.73× with 500, where Postgres
// spends least per ballot; 1,000 was no better. A verified chunk of 500 takes
// about half a minute per worker at 4096 bits, still a smooth progress bar
// (the seed's system used 50).
const DefaultChunkSize = 500

// TallyObjectID is the object id of the encrypted tally, as 1.x names it.
const TallyObjectID = "election-results"

// Errors of the election service; test with errors.Is.
var (
	// ErrNotFound means no election (or guardian, or ballot) has that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the election's state does not allow the request.
	ErrConflict = errors.New("election state does not allow this")
	// ErrInvalid means the request's data is invalid.
	ErrInvalid = errors.New("invalid election data")
	// ErrNoSecretKey means the server has no key to seal guardian secrets.
	ErrNoSecretKey = errors.New("no secret key")
)

// Config configures a Service.
type Config struct {
	// ChunkSize is the number of ballots per tally chunk; 0 means DefaultChunkSize.
	ChunkSize int
	// SecretKey seals guardian secrets. Without one, server-side decryption
	// is refused (offline decryption still works).
	SecretKey *seal.Key
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

// Service runs the election pipeline on a job engine.
type Service struct {
	pool   *pgxpool.Pool
	engine *jobs.Engine
	cfg    Config
	log    *slog.Logger

	mu        sync.Mutex
	groups    map[string]*eg.Group
	elections map[int64]*loaded
}

// New returns the election service and registers its operations with the
// engine.
func New(pool *pgxpool.Pool, engine *jobs.Engine, cfg Config) (*Service, error) {
	if cfg.ChunkSize < 0 {
		return nil, fmt.Errorf("election: chunk size %d is negative", cfg.ChunkSize)
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	s := &Service{pool: pool, engine: engine, cfg: cfg, log: cfg.Logger,
		groups: map[string]*eg.Group{}, elections: map[int64]*loaded{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, op := range []jobs.Operation{&tallyOp{s}, &decryptionOp{s}, &combineOp{s}} {
		if err := engine.Register(op); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// group returns the group of that name, built once per service (building one
// precomputes its generator table).
func (s *Service) group(name string) (*eg.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.groups[name]; ok {
		return g, nil
	}
	var g *eg.Group
	switch name {
	case "standard":
		g = eg.Standard()
	case "test":
		g = eg.TestGroup()
	default:
		return nil, fmt.Errorf("unknown group %q", name)
	}
	s.groups[name] = g
	return g, nil
}

// groupOf returns the known group whose constants these are.
func (s *Service) groupOf(c *record.Constants) (*eg.Group, error) {
	for _, name := range []string{"standard", "test"} {
		g, err := s.group(name)
		if err != nil {
			return nil, err
		}
		if c.Matches(g) {
			return g, nil
		}
	}
	return nil, fmt.Errorf("%w: constants.json is neither ElectionGuard's standard group nor tallyq's test group", ErrInvalid)
}

// loaded is an election's immutable cryptographic data, prepared once.
type loaded struct {
	id        int64
	group     *eg.Group
	election  *record.Election
	guardians []*record.GuardianRecord // in sequence order

	decMu sync.Mutex
	dec   *record.Decryptor
}

// maxCachedElections bounds the prepared elections a service keeps.
const maxCachedElections = 64

// load returns an election's prepared data. Manifest, context and guardians
// never change after import, so the result is cached.
func (s *Service) load(ctx context.Context, id int64) (*loaded, error) {
	return s.loadWith(ctx, s.pool, id)
}

// queryer is a pool or a transaction.
type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// rowsQueryer is a pool or a transaction, read through by a caller that may
// hold a transaction: one holding a transaction must not take a second
// connection of the pool (see jobs.Engine.StatusTx).
type rowsQueryer interface {
	queryer
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// loadWith is load reading through q, so that a transaction that has just
// created an election can use it.
func (s *Service) loadWith(ctx context.Context, q queryer, id int64) (*loaded, error) {
	s.mu.Lock()
	l, ok := s.elections[id]
	s.mu.Unlock()
	if ok {
		return l, nil
	}
	var (
		groupName                   string
		manifest, context, guardArr []byte
	)
	err := q.QueryRow(ctx, `SELECT e.group_name, e.manifest, e.context,
			(SELECT jsonb_agg(g.public_record ORDER BY g.sequence_order) FROM guardians g WHERE g.election_id = e.election_id)
		FROM elections e WHERE e.election_id = $1`, id).Scan(&groupName, &manifest, &context, &guardArr)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: election %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read election %d: %w", id, err)
	}
	g, err := s.group(groupName)
	if err != nil {
		return nil, err
	}
	l = &loaded{id: id, group: g}
	var (
		m record.Manifest
		c record.Context
	)
	if err := errors.Join(json.Unmarshal(manifest, &m), json.Unmarshal(context, &c), json.Unmarshal(guardArr, &l.guardians)); err != nil {
		return nil, fmt.Errorf("decode stored election %d: %w", id, err)
	}
	if l.election, err = record.NewElection(g, &m, &c); err != nil {
		return nil, fmt.Errorf("prepare election %d: %w", id, err)
	}
	s.mu.Lock()
	if len(s.elections) >= maxCachedElections {
		clear(s.elections)
	}
	s.elections[id] = l
	s.mu.Unlock()
	return l, nil
}

// decryptor returns the election's decryptor, built once: its discrete-log
// table reaches maxCount (the number of ballots, fixed once ingest has
// closed), which is read only for that first build. A failed build is tried
// again on the next call.
func (l *loaded) decryptor(maxCount func() (int64, error)) (*record.Decryptor, error) {
	l.decMu.Lock()
	defer l.decMu.Unlock()
	if l.dec != nil {
		return l.dec, nil
	}
	n, err := maxCount()
	if err != nil {
		return nil, err
	}
	if l.dec, err = l.election.NewDecryptor(l.guardians, uint64(max(n, 1))); err != nil {
		return nil, err
	}
	return l.dec, nil
}

// lockElection locks an election's row for a state change and returns its state.
func lockElection(ctx context.Context, tx pgx.Tx, id int64) (State, error) {
	var st State
	err := tx.QueryRow(ctx, `SELECT state FROM elections WHERE election_id = $1 FOR UPDATE`, id).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: election %d", ErrNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("lock election %d: %w", id, err)
	}
	return st, nil
}

func setState(ctx context.Context, tx pgx.Tx, id int64, st State) error {
	if _, err := tx.Exec(ctx, `UPDATE elections SET state = $2, updated_at = now() WHERE election_id = $1`, id, string(st)); err != nil {
		return fmt.Errorf("set election %d %s: %w", id, st, err)
	}
	return nil
}

// wrongState is the conflict error of an operation asked for in state st.
func wrongState(id int64, st State, what string) error {
	return fmt.Errorf("%w: election %d is %s; %s", ErrConflict, id, st, what)
}
