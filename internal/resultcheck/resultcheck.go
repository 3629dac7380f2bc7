// Package resultcheck compares an election's decrypted results with the
// plaintext its synthetic voters chose (internal/synth), for the demo and
// the chaos run, which must end with exactly the voters' choices.
package resultcheck

import (
	"fmt"
	"maps"
	"slices"

	"github.com/tallyq/tallyq/internal/synth"
	"github.com/tallyq/tallyq/jobs/election"
)

// Compare returns the first difference between an election's decrypted
// results and the plaintext its voters chose, or nil: the counts (no ballot
// invalid), every selection's votes, and every spoiled ballot's decryption.
func Compare(r *election.Results, want *synth.Expected) error {
	switch {
	case r.BallotsCast != int64(want.Cast):
		return fmt.Errorf("%d ballots cast, expected %d", r.BallotsCast, want.Cast)
	case r.BallotsSpoiled != int64(want.Spoiled):
		return fmt.Errorf("%d ballots spoiled, expected %d", r.BallotsSpoiled, want.Spoiled)
	case r.BallotsInvalid != 0:
		return fmt.Errorf("%d ballots invalid, expected none", r.BallotsInvalid)
	}
	tally := votesByID(r.Contests,
		func(c election.ContestResult) (string, []election.SelectionResult) { return c.ContestID, c.Selections },
		func(s election.SelectionResult) (string, int64) { return s.SelectionID, s.Votes })
	if err := compareVotes("the tally", tally, want.Tally); err != nil {
		return err
	}
	if len(r.SpoiledBallots) != len(want.SpoiledBallots) {
		return fmt.Errorf("%d spoiled ballots decrypted, expected %d", len(r.SpoiledBallots), len(want.SpoiledBallots))
	}
	for _, b := range r.SpoiledBallots {
		exp, ok := want.SpoiledBallots[b.BallotID]
		if !ok {
			return fmt.Errorf("ballot %s was decrypted as spoiled but was cast", b.BallotID)
		}
		got := votesByID(b.Contests,
			func(c election.SpoiledContest) (string, []election.SpoiledSelection) {
				return c.ContestID, c.Selections
			},
			func(s election.SpoiledSelection) (string, int64) { return s.SelectionID, s.Vote })
		if err := compareVotes("spoiled ballot "+b.BallotID, got, exp); err != nil {
			return err
		}
	}
	return nil
}

// compareVotes compares votes by contest and selection id, naming the
// first contest or selection that differs, in the expected order of ids.
func compareVotes(what string, got, want map[string]map[string]int64) error {
	for _, c := range sortedKeys(want) {
		g, ok := got[c]
		if !ok {
			return fmt.Errorf("%s has no contest %s", what, c)
		}
		for _, s := range sortedKeys(want[c]) {
			v, ok := g[s]
			if !ok {
				return fmt.Errorf("%s: contest %s has no selection %s", what, c, s)
			}
			if v != want[c][s] {
				return fmt.Errorf("%s: contest %s, selection %s: %d votes, expected %d", what, c, s, v, want[c][s])
			}
		}
		if len(g) != len(want[c]) {
			return fmt.Errorf("%s: contest %s has %d selections, expected %d", what, c, len(g), len(want[c]))
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("%s has %d contests, expected %d", what, len(got), len(want))
	}
	return nil
}

// votesByID maps contests to their selections' votes, by id.
func votesByID[C, S any](contests []C, contest func(C) (string, []S), selection func(S) (string, int64)) map[string]map[string]int64 {
	out := make(map[string]map[string]int64, len(contests))
	for _, c := range contests {
		id, sels := contest(c)
		out[id] = map[string]int64{}
		for _, s := range sels {
			sid, v := selection(s)
			out[id][sid] = v
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
