package main

import (
	"fmt"
	"io"

	"github.com/tallyq/tallyq/jobs/election"
)

// printResults prints an election's results: each contest's selections with
// their votes and share, then the spoiled ballots' count.
func printResults(w io.Writer, r *election.Results) {
	fmt.Fprintf(w, "\nResults of election %d (%s): %d ballots cast, %d spoiled, %d invalid\n",
		r.ElectionID, r.Name, r.BallotsCast, r.BallotsSpoiled, r.BallotsInvalid)
	width := 0
	for _, c := range r.Contests {
		for _, s := range c.Selections {
			width = max(width, len(s.Name))
		}
	}
	for _, c := range r.Contests {
		fmt.Fprintf(w, "%s (%d votes)\n", c.Name, c.TotalVotes)
		for _, s := range c.Selections {
			fmt.Fprintf(w, "  %-*s %8d %7.2f%%  %s\n", width, s.Name, s.Votes, s.Percent, s.SelectionID)
		}
	}
	fmt.Fprintf(w, "%d spoiled ballots decrypted\n\n", len(r.SpoiledBallots))
}
