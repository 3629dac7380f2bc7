package election

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/jobs"
)

// Info is an election's state and progress (GET /api/elections/{id}).
type Info struct {
	ElectionID        int64          `json:"electionId"`
	Name              string         `json:"name"`
	State             State          `json:"state"`
	NumberOfGuardians int            `json:"numberOfGuardians"`
	Quorum            int            `json:"quorum"`
	VerifyBallots     bool           `json:"verifyBallots"`
	ChunkSize         int            `json:"chunkSize"`
	Ballots           BallotCounts   `json:"ballots"`
	Guardians         []GuardianInfo `json:"guardians"`
	// GuardiansDecrypted counts the guardians whose shares are complete.
	GuardiansDecrypted int `json:"guardiansDecrypted"`
	// AvailableGuardians is the set frozen when combine started, else null.
	AvailableGuardians []string         `json:"availableGuardians"`
	Jobs               []jobs.JobStatus `json:"jobs"`
	CreatedAt          time.Time        `json:"createdAt"`
}

// BallotCounts counts an election's ballots.
type BallotCounts struct {
	Total   int64 `json:"total"`
	Cast    int64 `json:"cast"`
	Spoiled int64 `json:"spoiled"`
	// Invalid counts the ballots the tally rejected (cast or spoiled).
	Invalid int64 `json:"invalid"`
}

// GuardianInfo is a guardian's public identity and decryption progress.
type GuardianInfo struct {
	GuardianID     string     `json:"guardianId"`
	SequenceOrder  int        `json:"sequenceOrder"`
	DecryptionMode *string    `json:"decryptionMode"`
	DecryptionJob  *uuid.UUID `json:"decryptionJobId"`
	DecryptedAt    *time.Time `json:"decryptedAt"`
}

// Info returns an election's state, ballot counts, guardians and jobs.
func (s *Service) Info(ctx context.Context, id int64) (*Info, error) {
	in := &Info{ElectionID: id, Guardians: []GuardianInfo{}}
	err := s.pool.QueryRow(ctx, `SELECT name, state, number_of_guardians, quorum, verify_ballots, chunk_size, available_guardians,
			created_at, ballot_count,
			(SELECT count(*) FROM ballots b WHERE b.election_id = e.election_id AND b.state = 1),
			(SELECT count(*) FROM invalid_ballots i WHERE i.election_id = e.election_id)
		FROM elections e WHERE election_id = $1`, id).Scan(&in.Name, &in.State, &in.NumberOfGuardians, &in.Quorum,
		&in.VerifyBallots, &in.ChunkSize, &in.AvailableGuardians, &in.CreatedAt, &in.Ballots.Total, &in.Ballots.Cast, &in.Ballots.Invalid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: election %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read election %d: %w", id, err)
	}
	in.Ballots.Spoiled = in.Ballots.Total - in.Ballots.Cast
	rows, err := s.pool.Query(ctx, `SELECT guardian_id, sequence_order, decryption_mode, decryption_job, decrypted_at
		FROM guardians WHERE election_id = $1 ORDER BY sequence_order`, id)
	if err != nil {
		return nil, fmt.Errorf("read guardians: %w", err)
	}
	var g GuardianInfo
	if _, err := pgx.ForEachRow(rows, []any{&g.GuardianID, &g.SequenceOrder, &g.DecryptionMode, &g.DecryptionJob, &g.DecryptedAt}, func() error {
		in.Guardians = append(in.Guardians, g)
		if g.DecryptedAt != nil {
			in.GuardiansDecrypted++
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read guardians: %w", err)
	}
	page, err := s.engine.List(ctx, jobs.ListParams{ElectionID: &id, Limit: 500})
	if err != nil {
		return nil, err
	}
	in.Jobs = nonNil(page.Jobs)
	return in, nil
}

// Results are an election's decrypted results (GET /api/elections/{id}/results).
type Results struct {
	ElectionID int64  `json:"electionId"`
	Name       string `json:"name"`
	// BallotsCast counts the cast ballots in the tally; BallotsSpoiled the
	// valid spoiled ballots; BallotsInvalid those the tally rejected.
	BallotsCast    int64           `json:"ballotsCast"`
	BallotsSpoiled int64           `json:"ballotsSpoiled"`
	BallotsInvalid int64           `json:"ballotsInvalid"`
	Contests       []ContestResult `json:"contests"`
	SpoiledBallots []SpoiledBallot `json:"spoiledBallots"`
}

// ContestResult is one contest's decrypted tally.
type ContestResult struct {
	ContestID  string            `json:"contestId"`
	Name       string            `json:"name"`
	TotalVotes int64             `json:"totalVotes"`
	Selections []SelectionResult `json:"selections"`
}

// SelectionResult is one selection's votes; Percent is its share of the
// contest's votes.
type SelectionResult struct {
	SelectionID string  `json:"selectionId"`
	CandidateID string  `json:"candidateId,omitempty"`
	Name        string  `json:"name"`
	Votes       int64   `json:"votes"`
	Percent     float64 `json:"percent"`
}

// SpoiledBallot is a spoiled ballot's decrypted selections (placeholders
// included, as ElectionGuard decrypts them).
type SpoiledBallot struct {
	BallotID string           `json:"ballotId"`
	Contests []SpoiledContest `json:"contests"`
}

// SpoiledContest is one contest of a spoiled ballot.
type SpoiledContest struct {
	ContestID  string             `json:"contestId"`
	Selections []SpoiledSelection `json:"selections"`
}

// SpoiledSelection is one decrypted selection of a spoiled ballot.
type SpoiledSelection struct {
	SelectionID string `json:"selectionId"`
	Vote        int64  `json:"vote"`
}

// Results returns the decrypted results of a DECRYPTED election.
func (s *Service) Results(ctx context.Context, id int64) (*Results, error) {
	el, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	res := &Results{ElectionID: id, Name: el.election.Manifest.ElectionScopeID, Contests: []ContestResult{}, SpoiledBallots: []SpoiledBallot{}}
	var st State
	err = s.pool.QueryRow(ctx, `SELECT e.state,
			coalesce((SELECT sum(cast_count) FROM tally_subtotals t WHERE t.election_id = e.election_id), 0),
			coalesce((SELECT sum(spoiled) FROM tally_subtotals t WHERE t.election_id = e.election_id), 0),
			(SELECT count(*) FROM invalid_ballots i WHERE i.election_id = e.election_id)
		FROM elections e WHERE election_id = $1`, id).Scan(&st, &res.BallotsCast, &res.BallotsSpoiled, &res.BallotsInvalid)
	if err != nil {
		return nil, fmt.Errorf("read election %d: %w", id, err)
	}
	if st != StateDecrypted {
		return nil, wrongState(id, st, "results exist once combine has completed (state DECRYPTED)")
	}
	rows, err := s.pool.Query(ctx, `SELECT o.owner, o.spoiled, o.contest_id, o.selection_id, r.tally
		FROM decryption_objects o JOIN plaintext_results r USING (election_id, object_no)
		WHERE o.election_id = $1 ORDER BY o.object_no`, id)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var (
		owner, contest, selection string
		spoiled                   bool
		votes                     int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&owner, &spoiled, &contest, &selection, &votes}, func() error {
		if spoiled {
			res.addSpoiled(owner, contest, selection, votes)
		} else {
			res.addVotes(el.election.Manifest, contest, selection, votes)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	res.percentages()
	return res, nil
}

func (r *Results) addVotes(m *record.Manifest, contest, selection string, votes int64) {
	if n := len(r.Contests); n == 0 || r.Contests[n-1].ContestID != contest {
		name := contest
		if c, ok := m.Contest(contest); ok && c.Name != "" {
			name = c.Name
		}
		r.Contests = append(r.Contests, ContestResult{ContestID: contest, Name: name, Selections: []SelectionResult{}})
	}
	c := &r.Contests[len(r.Contests)-1]
	sel := SelectionResult{SelectionID: selection, Name: selection, Votes: votes}
	if desc, ok := m.Contest(contest); ok {
		for _, s := range desc.BallotSelections {
			if s.ObjectID == selection {
				sel.CandidateID = s.CandidateID
				sel.Name = candidateName(m, s.CandidateID)
			}
		}
	}
	c.Selections = append(c.Selections, sel)
	c.TotalVotes += votes
}

// candidateName is a candidate's name in the manifest's first language, or its id.
func candidateName(m *record.Manifest, id string) string {
	for _, c := range m.Candidates {
		if c.ObjectID == id && c.Name != nil && len(c.Name.Text) > 0 && c.Name.Text[0].Value != "" {
			return c.Name.Text[0].Value
		}
	}
	return id
}

func (r *Results) addSpoiled(ballot, contest, selection string, vote int64) {
	if n := len(r.SpoiledBallots); n == 0 || r.SpoiledBallots[n-1].BallotID != ballot {
		r.SpoiledBallots = append(r.SpoiledBallots, SpoiledBallot{BallotID: ballot})
	}
	b := &r.SpoiledBallots[len(r.SpoiledBallots)-1]
	if n := len(b.Contests); n == 0 || b.Contests[n-1].ContestID != contest {
		b.Contests = append(b.Contests, SpoiledContest{ContestID: contest})
	}
	c := &b.Contests[len(b.Contests)-1]
	c.Selections = append(c.Selections, SpoiledSelection{SelectionID: selection, Vote: vote})
}

func (r *Results) percentages() {
	for i := range r.Contests {
		c := &r.Contests[i]
		for j := range c.Selections {
			if c.TotalVotes > 0 {
				c.Selections[j].Percent = math.Round(10000*float64(c.Selections[j].Votes)/float64(c.TotalVotes)) / 100
			}
		}
	}
}

// BallotStatus is what a voter learns from a tracking code.
type BallotStatus struct {
	TrackingCode string `json:"trackingCode"`
	BallotID     string `json:"ballotId"`
	// State is CAST or SPOILED, as submitted.
	State string `json:"state"`
	// Status is "received" until the tally has checked the ballot, then
	// "counted" (cast and valid), "spoiled" (valid; decrypted for audit) or
	// "rejected" (invalid; Reason says why).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Ballot looks a ballot up by its tracking code.
func (s *Service) Ballot(ctx context.Context, electionID int64, code string) (*BallotStatus, error) {
	h, err := record.ParseHex(code)
	if err != nil {
		return nil, fmt.Errorf("%w: tracking code %q is not hexadecimal", ErrInvalid, code)
	}
	var (
		bs       = &BallotStatus{TrackingCode: trackingCode(h)}
		state    int16
		reason   *string
		subtotal bool
	)
	err = s.pool.QueryRow(ctx, `SELECT b.ballot_id, b.state, i.check_name || ': ' || i.reason,
			EXISTS (SELECT 1 FROM tally_subtotals t JOIN elections e USING (election_id)
				WHERE t.election_id = b.election_id AND t.chunk_no = b.ballot_no / e.chunk_size)
		FROM ballots b LEFT JOIN invalid_ballots i USING (election_id, ballot_no)
		WHERE b.election_id = $1 AND b.tracking_code = $2 LIMIT 1`, electionID, bs.TrackingCode).Scan(&bs.BallotID, &state, &reason, &subtotal)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: no ballot of election %d has tracking code %s", ErrNotFound, electionID, bs.TrackingCode)
	}
	if err != nil {
		return nil, fmt.Errorf("look up ballot: %w", err)
	}
	bs.State = "CAST"
	if state == int16(record.BallotSpoiled) {
		bs.State = "SPOILED"
	}
	switch {
	case reason != nil:
		bs.Status, bs.Reason = "rejected", *reason
	case !subtotal:
		bs.Status = "received"
	case bs.State == "SPOILED":
		bs.Status = "spoiled"
	default:
		bs.Status = "counted"
	}
	return bs, nil
}

// Summary is one line of the election list (GET /api/elections).
type Summary struct {
	ElectionID        int64     `json:"electionId"`
	Name              string    `json:"name"`
	State             State     `json:"state"`
	NumberOfGuardians int       `json:"numberOfGuardians"`
	Quorum            int       `json:"quorum"`
	Ballots           int64     `json:"ballots"`
	CreatedAt         time.Time `json:"createdAt"`
}

// List returns every election, newest first.
func (s *Service) List(ctx context.Context) ([]Summary, error) {
	rows, err := s.pool.Query(ctx, `SELECT election_id, name, state, number_of_guardians, quorum, ballot_count, created_at
		FROM elections ORDER BY election_id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list elections: %w", err)
	}
	list := []Summary{}
	var e Summary
	if _, err := pgx.ForEachRow(rows, []any{&e.ElectionID, &e.Name, &e.State, &e.NumberOfGuardians, &e.Quorum, &e.Ballots, &e.CreatedAt}, func() error {
		list = append(list, e)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list elections: %w", err)
	}
	return list, nil
}
