package record

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tallyq/tallyq/eg"
)

// unitCase is the generated election's tally, decrypted by guardians 1, 3 and 4 (0 and
// 2 missing), as one unit of selections to combine, with the counts the ballots give.
type unitCase struct {
	d    *Decryptor
	sels []SelectionToCombine
	want []int64 // per selection
}

func generatedUnit(t *testing.T) *unitCase {
	t.Helper()
	gen := generatedElection(t)
	ballots, _, want := encryptBallots(t, gen, 6, 21)
	tally := tallyOf(t, gen.election, ballots)
	d, err := gen.election.NewDecryptor(gen.cer.Guardians, uint64(tally.Cast()))
	if err != nil {
		t.Fatal(err)
	}
	cts, err := tally.Record("t").Ciphertexts(gen.g)
	if err != nil {
		t.Fatal(err)
	}
	avail := []string{gen.cer.Private[1].GuardianID, gen.cer.Private[3].GuardianID, gen.cer.Private[4].GuardianID}
	pt, err := d.Decrypt("t", cts, trusteesFor(t, d, gen.cer.Private, avail))
	if err != nil {
		t.Fatal(err)
	}
	uc := &unitCase{d: d}
	for ci, c := range cts {
		for si, s := range c.Selections {
			uc.sels = append(uc.sels, SelectionToCombine{ObjectID: s.ObjectID, Ciphertext: s.Ciphertext, Shares: pt.Contests[ci].Selections[si].Shares})
			uc.want = append(uc.want, int64(want[c.ObjectID][s.ObjectID]))
		}
	}
	// 3 direct shares and 2 × 3 parts per selection: the unit must span several batches.
	if proofs := 9 * len(uc.sels); proofs <= eg.MaxBatch {
		t.Fatalf("the unit has %d proofs; want more than one batch of %d", proofs, eg.MaxBatch)
	}
	return uc
}

// TestCombineUnitDecrypts: combining a whole unit at once gives every selection the
// count its ballots give, the same selection Combine gives one at a time, with the
// shares as given.
func TestCombineUnitDecrypts(t *testing.T) {
	uc := generatedUnit(t)
	got, err := uc.d.CombineUnit(context.Background(), uc.sels)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(uc.sels) {
		t.Fatalf("%d results for %d selections", len(got), len(uc.sels))
	}
	for i, s := range uc.sels {
		one, err := uc.d.Combine(s.ObjectID, s.Ciphertext, s.Shares)
		if err != nil {
			t.Fatal(err)
		}
		g := got[i]
		if g.ObjectID != s.ObjectID || g.Tally != uc.want[i] || g.Tally != one.Tally || !g.Value.Equal(one.Value) ||
			!g.Message.Equal(CiphertextOf(s.Ciphertext)) || len(g.Shares) != len(s.Shares) {
			t.Errorf("selection %s: unit gives %s = %d, alone %s = %d; the ballots give %d", s.ObjectID, g.ObjectID, g.Tally, one.ObjectID, one.Tally, uc.want[i])
		}
	}
}

// withoutMissingShares returns the selections with the missing guardians' shares
// left zero, to be rebuilt from their parts (RebuildMissing).
func withoutMissingShares(t *testing.T, sels []SelectionToCombine) []SelectionToCombine {
	t.Helper()
	out := make([]SelectionToCombine, len(sels))
	for i, s := range sels {
		out[i] = s
		out[i].RebuildMissing = true
		out[i].Shares = cloneShares(t, s.Shares)
		for j := range out[i].Shares {
			if out[i].Shares[j].RecoveredParts != nil {
				out[i].Shares[j].Share = Hex{}
			}
		}
	}
	return out
}

// TestCombineUnitRebuildsMissing: with RebuildMissing the missing guardians' shares,
// left zero, come out as the reconstruction Reconstruct gives (the ones given before),
// with the same counts; a share given all the same is refused.
func TestCombineUnitRebuildsMissing(t *testing.T) {
	uc := generatedUnit(t)
	sels := withoutMissingShares(t, uc.sels)
	got, err := uc.d.CombineUnit(context.Background(), sels)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range uc.sels {
		if got[i].Tally != uc.want[i] {
			t.Errorf("selection %s: %d, want %d", s.ObjectID, got[i].Tally, uc.want[i])
		}
		for j, sh := range s.Shares {
			if g := got[i].Shares[j]; !g.Share.Equal(sh.Share) || g.GuardianID != sh.GuardianID || len(g.RecoveredParts) != len(sh.RecoveredParts) {
				t.Errorf("selection %s: guardian %q's share is %s, want %s", s.ObjectID, sh.GuardianID, g.Share, sh.Share)
			}
			if sh.RecoveredParts != nil && !sels[i].Shares[j].Share.Equal(Hex{}) {
				t.Fatalf("selection %s: CombineUnit changed the shares given", s.ObjectID)
			}
		}
	}
	sels[0].Shares = cloneShares(t, uc.sels[0].Shares)
	if _, err := uc.d.CombineUnit(context.Background(), sels); err == nil || !strings.Contains(err.Error(), "to be rebuilt") {
		t.Errorf("a missing guardian's share given with RebuildMissing: got %v", err)
	}
}

// TestCombineUnitNamesTamperedProof: a unit in which one proof's response is changed
// (so its challenge and ranges still pass and only the batched equations catch it) is
// refused with a *SelectionError at that selection whose text names the selection and
// the guilty guardian, found by checking the failed batch one proof at a time.
func TestCombineUnitNamesTamperedProof(t *testing.T) {
	uc := generatedUnit(t)
	at := len(uc.sels) / 2
	sel := uc.sels[at]
	direct, missing := -1, -1
	for i, s := range sel.Shares {
		if s.RecoveredParts == nil {
			direct = i
		} else {
			missing = i
		}
	}
	part := sel.Shares[missing].RecoveredParts[1]
	cases := map[string]struct {
		edit func(s []DecryptionShare)
		want []string
	}{
		"direct share": {func(s []DecryptionShare) { s[direct].Proof.Response = bump(s[direct].Proof.Response) },
			[]string{sel.ObjectID, `guardian "` + sel.Shares[direct].GuardianID + `"'s share`}},
		"compensated part": {func(s []DecryptionShare) {
			p := &s[missing].RecoveredParts[1]
			p.Proof.Response = bump(p.Proof.Response)
		}, []string{sel.ObjectID, `guardian "` + part.GuardianID + `"'s part for "` + part.MissingGuardianID + `"`}},
	}
	for name, tc := range cases {
		for _, rebuild := range []bool{false, true} {
			sels, label := append([]SelectionToCombine{}, uc.sels...), name
			if rebuild {
				sels, label = withoutMissingShares(t, uc.sels), name+" (rebuilding missing shares)"
			}
			sels[at].Shares = cloneShares(t, sels[at].Shares)
			tc.edit(sels[at].Shares)
			_, err := uc.d.CombineUnit(context.Background(), sels)
			var se *SelectionError
			var pe *eg.ProofError
			if !errors.As(err, &se) || se.Index != at || !errors.As(err, &pe) {
				t.Errorf("%s: got %v, want a *SelectionError at %d wrapping a *eg.ProofError", label, err, at)
				continue
			}
			// The batch equations say only that some proof failed; this check is the
			// one-by-one verification's.
			for _, w := range append(tc.want, "g^v ≠ a·K^c") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q does not name %q", label, err, w)
				}
			}
		}
	}
}

// TestCombineUnitCancelled: a cancelled context stops the unit with its error.
func TestCombineUnitCancelled(t *testing.T) {
	uc := generatedUnit(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := uc.d.CombineUnit(ctx, uc.sels); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// combineOneByOne is what Combine did before the proofs were batched: every proof of
// every selection verified by itself (eg.DecryptionShare.Verify), then the same
// reconstruction and decryption as CombineUnit.
func combineOneByOne(d *Decryptor, sels []SelectionToCombine) error {
	g := d.e.Group
	for i, s := range sels {
		var proofs proofSet
		pending, err := d.collectSelection(&proofs, i, s)
		if err != nil {
			return err
		}
		for _, it := range proofs.items {
			if err := it.Share.Verify(g, it.Ciphertext, it.PublicKey, d.e.ExtendedBaseHash); err != nil {
				return err
			}
		}
		if _, err := d.decryptSelection(s, pending); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkCombineUnit combines the small 4096-bit fixture's tally.json (every
// selection, two guardians missing) as one unit, batched with CombineUnit and one proof
// at a time as Combine did before, and reports each's time and exponentiations per
// selection and the one-by-one time over the batched time measured in the same run
// ("combine-speedup"). CombineUnit uses all CPUs; -cpu 1 compares the work alone.
func BenchmarkCombineUnit(b *testing.B) {
	fx := loadFixture(b, "small")
	d, err := fx.election.NewDecryptor(fx.guardians, uint64(countState(fx.ballots, BallotCast)))
	if err != nil {
		b.Fatal(err)
	}
	published, err := fx.folder.Tally()
	if err != nil {
		b.Fatal(err)
	}
	var sels []SelectionToCombine
	for _, c := range published.Contests {
		for _, s := range c.Selections {
			ct, err := s.Message.Elements(standard)
			if err != nil {
				b.Fatal(err)
			}
			sels = append(sels, SelectionToCombine{ObjectID: s.ObjectID, Ciphertext: ct, Shares: s.Shares})
		}
	}
	// Build the fixed-base tables (g, the keys, the recovery keys) before timing.
	if err := combineOneByOne(d, sels); err != nil {
		b.Fatal(err)
	}
	var batched, single time.Duration
	var batchedExps, singleExps uint64
	for b.Loop() {
		start, exps := time.Now(), standard.ExpCount()
		if _, err := d.CombineUnit(context.Background(), sels); err != nil {
			b.Fatal(err)
		}
		mid, midExps := time.Now(), standard.ExpCount()
		if err := combineOneByOne(d, sels); err != nil {
			b.Fatal(err)
		}
		batched += mid.Sub(start)
		single += time.Since(mid)
		batchedExps += midExps - exps
		singleExps += standard.ExpCount() - midExps
	}
	n := float64(b.N * len(sels))
	b.ReportMetric(float64(batched.Microseconds())/n, "µs/selection-batched")
	b.ReportMetric(float64(single.Microseconds())/n, "µs/selection-single")
	b.ReportMetric(float64(batchedExps)/n, "exps/selection-batched")
	b.ReportMetric(float64(singleExps)/n, "exps/selection-single")
	b.ReportMetric(float64(single)/float64(batched), "combine-speedup")
}
