package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"slices"
)

// tallySelection is one selection to decrypt: where it is and what it must decrypt.
type tallySelection struct {
	contest *contestInfo
	index   int // in contest.selections
	ct      ciphertext
	s       *plaintextTallySelectionJSON
}

// checkTally checks tally.json: it lists the manifest's contests and selections, each
// decrypts the encrypted tally's ciphertext (checkDecryption), and its counts fit the
// cast ballots; then coefficients.json.
func (v *run) checkTally(ctx context.Context) error {
	var t plaintextTallyJSON
	if !readJSON(v.fsys, tallyFile, &t, v.ps) {
		return nil
	}
	var todo []tallySelection
	for _, info := range v.e.manifest.contests {
		for k, s := range info.realSelections() {
			ct, ok := v.encrypted[info.id][s.id]
			if !ok { // reported with encrypted_tally.json; the cast ballots' product stands in
				ct = v.tally.sel[info.pos][k]
			}
			todo = append(todo, tallySelection{contest: info, index: k, ct: ct})
		}
	}
	todo = matchPlaintext(v.ps, tallyFile, &t, todo, "the encrypted tally's")
	v.report.Selections = len(todo)
	results := make([]*decryption, len(todo))
	if err := v.forEach(ctx, len(todo), func(i int) {
		x := todo[i]
		results[i] = v.checkDecryption(tallyFile, fmt.Sprintf("contest %s, selection %s", x.contest.id, x.s.ObjectID),
			"encrypted_tally.json's ciphertext of the selection", x.ct, x.s)
	}); err != nil {
		return err
	}
	missing := map[string]bool{}
	for _, r := range results {
		v.ps.addAll(r.problems.list)
		for _, id := range r.missing {
			if !missing[id] {
				missing[id] = true
				v.report.MissingGuardians = append(v.report.MissingGuardians, id)
			}
		}
	}
	v.checkTallyCounts(todo)
	if len(results) > 0 {
		v.checkCoefficients(results[0].available)
	}
	return nil
}

// matchPlaintext pairs each selection to decrypt with the plaintext's, reporting the
// contests and selections the plaintext lacks or has beyond them, and returns the
// pairs found; whose names where the selections come from.
func matchPlaintext(ps *problems, file string, t *plaintextTallyJSON, todo []tallySelection, whose string) []tallySelection {
	var out []tallySelection
	want := map[string]map[string]bool{}
	for _, x := range todo {
		if want[x.contest.id] == nil {
			want[x.contest.id] = map[string]bool{}
		}
		want[x.contest.id][x.contest.selections[x.index].id] = true
		pc, ok := t.Contests[x.contest.id]
		sid := x.contest.selections[x.index].id
		sel, ok2 := pc.Selections[sid]
		if !ok || !ok2 {
			ps.addf(CheckPlaintext, file, fmt.Sprintf("contest %s, selection %s", x.contest.id, sid), "the selection is not decrypted")
			continue
		}
		x.s = &sel
		out = append(out, x)
	}
	for _, cid := range sortedKeys(t.Contests) {
		pc := t.Contests[cid]
		for _, sid := range sortedKeys(pc.Selections) {
			if !want[cid][sid] || pc.ObjectID != cid || pc.Selections[sid].ObjectID != sid {
				ps.addf(CheckPlaintext, file, fmt.Sprintf("contest %s, selection %s", cid, sid), "the selection is not one of %s, or is filed under another id", whose)
			}
		}
	}
	return out
}

// checkTallyCounts checks no count exceeds the cast ballots holding its contest, and no
// contest's total exceeds what those ballots allow.
func (v *run) checkTallyCounts(done []tallySelection) {
	totals := map[*contestInfo]int64{}
	for _, x := range done {
		cast := int64(v.tally.cast[x.contest.pos])
		if x.s.Tally > cast {
			v.ps.addf(CheckCount, tallyFile, fmt.Sprintf("contest %s, selection %s", x.contest.id, x.s.ObjectID),
				"tally %d exceeds the %d cast ballots holding the contest", x.s.Tally, cast)
		}
		totals[x.contest] += x.s.Tally
	}
	for _, info := range v.e.manifest.contests {
		if allowed := int64(info.limit) * int64(v.tally.cast[info.pos]); totals[info] > allowed {
			v.ps.addf(CheckCount, tallyFile, "contest "+info.id, "the selections total %d votes; %d cast ballots allow at most %d", totals[info], v.tally.cast[info.pos], allowed)
		}
	}
}

// spoiledOutcome is what checking one file of spoiled_ballots/ found.
type spoiledOutcome struct {
	ballotID string
	problems []Problem
}

// checkSpoiledBallots checks every file of spoiled_ballots/ decrypts a spoiled ballot of
// submitted_ballots/ (each selection, placeholders too, 0 or 1 and each contest's total
// its limit), and that every spoiled ballot is decrypted exactly once.
func (v *run) checkSpoiledBallots(ctx context.Context) error {
	files := v.listFiles(spoiledDir)
	v.report.DecryptedSpoiled = len(files)
	outcomes := make([]spoiledOutcome, len(files))
	if err := v.forEach(ctx, len(files), func(i int) { outcomes[i] = v.checkSpoiledBallot(files[i]) }); err != nil {
		return err
	}
	decrypted := map[string]string{}
	for i, o := range outcomes {
		v.ps.addAll(o.problems)
		if o.ballotID == "" {
			continue
		}
		if first, dup := decrypted[o.ballotID]; dup {
			v.ps.addf(CheckSpoiled, files[i], "ballot "+o.ballotID, "the ballot is also decrypted in %s", first)
		}
		decrypted[o.ballotID] = files[i]
	}
	for _, id := range sortedKeys(v.spoiled) {
		if _, ok := decrypted[id]; !ok {
			v.ps.addf(CheckSpoiled, v.spoiled[id], "ballot "+id, "the spoiled ballot has no decryption in %s/", spoiledDir)
		}
	}
	return nil
}

// checkSpoiledBallot checks one decrypted spoiled ballot against its submitted ballot.
func (v *run) checkSpoiledBallot(file string) spoiledOutcome {
	ps := &problems{limit: math.MaxInt}
	var t plaintextTallyJSON
	if !readJSON(v.fsys, file, &t, ps) {
		return spoiledOutcome{problems: ps.list}
	}
	out := spoiledOutcome{ballotID: t.ObjectID}
	ballotFile, ok := v.spoiled[t.ObjectID]
	if !ok {
		ps.addf(CheckSpoiled, file, "ballot "+t.ObjectID, "no ballot of %s/ with this id is spoiled", submittedDir)
		out.problems = ps.list
		return out
	}
	b, err := readBallotFile(v.fsys, ballotFile)
	if err != nil {
		ps.addf(CheckRead, ballotFile, "", "%v", err)
		out.problems = ps.list
		return out
	}
	todo := matchPlaintext(ps, file, &t, v.spoiledSelections(b), "the ballot's")
	totals := map[*contestInfo]int64{}
	for _, x := range todo {
		where := fmt.Sprintf("ballot %s, contest %s, selection %s", t.ObjectID, x.contest.id, x.s.ObjectID)
		ps.addAll(v.checkDecryption(file, where, "the spoiled ballot's ciphertext of the selection", x.ct, x.s).problems.list)
		if x.s.Tally != 0 && x.s.Tally != 1 {
			ps.addf(CheckCount, file, where, "a ballot's selection counts 0 or 1, not %d", x.s.Tally)
		}
		totals[x.contest] += x.s.Tally
	}
	for c, total := range totals {
		if total != int64(c.limit) {
			ps.addf(CheckCount, file, fmt.Sprintf("ballot %s, contest %s", t.ObjectID, c.id), "the selections and placeholders total %d; the contest takes exactly %d", total, c.limit)
		}
	}
	out.problems = ps.list
	return out
}

// spoiledSelections lists a ballot's selections, placeholders included, with their
// ciphertexts, for the contests the manifest knows (the ballot's checks report others).
func (v *run) spoiledSelections(b *ballotJSON) []tallySelection {
	var out []tallySelection
	for _, c := range b.Contests {
		info := v.e.manifest.byID[c.ObjectID]
		if info == nil {
			continue
		}
		for _, s := range c.BallotSelections {
			k, ok := info.index[s.ObjectID]
			if !ok {
				continue
			}
			d := decoder{g: v.e.g}
			ct := d.ciphertext("ciphertext", s.Ciphertext)
			if d.err == nil {
				out = append(out, tallySelection{contest: info, index: k, ct: ct})
			}
		}
	}
	return slices.Clip(out)
}

// readBallotFile decodes a submitted ballot.
func readBallotFile(fsys fs.FS, file string) (*ballotJSON, error) {
	raw, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	var b ballotJSON
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("not a submitted ballot: %w", err)
	}
	return &b, nil
}
