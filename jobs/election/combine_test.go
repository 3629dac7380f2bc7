package election

import (
	"context"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/jobs"
)

// bumpHex adds one to a record number: a proof response changed so that its
// challenge and ranges still pass and only the proof's equations fail.
func bumpHex(h record.Hex) record.Hex {
	return record.HexFromBig(new(big.Int).Add(h.Big(), big.NewInt(1)))
}

// tamperedRow names the stored share or part a test changed.
type tamperedRow struct {
	owner, contest, selection string
}

// tamperJSON rewrites the JSON column of the row that query (with $1 the
// election) selects as object_no and the column, through edit, and returns
// the row's object.
func tamperJSON[T any](t *testing.T, h *harness, electionID int64, query, update string, edit func(*T)) tamperedRow {
	t.Helper()
	ctx := context.Background()
	var (
		no  int
		raw []byte
		v   T
		row tamperedRow
	)
	if err := h.pool.QueryRow(ctx, query, electionID).Scan(&no, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	edit(&v)
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.pool.Exec(ctx, update, electionID, no, raw); err != nil {
		t.Fatal(err)
	}
	if err := h.pool.QueryRow(ctx, `SELECT owner, contest_id, selection_id FROM decryption_objects
		WHERE election_id = $1 AND object_no = $2`, electionID, no).Scan(&row.owner, &row.contest, &row.selection); err != nil {
		t.Fatal(err)
	}
	return row
}

// combineFails runs the combine job, which must fail with an error naming
// each of want.
func (h *harness) combineFails(electionID int64, want ...string) {
	h.t.Helper()
	combine, err := h.svc.StartCombine(context.Background(), electionID, "test")
	if err != nil {
		h.t.Fatal(err)
	}
	s := h.waitTerminal(combine.Job.JobID, 5*time.Minute)
	if s.Status != jobs.StatusFailed || s.ErrorMessage == nil {
		h.t.Fatalf("combine with a tampered proof ended %s; want FAILED", s.Status)
	}
	h.t.Logf("combine failed: %s", *s.ErrorMessage)
	for _, w := range want {
		if !strings.Contains(*s.ErrorMessage, w) {
			h.t.Errorf("combine failed with %q, which does not name %q", *s.ErrorMessage, w)
		}
	}
}

// A stored direct share whose proof is wrong fails the combine (whose unit
// verifies its proofs in batches) with an error naming the selection and
// the guardian.
func TestCombineNamesTamperedShare(t *testing.T) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	h := newHarness(t, harnessOptions{})
	id := h.importAndTally(pub)
	h.decryptServerSide(id, priv, "1", "2", "3")
	row := tamperJSON(t, h, id, `SELECT object_no, share FROM decryption_shares WHERE election_id = $1 AND guardian_id = '2'
		ORDER BY object_no DESC LIMIT 1`,
		`UPDATE decryption_shares SET share = $3 WHERE election_id = $1 AND object_no = $2 AND guardian_id = '2'`,
		func(s *record.DecryptionShare) { s.Proof.Response = bumpHex(s.Proof.Response) })
	h.combineFails(id, row.owner, "contest "+row.contest, "selection "+row.selection, `guardian "2"'s share`, "g^v ≠ a·K^c")
}

// A stored compensated part (uploaded by an offline guardian) whose proof is
// wrong fails the combine with an error naming the selection, the guardian
// and the missing guardian.
func TestCombineNamesTamperedPart(t *testing.T) {
	pub, priv := fixtures.Record(t, "minimal"), fixtures.Private(t, "minimal")
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	id := h.importAndTally(pub)
	h.decryptServerSide(id, priv, "1", "2")
	data := h.guardian3OfflineShares(id, priv)
	if _, err := h.svc.UploadShares(ctx, id, "3", strings.NewReader(string(data)), "test"); err != nil {
		t.Fatal(err)
	}
	row := tamperJSON(t, h, id, `SELECT object_no, part FROM compensated_shares WHERE election_id = $1 AND guardian_id = '3'
		AND missing_guardian_id = '5' ORDER BY object_no DESC LIMIT 1`,
		`UPDATE compensated_shares SET part = $3 WHERE election_id = $1 AND object_no = $2 AND guardian_id = '3' AND missing_guardian_id = '5'`,
		func(p *record.CompensatedShare) { p.Proof.Response = bumpHex(p.Proof.Response) })
	h.combineFails(id, row.owner, "contest "+row.contest, "selection "+row.selection, `guardian "3"'s part for "5"`, "g^v ≠ a·K^c")
}
