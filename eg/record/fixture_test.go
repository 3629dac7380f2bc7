package record

import (
	"bytes"
	"os"
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// fixture is one 0.95 sample election, read once per test.
type fixture struct {
	set       string
	folder    *Folder
	election  *Election
	guardians []*GuardianRecord
	private   []*PrivateGuardian
	ballots   []*SubmittedBallot
}

func loadFixture(t testing.TB, set string) *fixture {
	t.Helper()
	f := OpenFolder(publicDir(t, set))
	m, err := f.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := f.Context()
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewElection(standard, m, ctx)
	if err != nil {
		t.Fatal(err)
	}
	guardians, err := f.Guardians()
	if err != nil {
		t.Fatal(err)
	}
	private, err := PrivateGuardians(os.DirFS(privateDir(t, set)))
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{set: set, folder: f, election: e, guardians: guardians, private: private}
	for b, err := range f.SubmittedBallots() {
		if err != nil {
			t.Fatal(err)
		}
		fx.ballots = append(fx.ballots, b)
	}
	if len(fx.ballots) == 0 {
		t.Fatal("no submitted ballots")
	}
	return fx
}

// TestFixtureEncryptedTally is check (b): the product of the cast ballots' ciphertexts,
// placeholders skipped, is encrypted_tally.json.
func TestFixtureEncryptedTally(t *testing.T) {
	for _, set := range fixtureSets {
		t.Run(set, func(t *testing.T) {
			fx := loadFixture(t, set)
			tally := fx.election.NewTally()
			for _, b := range fx.ballots {
				if err := tally.Add(b); err != nil {
					t.Fatal(err)
				}
			}
			want, err := fx.folder.EncryptedTally()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Marshal(tally.Record(want.ObjectID))
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := Marshal(want)
			if !bytes.Equal(got, wantJSON) {
				t.Errorf("tally of %d cast ballots differs from encrypted_tally.json", tally.Cast())
			}
			// Reading the record back gives the same tally.
			back, err := fx.election.TallyFromRecord(want)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := Marshal(back.Record(want.ObjectID)); !bytes.Equal(again, wantJSON) {
				t.Error("TallyFromRecord does not round-trip")
			}
		})
	}
}

// TestFixtureBallotsValidate is check (c): every submitted ballot passes validation, one
// at a time and in a batch.
func TestFixtureBallotsValidate(t *testing.T) {
	for _, set := range fixtureSets {
		t.Run(set, func(t *testing.T) {
			fx := loadFixture(t, set)
			for _, b := range fx.ballots {
				if err := fx.election.ValidateBallot(b); err != nil {
					t.Error(err)
				}
			}
			for _, err := range fx.election.ValidateBallots(fx.ballots) {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestFixtureDecryption is checks (d), (e) and (f) on tally.json and every spoiled
// ballot: every direct share recomputed from the private guardian records, and every
// compensated share and recovery key for the missing guardians recomputed from the
// available guardians' decrypted backups, equal the published ones; the published proofs
// verify (Combine checks each) and so do fresh ones; combining gives the published tally
// and value of every selection, and each spoiled ballot's plaintext; coefficients.json is
// the Lagrange coefficients of the available guardians.
func TestFixtureDecryption(t *testing.T) {
	for _, set := range fixtureSets {
		t.Run(set, func(t *testing.T) {
			fx := loadFixture(t, set)
			g := standard
			exps := g.ExpCount()
			cast := countState(fx.ballots, BallotCast)
			d, err := fx.election.NewDecryptor(fx.guardians, uint64(cast))
			if err != nil {
				t.Fatal(err)
			}
			published, err := fx.folder.Tally()
			if err != nil {
				t.Fatal(err)
			}
			available, missing := shareholders(t, published)
			if len(missing) == 0 {
				t.Fatal("the fixture has no missing guardian")
			}
			trustees := map[string]*Trustee{}
			var ordered []*Trustee
			for _, p := range fx.private {
				for _, id := range available {
					if p.GuardianID == id {
						tr, err := d.NewTrustee(p, missing)
						if err != nil {
							t.Fatal(err)
						}
						trustees[id] = tr
						ordered = append(ordered, tr)
					}
				}
			}
			coeffs, err := fx.folder.Coefficients()
			if err != nil {
				t.Fatal(err)
			}
			mine, err := d.Coefficients(available)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := mustMarshal(t, mine), mustMarshal(t, coeffs); !bytes.Equal(a, b) {
				t.Errorf("Lagrange coefficients of %v:\n%s\ncoefficients.json:\n%s", available, a, b)
			}
			encrypted, err := fx.folder.EncryptedTally()
			if err != nil {
				t.Fatal(err)
			}
			cts, err := encrypted.Ciphertexts(g)
			if err != nil {
				t.Fatal(err)
			}
			checkDecrypted(t, d, trustees, cts, published)
			// Fresh shares and parts for the tally, with new proofs, combine to the same.
			fresh, err := d.Decrypt(published.ObjectID, cts, ordered)
			if err != nil {
				t.Fatal(err)
			}
			checkSameValues(t, fresh, published)
			spoiled, plain := 0, plaintextBallots(t, set)
			for pt, err := range fx.folder.SpoiledBallots() {
				if err != nil {
					t.Fatal(err)
				}
				spoiled++
				var ballot *SubmittedBallot
				for _, b := range fx.ballots {
					if b.ObjectID == pt.ObjectID {
						ballot = b
					}
				}
				if ballot == nil || ballot.State != BallotSpoiled {
					t.Fatalf("spoiled ballot %s is not a spoiled submitted ballot", pt.ObjectID)
				}
				cts, err := ballot.Ciphertexts(g)
				if err != nil {
					t.Fatal(err)
				}
				checkDecrypted(t, d, trustees, cts, pt)
				fresh, err := d.Decrypt(pt.ObjectID, cts, ordered)
				if err != nil {
					t.Fatal(err)
				}
				checkSameValues(t, fresh, pt)
				// The published plaintext is the voter's: every vote, placeholders filling
				// each contest to its limit.
				if p := plain[pt.ObjectID]; p == nil {
					t.Errorf("spoiled ballot %s has no plaintext ballot", pt.ObjectID)
				} else {
					checkSpoiled(t, fx.election, p, pt)
				}
			}
			if want := countState(fx.ballots, BallotSpoiled); spoiled != want {
				t.Errorf("%d decrypted spoiled ballots published for %d spoiled ballots", spoiled, want)
			}
			t.Logf("%s: tally and %d spoiled ballots checked with guardians %v available, %v missing, in %d exponentiations",
				set, spoiled, available, missing, g.ExpCount()-exps)
		})
	}
}

// countState counts the ballots in a state.
func countState(ballots []*SubmittedBallot, state BallotState) int {
	n := 0
	for _, b := range ballots {
		if b.State == state {
			n++
		}
	}
	return n
}

// plaintextBallots reads a fixture's plaintext ballots by id.
func plaintextBallots(t *testing.T, set string) map[string]*PlaintextBallot {
	t.Helper()
	plain := map[string]*PlaintextBallot{}
	for p, err := range eachJSON[PlaintextBallot](os.DirFS(privateDir(t, set)), "plaintext_ballots") {
		if err != nil {
			t.Fatal(err)
		}
		plain[p.ObjectID] = p
	}
	return plain
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shareholders returns the guardians with direct shares and those with recovered ones,
// from the tally's first selection.
func shareholders(t *testing.T, pt *PlaintextTally) (available, missing []string) {
	t.Helper()
	for _, s := range pt.Contests[0].Selections[0].Shares {
		if s.RecoveredParts == nil {
			available = append(available, s.GuardianID)
		} else {
			missing = append(missing, s.GuardianID)
		}
	}
	return available, missing
}

// checkDecrypted checks a published decryption (tally.json or a spoiled ballot) against
// the ciphertexts and the guardians' private records.
func checkDecrypted(t *testing.T, d *Decryptor, trustees map[string]*Trustee, cts []ContestCiphertexts, pt *PlaintextTally) {
	t.Helper()
	g := d.e.Group
	if len(pt.Contests) != len(cts) {
		t.Fatalf("%s: %d contests decrypted, %d encrypted", pt.ObjectID, len(pt.Contests), len(cts))
	}
	for ci, c := range cts {
		pc := pt.Contests[ci]
		if pc.ObjectID != c.ObjectID || len(pc.Selections) != len(c.Selections) {
			t.Fatalf("%s: contest %s does not match the encrypted %s", pt.ObjectID, pc.ObjectID, c.ObjectID)
		}
		for si, s := range c.Selections {
			ps := pc.Selections[si]
			if ps.ObjectID != s.ObjectID || !ps.Message.Equal(CiphertextOf(s.Ciphertext)) {
				t.Errorf("%s: selection %s: message is not the encrypted ciphertext", pt.ObjectID, ps.ObjectID)
			}
			checkShareValues(t, g, trustees, s.Ciphertext, ps)
			got, err := d.Combine(s.ObjectID, s.Ciphertext, ps.Shares)
			if err != nil {
				t.Errorf("%s: %v", pt.ObjectID, err)
				continue
			}
			if got.Tally != ps.Tally || !got.Value.Equal(ps.Value) {
				t.Errorf("%s: selection %s combines to %d, published %d", pt.ObjectID, s.ObjectID, got.Tally, ps.Tally)
			}
		}
	}
}

// checkShareValues recomputes M_i = A^s_i and M_{l,i} = A^P_l(x_i) from the private
// records and compares them with the published shares.
func checkShareValues(t *testing.T, g *eg.Group, trustees map[string]*Trustee, ct eg.Ciphertext, ps PlaintextTallySelection) {
	t.Helper()
	for _, sh := range ps.Shares {
		if sh.RecoveredParts == nil {
			if tr := trustees[sh.GuardianID]; !HexP(g.PowP(ct.Pad, tr.Secret)).Equal(sh.Share) {
				t.Errorf("selection %s: guardian %s's share is not A^s_i", ps.ObjectID, sh.GuardianID)
			}
			continue
		}
		for _, part := range sh.RecoveredParts {
			tr := trustees[part.GuardianID]
			if !HexP(g.PowP(ct.Pad, tr.Backups[sh.GuardianID])).Equal(part.Share) {
				t.Errorf("selection %s: guardian %s's part for %s is not A^P_l(x_i)", ps.ObjectID, part.GuardianID, sh.GuardianID)
			}
		}
	}
}

// checkSameValues compares two decryptions of the same ciphertexts: counts, values,
// shares, parts and recovery keys (the proofs differ: they are randomised).
func checkSameValues(t *testing.T, got, want *PlaintextTally) {
	t.Helper()
	for ci, wc := range want.Contests {
		for si, ws := range wc.Selections {
			gs := got.Contests[ci].Selections[si]
			if gs.Tally != ws.Tally || !gs.Value.Equal(ws.Value) || len(gs.Shares) != len(ws.Shares) {
				t.Errorf("fresh decryption of %s differs", ws.ObjectID)
				continue
			}
			for i, wsh := range ws.Shares {
				gsh := gs.Shares[i]
				if gsh.GuardianID != wsh.GuardianID || !gsh.Share.Equal(wsh.Share) || len(gsh.RecoveredParts) != len(wsh.RecoveredParts) {
					t.Errorf("%s: fresh share of %s differs", ws.ObjectID, wsh.GuardianID)
					continue
				}
				for j, wp := range wsh.RecoveredParts {
					gp := gsh.RecoveredParts[j]
					if gp.GuardianID != wp.GuardianID || !gp.Share.Equal(wp.Share) || !gp.RecoveryKey.Equal(wp.RecoveryKey) {
						t.Errorf("%s: fresh part of %s from %s differs", ws.ObjectID, wsh.GuardianID, wp.GuardianID)
					}
				}
			}
		}
	}
}
