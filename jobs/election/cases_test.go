package election

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/jobs"
)

// copyRecord copies a sample election's public record into a temporary
// folder that a test may change.
func copyRecord(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func readBallot(t *testing.T, path string) *record.SubmittedBallot {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b record.SubmittedBallot
	if err := record.Decode(f, &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

func writeDoc(t *testing.T, path string, v any) {
	t.Helper()
	data, err := record.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// decryptServerSide runs the server-side decryption of the given guardians.
func (h *harness) decryptServerSide(id int64, priv string, guardians ...string) {
	h.t.Helper()
	for _, g := range guardians {
		raw, err := os.ReadFile(filepath.Join(priv, "private_guardians", "private_guardian_"+g+".json"))
		if err != nil {
			h.t.Fatal(err)
		}
		d, err := h.svc.StartDecryption(context.Background(), id, g, raw, "test")
		if err != nil {
			h.t.Fatalf("decryption of guardian %s: %v", g, err)
		}
		h.wait(d.Job.JobID)
	}
}

// A ballot with a broken proof is recorded invalid with the reason, left out
// of the tally (which completes), and exported apart; the results are the
// plaintext of the other cast ballots.
func TestBrokenProofRecordedInvalid(t *testing.T) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	dir := copyRecord(t, pub)
	files, _ := os.ReadDir(filepath.Join(dir, record.SubmittedBallotsDir))
	var broken *record.SubmittedBallot
	for _, f := range files {
		path := filepath.Join(dir, record.SubmittedBallotsDir, f.Name())
		b := readBallot(t, path)
		if b.State != record.BallotCast {
			continue
		}
		p := b.Contests[0].BallotSelections[0].Proof
		p.ProofZeroResponse, p.ProofOneResponse = p.ProofOneResponse, p.ProofZeroResponse
		writeDoc(t, path, b)
		broken = b
		break
	}
	h := newHarness(t, harnessOptions{chunkSize: 2})
	ctx := context.Background()
	id := h.importAndTally(dir)
	info, err := h.svc.Info(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Ballots.Invalid != 1 || info.State != StateTallied {
		t.Fatalf("after the tally: %d invalid ballots, state %s; want 1, TALLIED", info.Ballots.Invalid, info.State)
	}
	bs, err := h.svc.Ballot(ctx, id, broken.Code.String())
	if err != nil {
		t.Fatal(err)
	}
	if bs.Status != "rejected" || !strings.Contains(bs.Reason, string(record.CheckSelectionProof)) || bs.BallotID != broken.ObjectID {
		t.Fatalf("the broken ballot reads %+v", bs)
	}
	h.decryptServerSide(id, priv, "1", "2", "3")
	combine, err := h.svc.StartCombine(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.wait(combine.Job.JobID)
	res, err := h.svc.Results(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := castPlaintext(t, filepath.Join(priv, "plaintext_ballots"), pub, broken.ObjectID)
	for _, c := range res.Contests {
		for _, s := range c.Selections {
			if s.Votes != int64(want[c.ContestID+"/"+s.SelectionID]) {
				t.Errorf("%s/%s: %d votes, the other cast ballots hold %d", c.ContestID, s.SelectionID, s.Votes, want[c.ContestID+"/"+s.SelectionID])
			}
		}
	}
	if res.BallotsInvalid != 1 {
		t.Errorf("results count %d invalid ballots", res.BallotsInvalid)
	}
	out, rep := h.verifyExport(id)
	if rep.InvalidBallots != 1 {
		t.Fatalf("the verifier counts %d invalid ballots, want 1", rep.InvalidBallots)
	}
	if _, err := os.Stat(filepath.Join(out, record.InvalidBallotsDir, "invalid_ballot_"+broken.ObjectID+".json")); err != nil {
		t.Fatalf("the invalid ballot is not in %s/: %v", record.InvalidBallotsDir, err)
	}
	if _, err := os.Stat(filepath.Join(out, record.SubmittedBallotsDir, "submitted_ballot_"+broken.ObjectID+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the invalid ballot is among the submitted ballots: %v", err)
	}
	fixtures.ValidateRecord(t, out)
}

// castPlaintext sums the votes of the fixture's cast ballots except one.
func castPlaintext(t *testing.T, plainDir, pub, except string) map[string]int {
	t.Helper()
	cast := map[string]bool{}
	files, _ := os.ReadDir(filepath.Join(pub, record.SubmittedBallotsDir))
	for _, f := range files {
		b := readBallot(t, filepath.Join(pub, record.SubmittedBallotsDir, f.Name()))
		cast[b.ObjectID] = b.State == record.BallotCast && b.ObjectID != except
	}
	sums := map[string]int{}
	plain, _ := os.ReadDir(plainDir)
	for _, f := range plain {
		v, err := decodeAs[record.PlaintextBallot](filepath.Join(plainDir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		p := v.(*record.PlaintextBallot)
		if !cast[p.ObjectID] {
			continue
		}
		for _, c := range p.Contests {
			for _, s := range c.BallotSelections {
				sums[c.ObjectID+"/"+s.ObjectID] += s.Vote
			}
		}
	}
	return sums
}

// One guardian decrypts offline and uploads its shares (with compensated
// shares for the missing guardians); the result equals the published record.
func TestOfflineGuardian(t *testing.T) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	id := h.importAndTally(pub)
	h.decryptServerSide(id, priv, "1", "2")

	// The guardian's own machine: the exported record and its private record.
	data := h.guardian3OfflineShares(id, priv)
	// A tampered file is refused and stores nothing.
	tampered := strings.Replace(string(data), `"guardian_id": "3"`, `"guardian_id": "2"`, 1)
	if _, err := h.svc.UploadShares(ctx, id, "3", strings.NewReader(tampered), "test"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a file of another guardian: %v, want ErrInvalid", err)
	}
	rep, err := h.svc.UploadShares(ctx, id, "3", strings.NewReader(string(data)), "test")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Shares == 0 || rep.CompensatedShares != 2*rep.Shares {
		t.Fatalf("upload report %+v", rep)
	}
	if _, err := h.svc.UploadShares(ctx, id, "3", strings.NewReader(string(data)), "test"); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second upload: %v, want ErrConflict", err)
	}
	combine, err := h.svc.StartCombine(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.wait(combine.Job.JobID)
	out, _ := h.verifyExport(id)
	assertSameRecord(t, pub, out)
}

// guardian3OfflineShares exports the election's record and returns the
// shares file guardian 3 computes from it offline for missing guardians 4
// and 5, as it would upload it.
func (h *harness) guardian3OfflineShares(id int64, priv string) []byte {
	h.t.Helper()
	exported := h.t.TempDir()
	if err := h.svc.Export(context.Background(), id, record.NewWriter(exported, "")); err != nil {
		h.t.Fatal(err)
	}
	shares := offlineShares(h.t, exported, filepath.Join(priv, "private_guardians", "private_guardian_3.json"), []string{"4", "5"})
	data, err := record.Marshal(shares)
	if err != nil {
		h.t.Fatal(err)
	}
	return data
}

// offlineShares computes a guardian's shares as `tallyq guardian decrypt` does.
func offlineShares(t *testing.T, recordDir, privatePath string, missing []string) *record.GuardianShares {
	t.Helper()
	folder := record.OpenFolder(recordDir)
	d, err := folder.Decryptor(0)
	if err != nil {
		t.Fatal(err)
	}
	tally, err := folder.EncryptedTally()
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeAs[record.PrivateGuardian](privatePath)
	if err != nil {
		t.Fatal(err)
	}
	spoiled := func(yield func(*record.SubmittedBallot, error) bool) {
		for b, err := range folder.SubmittedBallots() {
			if err != nil || b.State == record.BallotSpoiled {
				if !yield(b, err) {
					return
				}
			}
		}
	}
	gs, err := record.ComputeGuardianShares(context.Background(), d, v.(*record.PrivateGuardian), tally, spoiled, missing)
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

// A cancelled tally resumes its unfinished chunks on the next request.
func TestCancelledTallyResumes(t *testing.T) {
	pub := fixtures.Record(t, "minimal")
	h := newHarness(t, harnessOptions{chunkSize: 1, workers: -1})
	ctx := context.Background()
	imp, err := h.svc.ImportFolder(ctx, os.DirFS(pub), ImportOptions{CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := h.svc.StartTally(ctx, imp.ElectionID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.Cancel(ctx, first.Job.JobID, "test"); err != nil {
		t.Fatal(err)
	}
	again, err := h.svc.StartTally(ctx, imp.ElectionID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if again.Job.JobID != first.Job.JobID || !again.Created || again.Job.Status != jobs.StatusInProgress {
		t.Fatalf("after cancel, the tally request gave %+v (created %v); want the same job resumed", again.Job, again.Created)
	}
	h.start(2)
	s := h.wait(first.Job.JobID)
	if s.ProcessedChunks != first.Job.TotalChunks {
		t.Fatalf("resumed tally processed %d of %d chunks", s.ProcessedChunks, first.Job.TotalChunks)
	}
}

// Combine freezes the guardians that have decrypted: a guardian whose
// decryption had only started is missing; its job is cancelled and its
// sealed secret erased at once.
func TestCombineLeavesOutUnfinishedDecryption(t *testing.T) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	h := newHarness(t, harnessOptions{workers: -1})
	stop := h.start(2)
	ctx := context.Background()
	id := h.importAndTally(pub)
	h.decryptServerSide(id, priv, "1", "2", "3")
	stop()
	raw, err := os.ReadFile(filepath.Join(priv, "private_guardians", "private_guardian_4.json"))
	if err != nil {
		t.Fatal(err)
	}
	late, err := h.svc.StartDecryption(ctx, id, "4", raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	combine, err := h.svc.StartCombine(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	var secrets int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM guardian_secrets WHERE election_id = $1 AND guardian_id = '4'`, id).Scan(&secrets); err != nil {
		t.Fatal(err)
	}
	s, err := h.engine.Status(ctx, late.Job.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if secrets != 0 || s.Status != jobs.StatusCancelled {
		t.Fatalf("after combine started: guardian 4 has %d sealed secrets and its job is %s; want 0 and CANCELLED", secrets, s.Status)
	}
	h.start(2)
	h.wait(combine.Job.JobID)
	out, rep := h.verifyExport(id)
	if len(rep.MissingGuardians) != 2 {
		t.Fatalf("missing guardians %v, want 4 and 5", rep.MissingGuardians)
	}
	assertSameRecord(t, pub, out)
}

// importAndTally imports a record folder and runs its tally to completion.
func (h *harness) importAndTally(dir string) int64 {
	h.t.Helper()
	ctx := context.Background()
	imp, err := h.svc.ImportFolder(ctx, os.DirFS(dir), ImportOptions{CreatedBy: "test"})
	if err != nil {
		h.t.Fatal(err)
	}
	tally, err := h.svc.StartTally(ctx, imp.ElectionID, "test")
	if err != nil {
		h.t.Fatal(err)
	}
	h.wait(tally.Job.JobID)
	return imp.ElectionID
}
