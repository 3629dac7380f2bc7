package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tallyq/tallyq/eg"
)

// tallyAccumulator multiplies the cast ballots' ciphertexts per manifest selection
// (placeholders left out) and counts the cast ballots holding each contest.
type tallyAccumulator struct {
	sel  [][]ciphertext // [contest pos][selection index]
	cast []int          // [contest pos]
}

func newTallyAccumulator(e *election) *tallyAccumulator {
	a := &tallyAccumulator{sel: make([][]ciphertext, len(e.manifest.contests)), cast: make([]int, len(e.manifest.contests))}
	one := ciphertext{pad: e.g.OneP(), data: e.g.OneP()}
	for i, c := range e.manifest.contests {
		a.sel[i] = make([]ciphertext, len(c.realSelections()))
		for k := range a.sel[i] {
			a.sel[i][k] = one
		}
	}
	return a
}

// add multiplies in a cast ballot's selections that decoded.
func (a *tallyAccumulator) add(g *eg.Group, b *checkedBallot) {
	for _, c := range b.contests {
		a.cast[c.info.pos]++
		for k := range a.sel[c.info.pos] {
			if c.ok[k] {
				a.sel[c.info.pos][k] = a.sel[c.info.pos][k].mul(g, c.cts[k])
			}
		}
	}
}

// merge multiplies another accumulator into a.
func (a *tallyAccumulator) merge(g *eg.Group, o *tallyAccumulator) {
	for i := range a.sel {
		a.cast[i] += o.cast[i]
		for k := range a.sel[i] {
			a.sel[i][k] = a.sel[i][k].mul(g, o.sel[i][k])
		}
	}
}

// ballotJob is one ballot file to check; invalid ones (from invalid_ballots/) are not
// tallied and are expected to fail.
type ballotJob struct {
	file    string
	invalid bool
}

// ballotResult is a checked ballot with the job it came from.
type ballotResult struct {
	job ballotJob
	b   *checkedBallot
}

// chainLink is a ballot's place in the tracking-code chain.
type chainLink struct {
	file, id string
	seed     [32]byte
}

// ballotCollector gathers what the record-wide checks need of every ballot.
type ballotCollector struct {
	ids   map[string]string // submitted ballot id → file
	codes map[[32]byte]bool
	links []chainLink
}

// checkBallots checks every ballot of submitted_ballots/ and invalid_ballots/ on the
// run's workers, multiplies the cast ones into v.tally and checks ids and the code chain.
func (v *run) checkBallots(ctx context.Context) error {
	submitted := v.listFiles(submittedDir)
	invalid := v.listFiles(InvalidBallotsDir)
	jobs := make(chan ballotJob)
	results := make(chan ballotResult, v.workers)
	accs := make([]*tallyAccumulator, v.workers)
	var wg sync.WaitGroup
	for w := range accs {
		accs[w] = newTallyAccumulator(v.e)
		wg.Add(1)
		go func(acc *tallyAccumulator) {
			defer wg.Done()
			for j := range jobs {
				b := v.e.readBallot(v.fsys, j.file)
				if !j.invalid && b.state == stateCast {
					acc.add(v.e.g, b)
				}
				results <- ballotResult{job: j, b: b}
			}
		}(accs[w])
	}
	go func() {
		defer close(jobs)
		for _, list := range []struct {
			files   []string
			invalid bool
		}{{submitted, false}, {invalid, true}} {
			for _, f := range list.files {
				select {
				case jobs <- ballotJob{file: f, invalid: list.invalid}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	col := &ballotCollector{ids: map[string]string{}, codes: map[[32]byte]bool{}}
	v.spoiled = map[string]string{}
	before := len(v.ps.list)
	for r := range results {
		v.collect(col, r)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	v.tally = accs[0]
	for _, a := range accs[1:] {
		v.tally.merge(v.e.g, a)
	}
	v.checkChain(col)
	// The workers finish ballots in any order; the report lists them by file.
	byFile := func(a, b Problem) int { return strings.Compare(a.File, b.File) }
	slices.SortStableFunc(v.ps.list[before:], byFile)
	slices.SortStableFunc(v.ps.warnings, byFile)
	return nil
}

// collect takes one checked ballot's problems and counts.
func (v *run) collect(col *ballotCollector, r ballotResult) {
	b := r.b
	if b.chained {
		col.codes[[32]byte(b.code.Bytes())] = true
		col.links = append(col.links, chainLink{file: b.file, id: b.id, seed: [32]byte(b.seed.Bytes())})
	}
	if r.job.invalid {
		v.report.InvalidBallots++
		if len(b.problems) == 0 {
			v.ps.warnings = append(v.ps.warnings, Problem{Check: CheckInvalidBallot, File: b.file, Where: "ballot " + b.id,
				Detail: "the ballot passes every check of this verifier, yet the tally left it out"})
		}
		return
	}
	for _, p := range b.problems {
		v.ps.add(p)
	}
	if b.id == "" {
		return // unreadable; reported
	}
	if other, dup := col.ids[b.id]; dup {
		first, second := min(other, b.file), max(other, b.file) // the same whichever worker came first
		v.ps.addf(CheckDuplicate, second, "ballot "+b.id, "the ballot id is also that of %s", first)
		return
	}
	col.ids[b.id] = b.file
	switch b.state {
	case stateCast:
		v.report.CastBallots++
	case stateSpoiled:
		v.report.SpoiledBallots++
		v.spoiled[b.id] = b.file
	}
}

// checkChain checks every code seed is an encryption device's hash (or the manifest
// hash) or another ballot's code, so that no ballot of a device's chain is missing.
func (v *run) checkChain(col *ballotCollector) {
	g := v.e.g
	devices := v.listFiles(devicesDir)
	// 1.x seeds a ballot encrypted without a device with the manifest hash.
	heads := map[[32]byte]bool{[32]byte(v.e.manifestHash.Bytes()): true}
	for _, f := range devices {
		var d deviceJSON
		if readJSON(v.fsys, f, &d, v.ps) {
			heads[[32]byte(g.Hash(d.DeviceID, d.SessionID, d.LaunchCode, d.Location).Bytes())] = true
		}
	}
	for _, l := range col.links {
		if !heads[l.seed] && !col.codes[l.seed] {
			v.ps.addf(CheckCodeChain, l.file, "ballot "+l.id,
				"code_seed %X is neither the hash of a device of %s/ nor the code of another ballot: a ballot before it is missing", l.seed[:], devicesDir)
		}
	}
}

// checkEncryptedTally reads encrypted_tally.json and checks that it lists exactly the
// manifest's contests and selections and that each selection is the product of the cast
// ballots' ciphertexts.
func (v *run) checkEncryptedTally() {
	var t encryptedTallyJSON
	v.encrypted = map[string]map[string]ciphertext{}
	if !readJSON(v.fsys, encryptedTallyFile, &t, v.ps) {
		return
	}
	const file = encryptedTallyFile
	for _, id := range sortedKeys(t.Contests) {
		if v.e.manifest.byID[id] == nil || t.Contests[id].ObjectID != id {
			v.ps.addf(CheckEncryptedTally, file, "contest "+id, "the contest is not in the manifest, or is filed under another id (%q)", t.Contests[id].ObjectID)
		}
	}
	for _, info := range v.e.manifest.contests {
		tc, ok := t.Contests[info.id]
		if !ok {
			v.ps.addf(CheckEncryptedTally, file, "contest "+info.id, "the manifest's contest is missing")
			continue
		}
		v.encrypted[info.id] = v.checkEncryptedContest(info, tc)
	}
}

func (v *run) checkEncryptedContest(info *contestInfo, tc encryptedTallyContestJSON) map[string]ciphertext {
	const file = encryptedTallyFile
	g := v.e.g
	out := map[string]ciphertext{}
	where := "contest " + info.id
	d := decoder{g: g}
	if dh := d.q("description_hash", tc.DescriptionHash); d.err == nil && !dh.Equal(info.hash) {
		v.ps.addf(CheckEncryptedTally, file, where, "description_hash %s is not the manifest contest's hash %s", dh.Hex(), info.hash.Hex())
	}
	sels := info.realSelections()
	for _, id := range sortedKeys(tc.Selections) {
		if _, known := info.index[id]; !known || info.selections[info.index[id]].placeholder || tc.Selections[id].ObjectID != id {
			v.ps.addf(CheckEncryptedTally, file, where+", selection "+id, "the selection is not one of the manifest's contest (placeholders are not tallied), or is filed under another id")
		}
	}
	for k, s := range sels {
		ts, ok := tc.Selections[s.id]
		sw := fmt.Sprintf("%s, selection %s", where, s.id)
		if !ok {
			v.ps.addf(CheckEncryptedTally, file, sw, "the manifest's selection is missing")
			continue
		}
		sd := decoder{g: g}
		ct := sd.ciphertext("ciphertext", ts.Ciphertext)
		dh := sd.q("description_hash", ts.DescriptionHash)
		if sd.err != nil {
			v.ps.addf(CheckRead, file, sw, "%v", sd.err)
			continue
		}
		if !dh.Equal(s.hash) {
			v.ps.addf(CheckEncryptedTally, file, sw, "description_hash %s is not the manifest selection's hash %s", dh.Hex(), s.hash.Hex())
		}
		if !ct.equal(v.tally.sel[info.pos][k]) {
			v.ps.addf(CheckTallyProduct, file, sw, "the ciphertext is not the product of the %d cast ballots' ciphertexts of this selection", v.tally.cast[info.pos])
		}
		out[s.id] = ct
	}
	return out
}
