package record

import (
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// standard is the 4096-bit group of the fixtures, shared by the tests.
var standard = eg.Standard()

// TestFixtureContextHashes is check (a): the manifest hash, every description hash the
// ballots carry, the commitment hash, the base hash, Q̄ and K = ∏K_i recomputed from the
// record equal context.json's.
func TestFixtureContextHashes(t *testing.T) {
	for _, set := range fixtureSets {
		t.Run(set, func(t *testing.T) {
			fx := loadFixture(t, set)
			g, f := standard, fx.folder
			m, ctx, guardians := fx.election.Manifest, fx.election.Context, fx.guardians
			if len(guardians) != ctx.NumberOfGuardians {
				t.Fatalf("%d guardian records, context says %d", len(guardians), ctx.NumberOfGuardians)
			}
			mh := m.CryptoHash(g)
			if got, want := mh.Hex(), ctx.ManifestHash.String(); got != want {
				t.Errorf("manifest hash %s, context has %s", got, want)
			}
			commitments := make([][]eg.ElementModP, len(guardians))
			keys := make([]eg.ElementModP, len(guardians))
			for i, gr := range guardians {
				pub, err := gr.PublicKeys(g)
				if err != nil {
					t.Fatal(err)
				}
				commitments[i], keys[i] = pub.Commitments, pub.Key
			}
			ch := CommitmentHash(g, commitments)
			if got, want := ch.Hex(), ctx.CommitmentHash.String(); got != want {
				t.Errorf("commitment hash %s, context has %s", got, want)
			}
			base := CryptoBaseHash(g, ctx.NumberOfGuardians, ctx.Quorum, mh)
			if got, want := base.Hex(), ctx.CryptoBaseHash.String(); got != want {
				t.Errorf("base hash %s, context has %s", got, want)
			}
			if got, want := ExtendedBaseHash(g, base, ch).Hex(), ctx.CryptoExtendedBaseHash.String(); got != want {
				t.Errorf("extended base hash %s, context has %s", got, want)
			}
			if got, want := g.JointKey(keys...).Hex(), ctx.ElGamalPublicKey.String(); got != want {
				t.Errorf("joint key differs from context's:\n%s\n%s", got, want)
			}
			// Every description hash on every ballot, placeholders included.
			n := 0
			for _, b := range fx.ballots {
				for _, c := range b.Contests {
					desc, ok := m.Contest(c.ObjectID)
					if !ok {
						t.Fatalf("ballot %s: contest %s not in manifest", b.ObjectID, c.ObjectID)
					}
					if got := desc.CryptoHash(g); got.Hex() != c.DescriptionHash.String() {
						t.Errorf("contest %s: description hash %s, ballot has %s", c.ObjectID, got.Hex(), c.DescriptionHash)
					}
					sels := append(append([]SelectionDescription(nil), desc.BallotSelections...), desc.Placeholders()...)
					for _, s := range c.BallotSelections {
						found := false
						for _, d := range sels {
							if d.ObjectID == s.ObjectID {
								found = true
								n++
								if got := d.CryptoHash(g); got.Hex() != s.DescriptionHash.String() {
									t.Errorf("selection %s: description hash %s, ballot has %s", s.ObjectID, got.Hex(), s.DescriptionHash)
								}
							}
						}
						if !found {
							t.Errorf("selection %s not in the manifest or its placeholders", s.ObjectID)
						}
					}
				}
			}
			if n == 0 {
				t.Fatal("no selection checked")
			}
			devices, err := f.Devices()
			if err != nil || len(devices) != 1 {
				t.Fatalf("devices: %v, %d", err, len(devices))
			}
			checkCodeChain(t, g, f, devices[0].CryptoHash(g))
		})
	}
}

// checkCodeChain checks every ballot's code is H(code_seed, timestamp, crypto_hash) and
// that the codes chain from the device's hash through every ballot.
func checkCodeChain(t *testing.T, g *eg.Group, f *Folder, deviceHash eg.ElementModQ) {
	t.Helper()
	next := map[string]string{} // code seed -> code
	for b, err := range f.SubmittedBallots() {
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := b.CodeSeed.Q(g)
		h, _ := b.CryptoHash.Q(g)
		if got := BallotCode(g, seed, b.Timestamp, h); got.Hex() != b.Code.String() {
			t.Errorf("ballot %s: code %s, record has %s", b.ObjectID, got.Hex(), b.Code)
		}
		next[b.CodeSeed.String()] = b.Code.String()
	}
	seen, cur := 0, deviceHash.Hex()
	for {
		code, ok := next[cur]
		if !ok {
			break
		}
		seen++
		cur = code
	}
	if seen != len(next) {
		t.Errorf("the codes chain through %d of %d ballots from the device hash", seen, len(next))
	}
}

// TestManifestDefaults: leaving out fields that have defaults in 1.x (a party's name, a
// language's "en") hashes as python does, to the fixture's manifest hash.
func TestManifestDefaults(t *testing.T) {
	fx := loadFixture(t, "minimal")
	doc := map[string]any{}
	if err := unmarshal(mustMarshal(t, fx.election.Manifest), &doc); err != nil {
		t.Fatal(err)
	}
	// Candidates are not hashed; parties are.
	for _, p := range doc["parties"].([]any) {
		delete(p.(map[string]any), "name")
	}
	for _, l := range doc["name"].(map[string]any)["text"].([]any) {
		if l.(map[string]any)["language"] == "en" {
			delete(l.(map[string]any), "language")
		}
	}
	var m Manifest
	if err := unmarshal(mustMarshal(t, doc), &m); err != nil {
		t.Fatal(err)
	}
	if got := m.CryptoHash(standard); !HexQ(got).Equal(fx.election.Context.ManifestHash) {
		t.Errorf("manifest without defaulted fields hashes to %s, want the context's %s", got.Hex(), fx.election.Context.ManifestHash)
	}
}
