package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/testdb"
)

// tinyPool is a pool small enough for CI: five test-group ballots, cached
// in the test's own directory.
func tinyPool(t *testing.T) PoolConfig {
	return PoolConfig{Group: "test", Size: 5, Spoiled: 1, CacheDir: t.TempDir()}
}

// A pool is generated once and then read back from its cache unchanged,
// and the elections made from it are distinct valid ballots.
func TestPoolCachedAndRelabelled(t *testing.T) {
	ctx := context.Background()
	cfg := tinyPool(t)
	first, err := LoadPool(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadPool(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if first.Reused || !second.Reused || first.Dir != second.Dir {
		t.Fatalf("reused: first %v, second %v; dirs %s, %s", first.Reused, second.Reused, first.Dir, second.Dir)
	}
	for i := range first.Ballots {
		a, _ := json.Marshal(first.Ballots[i])
		b, _ := json.Marshal(second.Ballots[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("pool ballot %d differs after caching", i)
		}
	}
	for i, p := range second.Ceremony.Private {
		s := p.ElectionKeys.KeyPair.SecretKey.Hex
		if s.Big().Sign() == 0 || !s.Equal(first.Ceremony.Private[i].ElectionKeys.KeyPair.SecretKey.Hex) {
			t.Fatalf("guardian %d's secret key was not cached", i)
		}
	}
	other := cfg
	other.Seed = 1
	if p, err := LoadPool(ctx, other); err != nil || p.Reused || p.Dir == first.Dir {
		t.Fatalf("another seed must be another pool: %v, reused %v, %s", err, p != nil && p.Reused, first.Dir)
	}

	const n, spoiled = 12, 2
	var buf bytes.Buffer
	if err := second.WriteBallots(ctx, &buf, Shape{Ballots: n, Spoiled: spoiled}); err != nil {
		t.Fatal(err)
	}
	var cast, spoil []*record.SubmittedBallot
	for _, b := range second.Ballots {
		if b.State == record.BallotSpoiled {
			spoil = append(spoil, b)
		} else {
			cast = append(cast, b)
		}
	}
	if len(spoil) != 1 || len(cast) != 4 {
		t.Fatalf("pool of %d spoiled and %d cast ballots, want 1 and 4", len(spoil), len(cast))
	}
	var ballots []*record.SubmittedBallot
	if err := record.ScanNDJSON(&buf, func(_ int, data []byte) error {
		i := len(ballots)
		from := spoil[0]
		if i >= spoiled {
			from = cast[(i-spoiled)%len(cast)]
		}
		want, err := second.Election.Relabel(from, BallotID(i))
		if err != nil {
			return err
		}
		var line bytes.Buffer
		if err := record.WriteNDJSON(&line, want); err != nil {
			return err
		}
		if !bytes.Equal(bytes.TrimSpace(line.Bytes()), bytes.TrimSpace(data)) {
			t.Errorf("line %d is not the relabelled ballot's JSON", i)
		}
		var b record.SubmittedBallot
		ballots = append(ballots, &b)
		return json.Unmarshal(data, &b)
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, b := range ballots {
		if b.ObjectID != BallotID(i) || seen[b.Code.String()] {
			t.Fatalf("ballot %d: id %s, code %s seen before: %v", i, b.ObjectID, b.Code, seen[b.Code.String()])
		}
		seen[b.Code.String()] = true
	}
	if len(ballots) != n {
		t.Fatalf("%d ballots written, want %d", len(ballots), n)
	}
	if err := errors.Join(second.Election.ValidateBallots(ballots)...); err != nil {
		t.Fatalf("relabelled ballots do not validate: %v", err)
	}
}

// TestTallyScenarioTiny runs the tally scenario at a tiny size so that it
// keeps working; it checks the run's results, never its speed.
func TestTallyScenarioTiny(t *testing.T) {
	pool := testdb.New(t, testdb.WithMaxConns(20))
	res, err := RunTally(context.Background(), pool, TallyConfig{Pool: tinyPool(t), Ballots: 20, Workers: 2, ChunkSize: 3, Rounds: 2, VerifiedRounds: 2,
		VerifiedBallots: 10, VerifiedChunkSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []TallyRates{res.Unverified, res.Verified} {
		if len(r.QueuePerSec) != 2 || len(r.InMemoryPerSec) != 2 || r.QueueMedian <= 0 || r.InMemoryMedian <= 0 || r.Ratio <= 0 || r.SeedRatio <= 0 {
			t.Fatalf("incomplete rates %+v", r)
		}
	}
	if len(res.PerProofPerSec) != 2 || res.PerProofMedian <= 0 || res.BatchSpeedup <= 0 {
		t.Fatalf("per-proof anchor %v, batch speedup %.2f", res.PerProofPerSec, res.BatchSpeedup)
	}
	if res.PoolSize != 5 || res.PoolReused || res.Postgres["fsync"] == "" {
		t.Fatalf("pool %d (reused %v), settings %v", res.PoolSize, res.PoolReused, res.Postgres)
	}
	t.Logf("unverified: queue %.0f/s, in memory %.0f/s (%.2f); verified: queue %.0f/s, in memory %.0f/s (%.2f)",
		res.Unverified.QueueMedian, res.Unverified.InMemoryMedian, res.Unverified.Ratio,
		res.Verified.QueueMedian, res.Verified.InMemoryMedian, res.Verified.Ratio)
}
