package election

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/fixtures"
)

// The sample elections through the whole pipeline, guardians 1–3 decrypting
// on the server and 4–5 missing, at several chunk sizes: the encrypted tally,
// every share, compensated share, recovery key and coefficient, the
// plaintexts and the spoiled ballots equal the published record bit for bit.
func TestFixturePipeline(t *testing.T) {
	for _, set := range fixtures.Sets {
		for _, size := range []int{1, 2, DefaultChunkSize} {
			t.Run(fmt.Sprintf("%s/chunk-size-%d", set, size), func(t *testing.T) {
				t.Parallel() // each run has its own database; they wait on polls as much as they compute
				runFixture(t, set, size)
			})
		}
	}
}

func runFixture(t *testing.T, set string, chunkSize int) {
	pub := fixtures.Record(t, set)
	priv := fixtures.Private(t, set)
	h := newHarness(t, harnessOptions{chunkSize: chunkSize})
	ctx := context.Background()
	imp, err := h.svc.ImportFolder(ctx, os.DirFS(pub), ImportOptions{CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(filepath.Join(pub, record.SubmittedBallotsDir))
	if imp.Ballots.Stored != len(files) || imp.Ballots.Rejected != 0 {
		t.Fatalf("import stored %d of %d ballots: %+v", imp.Ballots.Stored, len(files), imp.Ballots)
	}
	id := imp.ElectionID
	tally, err := h.svc.StartTally(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(files) + chunkSize - 1) / chunkSize; tally.Job.TotalChunks != want {
		t.Fatalf("tally has %d chunks, want %d", tally.Job.TotalChunks, want)
	}
	h.wait(tally.Job.JobID)
	for _, g := range []string{"1", "2", "3"} {
		raw, err := os.ReadFile(filepath.Join(priv, "private_guardians", "private_guardian_"+g+".json"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := h.svc.StartDecryption(ctx, id, g, raw, "test")
		if err != nil {
			t.Fatalf("decryption of guardian %s: %v", g, err)
		}
		h.wait(d.Job.JobID)
	}
	combine, err := h.svc.StartCombine(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.wait(combine.Job.JobID)
	out, _ := h.verifyExport(id)
	assertSameRecord(t, pub, out)
	if n := fixtures.ValidateRecord(t, out); n < 10 {
		t.Fatalf("only %d files of the export validated", n)
	}
	assertNoSecrets(t, h, id)
}

// assertSameRecord compares an export with the published record: every
// document tallyq derives, re-encoded the same way, byte for byte.
func assertSameRecord(t *testing.T, want, got string) {
	t.Helper()
	same := func(name string, decode func(string) (any, error)) {
		t.Helper()
		w, err := decode(filepath.Join(want, name))
		if err != nil {
			t.Fatal(err)
		}
		g, err := decode(filepath.Join(got, name))
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		wb, _ := record.Marshal(w)
		gb, _ := record.Marshal(g)
		if string(wb) != string(gb) {
			t.Errorf("%s differs from the published record", name)
			if d := os.Getenv("TALLYQ_DEBUG_DIFF"); d != "" {
				_ = os.WriteFile(filepath.Join(d, "want-"+filepath.Base(name)), wb, 0o644)
				_ = os.WriteFile(filepath.Join(d, "got-"+filepath.Base(name)), gb, 0o644)
			}
		}
	}
	same(record.EncryptedTallyFile, decodeAs[record.CiphertextTally])
	same(record.TallyFile, decodePlaintext)
	same(record.CoefficientsFile, decodeAs[record.LagrangeCoefficients])
	same(record.ContextFile, decodeAs[record.Context])
	spoiled, _ := os.ReadDir(filepath.Join(want, record.SpoiledBallotsDir))
	exported, _ := os.ReadDir(filepath.Join(got, record.SpoiledBallotsDir))
	if len(spoiled) != len(exported) {
		t.Fatalf("%d spoiled ballots exported, %d published", len(exported), len(spoiled))
	}
	for _, f := range spoiled {
		same(filepath.Join(record.SpoiledBallotsDir, f.Name()), decodePlaintext)
	}
	submitted, _ := os.ReadDir(filepath.Join(want, record.SubmittedBallotsDir))
	for _, f := range submitted {
		same(filepath.Join(record.SubmittedBallotsDir, f.Name()), decodeAs[record.SubmittedBallot])
	}
}

// decodePlaintext reads a plaintext tally without its proofs: their nonces
// are random in ElectionGuard, so a proof is checked (combine verifies every
// one) but cannot equal the published one. Everything else must.
func decodePlaintext(path string) (any, error) {
	v, err := decodeAs[record.PlaintextTally](path)
	if err != nil {
		return nil, err
	}
	t := v.(*record.PlaintextTally)
	for i := range t.Contests {
		for j := range t.Contests[i].Selections {
			shares := t.Contests[i].Selections[j].Shares
			for k := range shares {
				shares[k].Proof = nil
				for l := range shares[k].RecoveredParts {
					shares[k].RecoveredParts[l].Proof = record.ChaumPedersenProof{}
				}
			}
		}
	}
	return t, nil
}

func decodeAs[T any](path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var v T
	return &v, record.Decode(f, &v)
}

// assertNoSecrets checks that combine erased the sealed secrets.
func assertNoSecrets(t *testing.T, h *harness, id int64) {
	t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM guardian_secrets WHERE election_id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d sealed secrets remain after combine", n)
	}
}
