package record

import (
	"fmt"

	"github.com/tallyq/tallyq/eg"
)

// Encrypter encrypts plaintext ballots for one device, chaining their codes as 1.x does
// (the first ballot's code seed is the device's hash, each next one the previous code).
// It is not safe for concurrent use: give each goroutine its own device.
type Encrypter struct {
	e        *Election
	codeSeed eg.ElementModQ
}

// NewEncrypter returns an encrypter for the device.
func (e *Election) NewEncrypter(device EncryptionDevice) *Encrypter {
	return &Encrypter{e: e, codeSeed: device.CryptoHash(e.Group)}
}

// Encrypt encrypts a plaintext ballot as 1.x's encrypt_ballot does and returns it as
// submitted with the given state and timestamp: each selection of the style's contests
// (those the voter left out count 0) and each placeholder is encrypted with a fresh
// nonce and a 0/1 proof; placeholders are set to 1 while the contest's votes are below
// its limit, so every contest sums to its limit, which the contest's constant proof
// proves. Votes must be 0 or 1, at most the limit per contest. No nonce is kept.
func (x *Encrypter) Encrypt(p *PlaintextBallot, state BallotState, timestamp int64) (*SubmittedBallot, error) {
	e := x.e
	if _, ok := e.Manifest.Style(p.StyleID); !ok {
		return nil, fmt.Errorf("ballot %s: style %q is not in the manifest", p.ObjectID, p.StyleID)
	}
	votes, err := plaintextVotes(p, e.styles[p.StyleID])
	if err != nil {
		return nil, err
	}
	b := &SubmittedBallot{ObjectID: p.ObjectID, StyleID: p.StyleID, ManifestHash: HexQ(e.ManifestHash),
		CodeSeed: HexQ(x.codeSeed), Timestamp: timestamp, State: state}
	var contestHashes []sequenced
	for _, info := range e.styles[p.StyleID] {
		c, h, err := e.encryptContest(info, votes[info.desc.ObjectID])
		if err != nil {
			return nil, fmt.Errorf("ballot %s: %w", p.ObjectID, err)
		}
		b.Contests = append(b.Contests, c)
		contestHashes = append(contestHashes, sequenced{c.SequenceOrder, h})
	}
	bh := ballotHash(e.Group, b.ObjectID, e.ManifestHash, inSequence(contestHashes))
	code := BallotCode(e.Group, x.codeSeed, timestamp, bh)
	b.CryptoHash, b.Code = HexQ(bh), HexQ(code)
	x.codeSeed = code
	return b, nil
}

// plaintextVotes reads the ballot's votes per contest and selection, checking contests
// and selections exist on the style and votes are 0 or 1 within the contest's limit.
func plaintextVotes(p *PlaintextBallot, style []*contestInfo) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	for _, c := range p.Contests {
		var info *contestInfo
		for _, ci := range style {
			if ci.desc.ObjectID == c.ObjectID {
				info = ci
			}
		}
		if info == nil || out[c.ObjectID] != nil {
			return nil, fmt.Errorf("ballot %s: contest %s is not on style %q or appears twice", p.ObjectID, c.ObjectID, p.StyleID)
		}
		votes, total := map[string]int{}, 0
		for _, s := range c.BallotSelections {
			i, ok := info.index[s.ObjectID]
			if !ok || info.selections[i].placeholder {
				return nil, fmt.Errorf("ballot %s: contest %s: selection %s is not in the manifest", p.ObjectID, c.ObjectID, s.ObjectID)
			}
			if s.Vote != 0 && s.Vote != 1 {
				return nil, fmt.Errorf("ballot %s: contest %s: selection %s has vote %d; want 0 or 1", p.ObjectID, c.ObjectID, s.ObjectID, s.Vote)
			}
			votes[s.ObjectID] = s.Vote
			total += s.Vote
		}
		if total > info.desc.Limit() {
			return nil, fmt.Errorf("ballot %s: contest %s is overvoted: %d votes, limit %d", p.ObjectID, c.ObjectID, total, info.desc.Limit())
		}
		out[c.ObjectID] = votes
	}
	return out, nil
}

// encryptContest encrypts one contest (its selections, then its placeholders) and returns
// it with its crypto hash.
func (e *Election) encryptContest(info *contestInfo, votes map[string]int) (BallotContest, eg.ElementModQ, error) {
	g := e.Group
	c := BallotContest{ObjectID: info.desc.ObjectID, SequenceOrder: info.desc.SequenceOrder, DescriptionHash: HexQ(info.hash)}
	total := 0
	for _, v := range votes {
		total += v
	}
	var cts []eg.Ciphertext
	var hashes []sequenced
	nonceSum := g.ZeroQ()
	for _, s := range info.selections {
		vote := votes[s.desc.ObjectID]
		if s.placeholder && total < info.desc.Limit() {
			vote = 1
			total++
		}
		sel, ct, nonce, err := e.encryptSelection(s, vote)
		if err != nil {
			return c, eg.ElementModQ{}, fmt.Errorf("contest %s: %w", c.ObjectID, err)
		}
		c.BallotSelections = append(c.BallotSelections, sel)
		cts = append(cts, ct)
		hashes = append(hashes, sequenced{sel.SequenceOrder, selectionHash(g, s.desc.ObjectID, s.hash, ct)})
		nonceSum = g.AddQ(nonceSum, nonce)
	}
	acc := g.AddCiphertexts(cts...)
	proof, err := g.NewConstantProof(acc, info.desc.Limit(), nonceSum, e.PublicKey, e.ExtendedBaseHash, g.RandomQ())
	if err != nil {
		return c, eg.ElementModQ{}, fmt.Errorf("contest %s: %w", c.ObjectID, err)
	}
	h := contestHash(g, c.ObjectID, info.hash, inSequence(hashes))
	c.CiphertextAccumulation, c.CryptoHash, c.Proof = CiphertextOf(acc), HexQ(h), ConstantProofOf(proof)
	return c, h, nil
}

// encryptSelection encrypts one vote with a fresh nonce and proves it is 0 or 1.
func (e *Election) encryptSelection(s selectionInfo, vote int) (BallotSelection, eg.Ciphertext, eg.ElementModQ, error) {
	g := e.Group
	nonce := g.RandomQ()
	for nonce.IsZero() {
		nonce = g.RandomQ()
	}
	ct, err := g.Encrypt(uint64(vote), nonce, e.PublicKey)
	if err != nil {
		return BallotSelection{}, ct, nonce, err
	}
	proof, err := g.NewDisjunctiveProof(ct, uint64(vote), nonce, e.PublicKey, e.ExtendedBaseHash, g.RandomQ())
	if err != nil {
		return BallotSelection{}, ct, nonce, fmt.Errorf("selection %s: %w", s.desc.ObjectID, err)
	}
	return BallotSelection{ObjectID: s.desc.ObjectID, SequenceOrder: s.desc.SequenceOrder, DescriptionHash: HexQ(s.hash),
		Ciphertext: CiphertextOf(ct), CryptoHash: HexQ(selectionHash(g, s.desc.ObjectID, s.hash, ct)),
		IsPlaceholderSelection: s.placeholder, Proof: DisjunctiveProofOf(proof)}, ct, nonce, nil
}

// Relabel returns a copy of a submitted ballot under another object id, with its crypto
// hash and code recomputed for that id: a valid ballot (its proofs do not involve the
// id) with the same ciphertexts. Benchmarks use it to make many ballots from a pool of
// encrypted ones, since encrypting is not what they measure; an election must not count
// relabelled copies as distinct votes.
func (e *Election) Relabel(b *SubmittedBallot, newID string) (*SubmittedBallot, error) {
	g := e.Group
	contestHashes := make([]sequenced, len(b.Contests))
	for i, c := range b.Contests {
		h, err := c.CryptoHash.Q(g)
		if err != nil {
			return nil, fmt.Errorf("ballot %s: contest %s: crypto_hash: %w", b.ObjectID, c.ObjectID, err)
		}
		contestHashes[i] = sequenced{c.SequenceOrder, h}
	}
	seed, err := b.CodeSeed.Q(g)
	if err != nil {
		return nil, fmt.Errorf("ballot %s: code_seed: %w", b.ObjectID, err)
	}
	out := *b
	out.ObjectID = newID
	h := ballotHash(g, newID, e.ManifestHash, inSequence(contestHashes))
	out.CryptoHash = HexQ(h)
	out.Code = HexQ(BallotCode(g, seed, b.Timestamp, h))
	return &out, nil
}
