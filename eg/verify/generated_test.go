package verify_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/eg/verify"
)

// The verifier itself shares nothing with eg/record; this test uses eg/record only to
// write an election record the way tallyq's export does, so the verifier is checked on
// tallyq's own output as well as on the published fixtures: the test group, guardian
// ids that are not numbers, sequence orders out of id order, several devices, an
// n-of-m contest, invalid ballots and spoiled ballots. The selections' sequence orders
// ascend in manifest order: electionguard-python 1.x hashes a contest's selections sorted
// by sequence order, eg/record in manifest order, and the two agree only then.

// generatedRecord is written once per test binary; tests copy it before changing it.
var generatedRecord = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "verify-generated")
	if err != nil {
		return "", err
	}
	public := filepath.Join(dir, "election_record")
	return public, writeGenerated(public, filepath.Join(dir, "election_private_data"))
})

func generated(t *testing.T) string {
	t.Helper()
	dir, err := generatedRecord()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := generatedRecord(); err == nil {
		os.RemoveAll(filepath.Dir(dir))
	}
	os.Exit(code)
}

func generatedManifest() *record.Manifest {
	one, two := 1, 2
	sels := func(contest string, n int) []record.SelectionDescription {
		var out []record.SelectionDescription
		for i := range n {
			out = append(out, record.SelectionDescription{ObjectID: fmt.Sprintf("%s-%d", contest, i), SequenceOrder: 20 - 4*i, CandidateID: fmt.Sprintf("%s-cand-%d", contest, i)})
		}
		return out
	}
	return &record.Manifest{
		ElectionScopeID: "verify-generated", SpecVersion: "v0.95", Type: "general",
		StartDate: "2026-11-03T06:00:00-05:00", EndDate: "2026-11-03T20:00:00-05:00",
		GeopoliticalUnits: []record.GeopoliticalUnit{{ObjectID: "city", Name: "City", Type: "city"}, {ObjectID: "ward", Name: "Ward", Type: "ward"}},
		Contests: []record.ContestDescription{
			{ObjectID: "mayor", SequenceOrder: 1, ElectoralDistrictID: "city", VoteVariation: "one_of_m", NumberElected: 1, VotesAllowed: &one, Name: "Mayor", BallotSelections: sels("mayor", 3)},
			{ObjectID: "council", SequenceOrder: 0, ElectoralDistrictID: "ward", VoteVariation: "n_of_m", NumberElected: 2, VotesAllowed: &two, Name: "Council", BallotSelections: sels("council", 4)},
		},
		BallotStyles: []record.BallotStyle{
			{ObjectID: "city-only", GeopoliticalUnitIDs: []string{"city"}},
			{ObjectID: "city-ward", GeopoliticalUnitIDs: []string{"city", "ward"}},
		},
		Name: &record.InternationalizedText{Text: []record.Language{{Value: "Generated", Language: "en"}}},
	}
}

// Sizes of the generated election.
const (
	generatedBallots = 40 // every fifth spoiled
	generatedInvalid = 2
)

// writeGenerated runs a 5-guardian, quorum-3 election in the test group with guardians
// "dave" and "bob" missing at decryption, and writes its record.
func writeGenerated(public, private string) error {
	g := eg.TestGroup()
	m := generatedManifest()
	// Contests and selections are listed against their sequence order and the guardians
	// out of it, so that the record shows whether both sides hash in sequence order, as
	// 1.x does, rather than in list order.
	specs := []record.GuardianSpec{{ID: "erin", SequenceOrder: 3}, {ID: "alice", SequenceOrder: 2}, {ID: "dave", SequenceOrder: 1}, {ID: "bob", SequenceOrder: 5}, {ID: "carol", SequenceOrder: 4}}
	cer, err := record.KeyCeremony(g, m, specs, 3, record.CeremonyOptions{RSABits: 1024, Backups: record.BackupIdentity})
	if err != nil {
		return err
	}
	e, err := record.NewElection(g, m, cer.Context)
	if err != nil {
		return err
	}
	w := record.NewWriter(public, private)
	errs := []error{w.WriteConstants(record.ConstantsOf(g)), w.WriteManifest(m), w.WriteContext(cer.Context)}
	for _, gr := range cer.Guardians {
		errs = append(errs, w.WriteGuardian(gr))
	}
	devices := []record.EncryptionDevice{{DeviceID: 1, SessionID: 2, LaunchCode: 3, Location: "north"}, {DeviceID: 4, SessionID: 5, LaunchCode: 6, Location: "south"}}
	var encs []*record.Encrypter
	for i := range devices {
		errs = append(errs, w.WriteDevice(&devices[i]))
		encs = append(encs, e.NewEncrypter(devices[i]))
	}
	if err := joinErrs(errs); err != nil {
		return err
	}
	tally := e.NewTally()
	var spoiled []*record.SubmittedBallot
	r := rand.New(rand.NewPCG(7, 11))
	for i := range generatedBallots + generatedInvalid {
		state := record.BallotCast
		if i%5 == 4 {
			state = record.BallotSpoiled
		}
		b, err := encs[i%2].Encrypt(randomBallot(r, m, fmt.Sprintf("ballot-%03d", i)), state, int64(1_800_000_000+i))
		if err != nil {
			return err
		}
		if i >= generatedBallots { // broken after encryption: the tally rejected it
			b.Contests[0].BallotSelections[0].Proof.ProofZeroResponse = record.HexQ(g.OneQ())
			if err := w.WriteInvalidBallot(b); err != nil {
				return err
			}
			continue
		}
		if err := w.WriteSubmittedBallot(b); err != nil {
			return err
		}
		if err := tally.Add(b); err != nil {
			return err
		}
		if state == record.BallotSpoiled {
			spoiled = append(spoiled, b)
		}
	}
	encrypted := tally.Record("election-results")
	if err := w.WriteEncryptedTally(encrypted); err != nil {
		return err
	}
	return decryptGenerated(g, e, cer, w, encrypted, spoiled)
}

// decryptGenerated decrypts the tally and the spoiled ballots with carol, alice and erin.
func decryptGenerated(g *eg.Group, e *record.Election, cer *record.Ceremony, w *record.Writer, encrypted *record.CiphertextTally, spoiled []*record.SubmittedBallot) error {
	dec, err := e.NewDecryptor(cer.Guardians, generatedBallots)
	if err != nil {
		return err
	}
	missing := []string{"dave", "bob"}
	var trustees []*record.Trustee
	var available []string
	for _, p := range cer.Private {
		if slices.Contains(missing, p.GuardianID) {
			continue
		}
		tr, err := dec.NewTrustee(p, missing)
		if err != nil {
			return err
		}
		trustees, available = append(trustees, tr), append(available, p.GuardianID)
	}
	// decrypt decrypts one tally or ballot and writes it.
	decrypt := func(id string, cts []record.ContestCiphertexts, err error, write func(*record.PlaintextTally) error) error {
		if err != nil {
			return err
		}
		plain, err := dec.Decrypt(id, cts, trustees)
		if err != nil {
			return err
		}
		return write(plain)
	}
	cts, err := encrypted.Ciphertexts(g)
	if err := decrypt(encrypted.ObjectID, cts, err, w.WriteTally); err != nil {
		return err
	}
	for _, b := range spoiled {
		cts, err := b.Ciphertexts(g)
		if err := decrypt(b.ObjectID, cts, err, w.WriteSpoiledBallot); err != nil {
			return err
		}
	}
	coeffs, err := dec.Coefficients(available)
	if err != nil {
		return err
	}
	return w.WriteCoefficients(coeffs)
}

// randomBallot votes at random within each contest's limit, sometimes undervoting.
func randomBallot(r *rand.Rand, m *record.Manifest, id string) *record.PlaintextBallot {
	style := &m.BallotStyles[r.IntN(len(m.BallotStyles))]
	p := &record.PlaintextBallot{ObjectID: id, StyleID: style.ObjectID}
	for _, c := range m.ContestsFor(style) {
		pc := record.PlaintextBallotContest{ObjectID: c.ObjectID, SequenceOrder: c.SequenceOrder}
		votes := r.IntN(c.Limit() + 1)
		for _, i := range r.Perm(len(c.BallotSelections)) {
			if votes == 0 {
				break
			}
			s := c.BallotSelections[i]
			pc.BallotSelections = append(pc.BallotSelections, record.PlaintextBallotSelection{ObjectID: s.ObjectID, SequenceOrder: s.SequenceOrder, Vote: 1})
			votes--
		}
		p.Contests = append(p.Contests, pc)
	}
	return p
}

func joinErrs(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestGeneratedRecordVerifies(t *testing.T) {
	dir := generated(t)
	r, err := verify.Dir(context.Background(), dir, verify.Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings: %v", r.Warnings)
	}
	spoiled := generatedBallots / 5
	if r.Group != "test" || r.CastBallots != generatedBallots-spoiled || r.SpoiledBallots != spoiled ||
		r.InvalidBallots != generatedInvalid || r.DecryptedSpoiled != spoiled || r.Selections != 7 ||
		strings.Join(r.MissingGuardians, ",") != "dave,bob" {
		t.Errorf("report: %+v; want the test group, %d cast, %d spoiled and decrypted, %d invalid, 7 selections, dave and bob missing",
			r, generatedBallots-spoiled, spoiled, generatedInvalid)
	}
}

// TestGeneratedRecordChanges changes copies of the generated record in ways that concern
// the ballots' bookkeeping rather than their cryptography.
func TestGeneratedRecordChanges(t *testing.T) {
	const cast, spoiled = "ballot-000", "ballot-004"
	submitted := func(id string) string { return filepath.Join("submitted_ballots", "submitted_ballot_"+id+".json") }
	invalid := func(id string) string { return filepath.Join(verify.InvalidBallotsDir, "invalid_ballot_"+id+".json") }
	cases := []struct {
		name    string
		change  func(t *testing.T, dir string)
		ok      bool
		check   verify.Check
		where   string
		warning bool
	}{
		{name: "a valid ballot among the invalid ones is a warning", ok: true, warning: true, check: verify.CheckInvalidBallot, where: "ballot-000",
			change: func(t *testing.T, dir string) { copyFile(t, dir, submitted(cast), invalid(cast)) }},
		{name: "a cast ballot moved to the invalid ones", check: verify.CheckTallyProduct, where: "encrypted_tally.json",
			change: func(t *testing.T, dir string) { renameFile(t, dir, submitted(cast), invalid(cast)) }},
		{name: "a ballot twice", check: verify.CheckDuplicate, where: "ballot " + cast,
			change: func(t *testing.T, dir string) { copyFile(t, dir, submitted(cast), submitted("again")) }},
		{name: "a spoiled ballot not decrypted", check: verify.CheckSpoiled, where: "ballot " + spoiled + ": spoiled ballot check failed: the spoiled ballot has no decryption",
			change: func(t *testing.T, dir string) {
				removeFile(t, dir, filepath.Join("spoiled_ballots", "spoiled_ballot_"+spoiled+".json"))
			}},
		{name: "a decryption of a cast ballot", check: verify.CheckSpoiled, where: "no ballot of submitted_ballots/ with this id is spoiled",
			change: func(t *testing.T, dir string) {
				renameFile(t, dir, submitted(spoiled), invalid(spoiled))
			}},
		{name: "no encryption device", check: verify.CheckCodeChain, where: "neither the hash of a device",
			change: func(t *testing.T, dir string) {
				removeFile(t, dir, filepath.Join("encryption_devices", "device_1.json"))
			}},
		{name: "coefficients missing", check: verify.CheckRead, where: "coefficients.json",
			change: func(t *testing.T, dir string) { removeFile(t, dir, "coefficients.json") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "election_record")
			if err := os.CopyFS(dir, os.DirFS(generated(t))); err != nil {
				t.Fatal(err)
			}
			tc.change(t, dir)
			r, err := verify.Dir(context.Background(), dir, verify.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() != tc.ok {
				t.Fatalf("OK() = %v, want %v; %v", r.OK(), tc.ok, r.Err())
			}
			list := r.Problems
			if tc.warning {
				list = r.Warnings
			}
			found := false
			for _, p := range list {
				found = found || p.Check == tc.check && strings.Contains(p.String(), tc.where)
			}
			if !found {
				t.Errorf("no %q problem (warning: %v) naming %q in\nproblems: %v\nwarnings: %v", tc.check, tc.warning, tc.where, r.Err(), r.Warnings)
			}
		})
	}
}

func copyFile(t *testing.T, dir, from, to string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, from))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, to), b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func renameFile(t *testing.T, dir, from, to string) {
	t.Helper()
	if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
