package election

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/internal/synth"
)

// An unverified tally reads only the cast ballots' tally forms (record.EncodeTallyForm,
// through a record.ViewDecoder) into a record.TallyBuffer; a verified one decodes and
// validates every ballot. Over the same valid ballots, spoiled ones among them, both
// store the same subtotals, counts and objects to decrypt, and so does an unverified
// tally of ballots of which some have no tally form, as those stored before it had.
func TestUnverifiedTallyMatchesVerified(t *testing.T) {
	ctx := context.Background()
	g := eg.TestGroup()
	syn, err := synth.NewElection(g, synth.Options{Guardians: 3, Quorum: 2, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	var ballots bytes.Buffer
	if _, err := syn.WriteNDJSON(ctx, &ballots, synth.BallotOptions{Count: 60, Spoiled: 7, Seed: 5, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{chunkSize: 8})
	cases := []struct {
		name           string
		verify, noForm bool
	}{{"verified", true, false}, {"unverified", false, false}, {"unverified, odd ballots without a tally form", false, true}}
	stored := make(map[string]string)
	for _, c := range cases {
		id, err := h.svc.Create(ctx, &Definition{Group: g, Manifest: syn.Manifest, Context: syn.Ceremony.Context,
			Guardians: syn.Ceremony.Guardians, Devices: syn.Devices(1), DoNotVerifyBallots: !c.verify, CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := h.svc.IngestBallots(ctx, id, bytes.NewReader(ballots.Bytes()))
		if err != nil || rep.Stored != 60 {
			t.Fatalf("ingest: %+v, %v", rep, err)
		}
		var forms int
		if err := h.pool.QueryRow(ctx, `SELECT count(tally_form) FROM ballots WHERE election_id = $1 AND state = 1`, id).Scan(&forms); err != nil || forms != 53 {
			t.Fatalf("%d of 53 cast ballots stored with a tally form (%v)", forms, err)
		}
		if c.noForm {
			if _, err := h.pool.Exec(ctx, `UPDATE ballots SET tally_form = NULL WHERE election_id = $1 AND ballot_no % 2 = 1`, id); err != nil {
				t.Fatal(err)
			}
		}
		tally, err := h.svc.StartTally(ctx, id, "test")
		if err != nil {
			t.Fatal(err)
		}
		h.wait(tally.Job.JobID)
		stored[c.name] = h.tallyRows(id)
	}
	for _, c := range cases[1:] {
		if stored[c.name] != stored["verified"] {
			t.Errorf("the %s tally stored\n%s\nthe verified one\n%s", c.name, stored[c.name], stored["verified"])
		}
	}
}

// tallyRows prints what an election's tally stored: its subtotals and the
// objects to decrypt, with counts that show both kinds are there.
func (h *harness) tallyRows(id int64) string {
	h.t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	rows, err := h.pool.Query(ctx, `SELECT chunk_no, cast_count, spoiled, invalid, md5(data) FROM tally_subtotals
		WHERE election_id = $1 ORDER BY chunk_no`, id)
	if err != nil {
		h.t.Fatal(err)
	}
	for rows.Next() {
		var chunk, cast, spoiled, invalid int
		var sum string
		if err := rows.Scan(&chunk, &cast, &spoiled, &invalid, &sum); err != nil {
			h.t.Fatal(err)
		}
		fmt.Fprintf(&out, "chunk %d: cast %d spoiled %d invalid %d subtotal %s\n", chunk, cast, spoiled, invalid, sum)
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	var objects, spoiled int
	var sum string
	if err := h.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE spoiled),
		coalesce(md5(string_agg(concat_ws(',', object_no, unit, owner, spoiled, contest_id, selection_id, encode(pad, 'hex'), encode(data, 'hex')), ';' ORDER BY object_no)), '')
		FROM decryption_objects WHERE election_id = $1`, id).Scan(&objects, &spoiled, &sum); err != nil {
		h.t.Fatal(err)
	}
	if objects == 0 || spoiled == 0 {
		h.t.Fatalf("election %d: %d objects to decrypt, %d of spoiled ballots; want both", id, objects, spoiled)
	}
	fmt.Fprintf(&out, "%d objects to decrypt (%d of spoiled ballots): %s\n", objects, spoiled, sum)
	return out.String()
}
