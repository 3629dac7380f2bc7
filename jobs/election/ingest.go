package election

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg/record"
)

// IngestReport is the outcome of a ballot upload.
type IngestReport struct {
	// Received is the number of ballots (non-blank lines) read.
	Received int `json:"received"`
	// Stored is the number of new ballots stored.
	Stored int `json:"stored"`
	// AlreadyStored counts ballots identical to one stored before.
	AlreadyStored int `json:"alreadyStored"`
	// Rejected counts ballots refused; Errors says why (the first MaxLineErrors).
	Rejected int         `json:"rejected"`
	Errors   []LineError `json:"errors"`
	// ErrorsTruncated is true when more ballots were rejected than Errors lists.
	ErrorsTruncated bool `json:"errorsTruncated"`
}

// LineError is why one ballot of an upload was refused.
type LineError struct {
	// Line is the ballot's line in the upload (its position for a folder import).
	Line     int    `json:"line"`
	BallotID string `json:"ballotId,omitempty"`
	Error    string `json:"error"`
}

// MaxLineErrors caps the errors an IngestReport lists.
const MaxLineErrors = 1000

// ingestBatch is how many ballots are looked up and copied at once: enough to
// make the round trips cheap, few enough that memory stays flat.
const ingestBatch = 256

// IngestBallots stores the submitted ballots of an NDJSON stream (one
// ballot per line) in an OPEN election, in one transaction: each valid new
// ballot is stored, an identical re-upload counts as already stored, and
// every other line is reported with its error. The stream is read once and
// never held in memory. A read error (such as a dropped connection) stores
// nothing.
func (s *Service) IngestBallots(ctx context.Context, electionID int64, r io.Reader) (*IngestReport, error) {
	var rep *IngestReport
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		in, err := s.newIngester(ctx, tx, electionID)
		if err != nil {
			return err
		}
		if err := record.ScanNDJSON(r, func(line int, data []byte) error {
			return in.add(ctx, line, data)
		}); err != nil {
			return fmt.Errorf("%w: reading the upload: %w", ErrInvalid, err)
		}
		rep, err = in.finish(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("ballots ingested", "election_id", electionID, "received", rep.Received, "stored", rep.Stored,
		"already_stored", rep.AlreadyStored, "rejected", rep.Rejected)
	return rep, nil
}

// ingester validates and stores ballots of one election in a transaction.
type ingester struct {
	tx     pgx.Tx
	el     *loaded
	next   int64 // the next ballot number
	batch  []pendingBallot
	report IngestReport
}

type pendingBallot struct {
	line   int
	id     string
	state  record.BallotState
	code   string
	digest []byte
	data   []byte
	form   []byte // the tally form of a cast ballot; nil for a spoiled one, whose tally reads data
}

// newIngester locks the election (uploads to one election are serialized,
// which numbers its ballots densely) and checks that it is OPEN.
func (s *Service) newIngester(ctx context.Context, tx pgx.Tx, electionID int64) (*ingester, error) {
	st, err := lockElection(ctx, tx, electionID)
	if err != nil {
		return nil, err
	}
	if st != StateOpen {
		return nil, wrongState(electionID, st, "ballots are accepted only while it is OPEN, before the tally starts")
	}
	el, err := s.loadWith(ctx, tx, electionID)
	if err != nil {
		return nil, err
	}
	in := &ingester{tx: tx, el: el, report: IngestReport{Errors: []LineError{}}}
	if err := tx.QueryRow(ctx, `SELECT ballot_count FROM elections WHERE election_id = $1`, electionID).Scan(&in.next); err != nil {
		return nil, fmt.Errorf("read ballot count of election %d: %w", electionID, err)
	}
	return in, nil
}

// add checks one ballot's JSON and queues it for storing.
func (in *ingester) add(ctx context.Context, line int, data []byte) error {
	in.report.Received++
	b, err := decodeBallot(data)
	if err != nil {
		in.reject(line, "", err)
		return nil
	}
	return in.addBallot(ctx, line, b)
}

// addBallot checks a decoded ballot's structure and queues it for storing.
func (in *ingester) addBallot(ctx context.Context, line int, b *record.SubmittedBallot) error {
	if b.State != record.BallotCast && b.State != record.BallotSpoiled {
		in.reject(line, b.ObjectID, fmt.Errorf("state is %v; a submitted ballot is CAST or SPOILED", b.State))
		return nil
	}
	if err := in.el.election.CheckStructure(b); err != nil {
		in.reject(line, b.ObjectID, err)
		return nil
	}
	return in.queue(ctx, line, b)
}

// queue encodes a checked ballot and queues it for storing.
func (in *ingester) queue(ctx context.Context, line int, b *record.SubmittedBallot) error {
	p, err := encodeBallot(in.el, line, b)
	if err != nil {
		in.reject(line, b.ObjectID, err)
		return nil
	}
	in.batch = append(in.batch, p)
	if len(in.batch) >= ingestBatch {
		return in.flush(ctx)
	}
	return nil
}

// encodeBallot is a checked ballot as it is stored.
func encodeBallot(el *loaded, line int, b *record.SubmittedBallot) (pendingBallot, error) {
	data, err := record.EncodeCompact(el.group, b)
	if err != nil {
		return pendingBallot{}, err
	}
	var form []byte
	if b.State == record.BallotCast {
		if form, err = record.EncodeTallyForm(el.group, b); err != nil {
			return pendingBallot{}, err
		}
	}
	sum := sha256.Sum256(data)
	return pendingBallot{line: line, id: b.ObjectID, state: b.State, code: trackingCode(b.Code), digest: sum[:], data: data, form: form}, nil
}

// ballotColumns are the columns of a stored ballot, in the order of
// pendingBallot.row.
var ballotColumns = []string{"election_id", "ballot_no", "ballot_id", "state", "tracking_code", "digest", "data", "tally_form"}

// row is the ballot's row of the ballots table as ballot number no.
func (b pendingBallot) row(electionID, no int64) []any {
	return []any{electionID, no, b.id, int16(b.state), b.code, b.digest, b.data, b.form}
}

// decodeBallot parses one submitted ballot strictly: one JSON object with
// only the fields of the format.
func decodeBallot(data []byte) (*record.SubmittedBallot, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b record.SubmittedBallot
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("not a submitted ballot: %w", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	if b.ObjectID == "" {
		return nil, errors.New("the ballot has no object_id")
	}
	return &b, nil
}

// trackingCode is the canonical text of a ballot's code, as voters look it up.
func trackingCode(code record.Hex) string { return strings.ToUpper(code.String()) }

func (in *ingester) reject(line int, id string, err error) {
	in.report.Rejected++
	if len(in.report.Errors) >= MaxLineErrors {
		in.report.ErrorsTruncated = true
		return
	}
	in.report.Errors = append(in.report.Errors, LineError{Line: line, BallotID: id, Error: err.Error()})
}

// flush stores the queued ballots that are new, counting identical ones as
// already stored and refusing another ballot under a known id.
func (in *ingester) flush(ctx context.Context) error {
	if len(in.batch) == 0 {
		return nil
	}
	ids := make([]string, len(in.batch))
	for i, b := range in.batch {
		ids[i] = b.id
	}
	rows, err := in.tx.Query(ctx, `SELECT ballot_id, digest FROM ballots WHERE election_id = $1 AND ballot_id = ANY($2)`, in.el.id, ids)
	if err != nil {
		return fmt.Errorf("look up ballots: %w", err)
	}
	stored := map[string][]byte{}
	var (
		id     string
		digest []byte
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &digest}, func() error { stored[id] = digest; return nil }); err != nil {
		return fmt.Errorf("look up ballots: %w", err)
	}
	var fresh [][]any
	for _, b := range in.batch {
		if d, ok := stored[b.id]; ok {
			if bytes.Equal(d, b.digest) {
				in.report.AlreadyStored++
			} else {
				in.reject(b.line, b.id, fmt.Errorf("a different ballot with id %q is already stored", b.id))
			}
			continue
		}
		stored[b.id] = b.digest
		fresh = append(fresh, b.row(in.el.id, in.next))
		in.next++
	}
	in.batch = in.batch[:0]
	if len(fresh) == 0 {
		return nil
	}
	if _, err := in.tx.CopyFrom(ctx, pgx.Identifier{"ballots"}, ballotColumns, pgx.CopyFromRows(fresh)); err != nil {
		return fmt.Errorf("store %d ballots: %w", len(fresh), err)
	}
	in.report.Stored += len(fresh)
	return nil
}

// finish stores what is queued and records the new ballot count.
func (in *ingester) finish(ctx context.Context) (*IngestReport, error) {
	if err := in.flush(ctx); err != nil {
		return nil, err
	}
	if _, err := in.tx.Exec(ctx, `UPDATE elections SET ballot_count = $2, updated_at = now() WHERE election_id = $1`,
		in.el.id, in.next); err != nil {
		return nil, fmt.Errorf("update ballot count: %w", err)
	}
	return &in.report, nil
}
