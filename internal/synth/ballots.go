package synth

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/tallyq/tallyq/eg/record"
)

// BallotOptions say which ballots Generate encrypts.
type BallotOptions struct {
	// Count is the number of ballots; Spoiled how many of them are spoiled
	// (spread evenly, see Spoiled), the others cast.
	Count, Spoiled int
	// Seed chooses the voters' choices (see Plaintext).
	Seed uint64
	// Workers is the number of goroutines encrypting, each with its own
	// device of Devices(Workers); 0 means runtime.NumCPU().
	Workers int
	// Timestamp is when ballot 0 was cast, in Unix seconds; ballot i is
	// cast Timestamp+i. 0 means DefaultTimestamp.
	Timestamp int64
	// Progress, when set, is called after each ballot is emitted with the
	// number emitted so far, from the goroutine that called Generate.
	Progress func(emitted int)
}

// DefaultTimestamp is 2026-11-03 12:00 UTC, the synthetic election day.
const DefaultTimestamp = 1793707200

// Expected is what decrypting a set of synthetic ballots must give.
type Expected struct {
	// Cast and Spoiled count the ballots by state.
	Cast, Spoiled int
	// Tally is the cast ballots' votes by contest and selection id; every
	// selection of the manifest is present, zeros included.
	Tally map[string]map[string]int64
	// SpoiledBallots are the spoiled ballots' votes by ballot, contest and
	// selection id, every selection and placeholder included: ElectionGuard
	// fills a contest's placeholders up to its limit and decrypts them too.
	SpoiledBallots map[string]map[string]map[string]int64
}

// NewExpected returns the outcome of no ballots in an election of manifest
// m: every selection present with zero votes. Add counts ballots into it.
func NewExpected(m *record.Manifest) *Expected {
	x := &Expected{Tally: map[string]map[string]int64{}, SpoiledBallots: map[string]map[string]map[string]int64{}}
	for _, c := range m.Contests {
		x.Tally[c.ObjectID] = map[string]int64{}
		for _, s := range c.BallotSelections {
			x.Tally[c.ObjectID][s.ObjectID] = 0
		}
	}
	return x
}

// Add counts a ballot's plaintext, cast or spoiled as state says; a spoiled
// ballot is keyed by p.ObjectID.
func (x *Expected) Add(m *record.Manifest, p *record.PlaintextBallot, state record.BallotState) {
	if state == record.BallotSpoiled {
		x.Spoiled++
		x.SpoiledBallots[p.ObjectID] = decryptedVotes(m, p)
		return
	}
	x.Cast++
	for _, c := range p.Contests {
		for _, s := range c.BallotSelections {
			x.Tally[c.ObjectID][s.ObjectID] += int64(s.Vote)
		}
	}
}

// decryptedVotes is what decrypting the ballot gives: every selection of
// its contests, and placeholders set to 1 in order while the contest's
// votes are below its limit, as record.Encrypter fills them.
func decryptedVotes(m *record.Manifest, p *record.PlaintextBallot) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, pc := range p.Contests {
		d, _ := m.Contest(pc.ObjectID)
		votes := map[string]int64{}
		for _, s := range d.BallotSelections {
			votes[s.ObjectID] = 0
		}
		total := 0
		for _, s := range pc.BallotSelections {
			votes[s.ObjectID] = int64(s.Vote)
			total += s.Vote
		}
		for _, s := range d.Placeholders() {
			votes[s.ObjectID] = 0
			if total < d.Limit() {
				votes[s.ObjectID] = 1
				total++
			}
		}
		out[pc.ObjectID] = votes
	}
	return out
}

// encrypted is one worker's result.
type encrypted struct {
	i      int
	plain  *record.PlaintextBallot
	ballot *record.SubmittedBallot
	err    error
}

// Generate encrypts opts.Count ballots on opts.Workers goroutines and calls
// emit with each, in ballot order, from the calling goroutine; it returns
// what decrypting them must give. At most a few ballots per worker are held
// at once, so any number can be streamed. Encryption is the cost: about
// 4·(selections + placeholders) exponentiations per contest.
func (e *Election) Generate(ctx context.Context, opts BallotOptions, emit func(*record.SubmittedBallot) error) (*Expected, error) {
	if opts.Count < 0 || opts.Spoiled < 0 || opts.Spoiled > opts.Count {
		return nil, fmt.Errorf("synth: %d ballots of which %d spoiled; want 0 ≤ spoiled ≤ ballots", opts.Count, opts.Spoiled)
	}
	workers := cmp.Or(opts.Workers, runtime.NumCPU())
	ts := cmp.Or(opts.Timestamp, DefaultTimestamp)
	ctx, cancel := context.WithCancel(ctx)

	// window bounds the ballots between being handed out and emitted; results
	// has room for all of them, so a worker never blocks on sending.
	window := 4 * workers
	slots := make(chan struct{}, window)
	indices := make(chan int)
	results := make(chan encrypted, window)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait() // workers stop at their next ballot
	}()
	wg.Go(func() {
		defer close(indices)
		for i := range opts.Count {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case indices <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	for _, dev := range e.Devices(workers) {
		x := e.Election.NewEncrypter(*dev)
		wg.Go(func() {
			for i := range indices {
				if ctx.Err() != nil {
					return
				}
				r := encrypted{i: i, plain: e.Plaintext(opts.Seed, i)}
				r.ballot, r.err = x.Encrypt(r.plain, stateOf(i, opts), ts+int64(i))
				results <- r
			}
		})
	}

	x := NewExpected(e.Manifest)
	pending := map[int]encrypted{}
	for next := 0; next < opts.Count; {
		select {
		case r := <-results:
			pending[r.i] = r
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		for r, ok := pending[next]; ok; r, ok = pending[next] {
			if r.err != nil {
				return nil, fmt.Errorf("synth: encrypt %s: %w", r.plain.ObjectID, r.err)
			}
			x.Add(e.Manifest, r.plain, r.ballot.State)
			if err := emit(r.ballot); err != nil {
				return nil, err
			}
			delete(pending, next)
			<-slots
			next++
			if opts.Progress != nil {
				opts.Progress(next)
			}
		}
	}
	return x, nil
}

func stateOf(i int, opts BallotOptions) record.BallotState {
	if Spoiled(i, opts.Count, opts.Spoiled) {
		return record.BallotSpoiled
	}
	return record.BallotCast
}

// WriteNDJSON encrypts ballots as Generate does and writes them to w as
// NDJSON, one submitted ballot per line in ballot order: the body of
// POST /api/elections/{id}/ballots.
func (e *Election) WriteNDJSON(ctx context.Context, w io.Writer, opts BallotOptions) (*Expected, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	x, err := e.Generate(ctx, opts, func(b *record.SubmittedBallot) error {
		return record.WriteNDJSON(bw, b)
	})
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return x, nil
}
