package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/jobs"
)

// Definition is an election before it has ballots: what a key ceremony
// produces and an election record's header files hold.
type Definition struct {
	Group     *eg.Group
	Manifest  *record.Manifest
	Context   *record.Context
	Guardians []*record.GuardianRecord
	Devices   []*record.EncryptionDevice
	// DoNotVerifyBallots turns off the tally's check of every ballot's
	// proofs, which is on by default.
	DoNotVerifyBallots bool
	CreatedBy          string
}

// ImportOptions tune an import.
type ImportOptions struct {
	// CreatedBy names who imported the election, for the audit trail.
	CreatedBy string
	// DoNotVerifyBallots turns the tally's ballot validation off (it is on
	// by default; benchmarks of the tally alone turn it off).
	DoNotVerifyBallots bool
}

// ImportResult is the outcome of an import: the new election and what
// happened to the record's ballots.
type ImportResult struct {
	ElectionID int64         `json:"electionId"`
	Ballots    *IngestReport `json:"ballots"`
}

// ImportFolder creates an election from an ElectionGuard 0.95 election
// record (constants, manifest, context, guardians, encryption devices and
// submitted ballots) in one transaction. The context's hashes and joint key
// are recomputed from the manifest and guardians; a mismatch is refused with
// an error wrapping ErrInvalid that says which. Ballots are checked and
// reported as IngestBallots does.
func (s *Service) ImportFolder(ctx context.Context, fsys fs.FS, opts ImportOptions) (*ImportResult, error) {
	folder := record.NewFolder(fsys)
	def, err := s.readDefinition(folder)
	if err != nil {
		return nil, err
	}
	def.CreatedBy, def.DoNotVerifyBallots = opts.CreatedBy, opts.DoNotVerifyBallots
	var res *ImportResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		id, err := s.createTx(ctx, tx, def)
		if err != nil {
			return err
		}
		in, err := s.newIngester(ctx, tx, id)
		if err != nil {
			return err
		}
		n := 0
		for b, err := range folder.SubmittedBallots() {
			n++
			in.report.Received++
			if err != nil {
				in.reject(n, "", err)
				continue
			}
			if err := in.addBallot(ctx, n, b); err != nil {
				return err
			}
		}
		rep, err := in.finish(ctx)
		res = &ImportResult{ElectionID: id, Ballots: rep}
		return err
	})
	if err != nil {
		s.forget(res)
		return nil, err
	}
	s.log.Info("election imported", "election_id", res.ElectionID, "ballots", res.Ballots.Stored, "rejected", res.Ballots.Rejected)
	return res, nil
}

// forget drops a rolled-back import's election from the cache.
func (s *Service) forget(res *ImportResult) {
	if res == nil {
		return
	}
	s.mu.Lock()
	delete(s.elections, res.ElectionID)
	s.mu.Unlock()
}

// readDefinition reads and checks a record folder's header files.
func (s *Service) readDefinition(f *record.Folder) (*Definition, error) {
	g, err := s.groupOfFolder(f)
	if err != nil {
		return nil, err
	}
	def := &Definition{Group: g}
	var errs []error
	def.Manifest, err = f.Manifest()
	errs = append(errs, err)
	def.Context, err = f.Context()
	errs = append(errs, err)
	def.Guardians, err = f.Guardians()
	errs = append(errs, err)
	def.Devices, err = f.Devices()
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return def, nil
}

// groupOfFolder returns the group of a record folder's constants.
func (s *Service) groupOfFolder(f *record.Folder) (*eg.Group, error) {
	constants, err := f.Constants()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return s.groupOf(constants)
}

// Create creates an OPEN election with no ballots from a definition (as
// `tallyq demo` does after its key ceremony) and returns its id.
func (s *Service) Create(ctx context.Context, def *Definition) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		id, err = s.createTx(ctx, tx, def)
		return err
	})
	return id, err
}

// createTx checks a definition (hashes, joint key, guardians' proofs) and
// inserts the election and its guardians.
func (s *Service) createTx(ctx context.Context, tx pgx.Tx, def *Definition) (int64, error) {
	if _, err := record.NewElection(def.Group, def.Manifest, def.Context); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := record.VerifyContext(def.Group, def.Context, def.Guardians); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	manifest, err1 := json.Marshal(def.Manifest)
	context, err2 := json.Marshal(def.Context)
	constants, err3 := json.Marshal(record.ConstantsOf(def.Group))
	devices, err4 := json.Marshal(nonNil(def.Devices))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return 0, fmt.Errorf("encode election: %w", err)
	}
	name := def.Manifest.ElectionScopeID
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO elections (name, group_name, manifest, context, constants, devices,
			number_of_guardians, quorum, verify_ballots, chunk_size, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING election_id`,
		name, def.Group.Name(), manifest, context, constants, devices, def.Context.NumberOfGuardians,
		def.Context.Quorum, !def.DoNotVerifyBallots, s.cfg.ChunkSize, def.CreatedBy).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert election: %w", err)
	}
	for _, g := range def.Guardians {
		pub, err := json.Marshal(g)
		if err != nil {
			return 0, fmt.Errorf("encode guardian %s: %w", g.GuardianID, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO guardians (election_id, guardian_id, sequence_order, public_record)
			VALUES ($1, $2, $3, $4)`, id, g.GuardianID, g.SequenceOrder, pub); err != nil {
			return 0, fmt.Errorf("insert guardian %s: %w", g.GuardianID, err)
		}
	}
	err = jobs.RecordAudit(ctx, tx, jobs.AuditEntry{Actor: def.CreatedBy, Action: jobs.AuditImport, ElectionID: &id,
		Detail: fmt.Sprintf("%q, %d guardians, quorum %d", name, def.Context.NumberOfGuardians, def.Context.Quorum)})
	return id, err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
