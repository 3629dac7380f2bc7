package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/jobs"
)

// combineMeta is a combine job's metadata: the guardian set frozen when it
// started and the layout of its two stages.
type combineMeta struct {
	// Available are the guardians whose shares are used, in sequence order.
	Available []string `json:"available"`
	// Missing are the other guardians, compensated for.
	Missing []string `json:"missing"`
	// Compensators are the available guardians whose compensated shares the
	// job computes from their sealed backups (the others uploaded theirs).
	Compensators []string `json:"compensators"`
	// Units is the number of decryption units.
	Units int `json:"units"`
}

// compensationChunks is the size of the first stage: one chunk per missing
// guardian and unit, when there is anything to compute.
func (m combineMeta) compensationChunks() int {
	if len(m.Compensators) == 0 {
		return 0
	}
	return len(m.Missing) * m.Units
}

// StartCombine freezes the set of guardians that have decrypted and starts
// the combine job: first compensation for every missing guardian (from the
// available guardians' sealed backups), then the combine of every selection
// and spoiled ballot, in one job and one progress bar. An active or done
// combine job is returned; a FAILED or CANCELLED one is resumed.
func (s *Service) StartCombine(ctx context.Context, electionID int64, by string) (Started, error) {
	var (
		out    Started
		resume bool
		stale  []uuid.UUID
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st, err := lockElection(ctx, tx, electionID)
		if err != nil {
			return err
		}
		switch st {
		case StateCombining, StateDecrypted:
			return s.existingCombine(ctx, tx, electionID, &out, &resume)
		case StateTallied, StateDecrypting:
		default:
			return wrongState(electionID, st, "combine needs the tally and a quorum of guardians' decryptions first")
		}
		meta, err := s.planCombine(ctx, tx, electionID)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		comp := meta.compensationChunks()
		out.Job, err = s.engine.CreateJobTx(ctx, tx, jobs.CreateParams{OperationType: OpCombine, ElectionID: &electionID,
			TotalChunks: comp + meta.Units, Stages: []int{comp, meta.Units}, CreatedBy: by, Metadata: raw})
		if err != nil {
			return err
		}
		out.Created = true
		if _, err := tx.Exec(ctx, `UPDATE elections SET combine_job = $2, available_guardians = $3 WHERE election_id = $1`,
			electionID, out.Job.JobID, meta.Available); err != nil {
			return fmt.Errorf("record combine job: %w", err)
		}
		if stale, err = dropMissing(ctx, tx, electionID, meta.Missing); err != nil {
			return err
		}
		return setState(ctx, tx, electionID, StateCombining)
	})
	if err != nil {
		return Started{}, err
	}
	if resume {
		if out, err = s.resume(ctx, out.Job.JobID, by); err != nil {
			return Started{}, err
		}
	}
	for _, id := range stale {
		if _, err := s.engine.Cancel(ctx, id, "combine (the guardian set is frozen without this guardian)"); err != nil && !errors.Is(err, jobs.ErrConflict) {
			return Started{}, err
		}
	}
	if out, err = s.settleEmpty(ctx, out); err != nil {
		return Started{}, err
	}
	s.log.Info("combine requested", "election_id", electionID, "job_id", out.Job.JobID, "created", out.Created, "by", by)
	return out, nil
}

func (s *Service) existingCombine(ctx context.Context, tx pgx.Tx, electionID int64, out *Started, resume *bool) error {
	var err error
	var id [16]byte
	if err := tx.QueryRow(ctx, `SELECT combine_job FROM elections WHERE election_id = $1`, electionID).Scan(&id); err != nil {
		return fmt.Errorf("read combine job: %w", err)
	}
	out.Job, err = s.engine.StatusTx(ctx, tx, id)
	*resume = err == nil && (out.Job.Status == jobs.StatusFailed || out.Job.Status == jobs.StatusCancelled)
	return err
}

// dropMissing erases the sealed secrets of the guardians left out of the
// frozen set (a decryption started but not finished) and returns their
// unfinished decryption jobs, which the caller cancels: their shares would
// not be used.
func dropMissing(ctx context.Context, tx pgx.Tx, electionID int64, missing []string) ([]uuid.UUID, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM guardian_secrets WHERE election_id = $1 AND guardian_id = ANY($2)`, electionID, missing); err != nil {
		return nil, fmt.Errorf("erase secrets of missing guardians: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT decryption_job FROM guardians WHERE election_id = $1 AND guardian_id = ANY($2)
		AND decryption_job IS NOT NULL`, electionID, missing)
	if err != nil {
		return nil, fmt.Errorf("read decryption jobs of missing guardians: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// planCombine decides who is available and missing, and checks that the
// quorum has decrypted and that every missing guardian can be compensated.
func (s *Service) planCombine(ctx context.Context, tx pgx.Tx, electionID int64) (combineMeta, error) {
	var meta combineMeta
	var quorum int
	if err := tx.QueryRow(ctx, `SELECT quorum FROM elections WHERE election_id = $1`, electionID).Scan(&quorum); err != nil {
		return meta, fmt.Errorf("read quorum: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT guardian_id, decrypted_at IS NOT NULL, coalesce(decryption_mode, '') FROM guardians
		WHERE election_id = $1 ORDER BY sequence_order`, electionID)
	if err != nil {
		return meta, fmt.Errorf("read guardians: %w", err)
	}
	var (
		id, mode string
		done     bool
		offline  []string
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &done, &mode}, func() error {
		switch {
		case !done:
			meta.Missing = append(meta.Missing, id)
		case mode == "offline":
			meta.Available = append(meta.Available, id)
			offline = append(offline, id)
		default:
			meta.Available = append(meta.Available, id)
			meta.Compensators = append(meta.Compensators, id)
		}
		return nil
	}); err != nil {
		return meta, fmt.Errorf("read guardians: %w", err)
	}
	if len(meta.Available) < quorum {
		return meta, fmt.Errorf("%w: %d guardians have decrypted (%s) but the quorum is %d; %d more must decrypt before combining",
			ErrConflict, len(meta.Available), listOrNone(meta.Available), quorum, quorum-len(meta.Available))
	}
	if meta.Units, err = decryptionUnits(ctx, tx, electionID); err != nil {
		return meta, err
	}
	if len(meta.Missing) > 0 && len(meta.Compensators) > 0 && s.cfg.SecretKey == nil {
		return meta, fmt.Errorf("%w: compensating for missing guardians (%s) needs the sealed backups, and this server has no TALLYQ_SECRET_KEY",
			ErrNoSecretKey, strings.Join(meta.Missing, ", "))
	}
	return meta, checkUploadedParts(ctx, tx, electionID, offline, meta.Missing)
}

// checkUploadedParts checks that every offline guardian uploaded its
// compensated shares of every object for every missing guardian.
func checkUploadedParts(ctx context.Context, tx pgx.Tx, electionID int64, offline, missing []string) error {
	if len(offline) == 0 || len(missing) == 0 {
		return nil
	}
	var objects int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM decryption_objects WHERE election_id = $1`, electionID).Scan(&objects); err != nil {
		return fmt.Errorf("count objects: %w", err)
	}
	for _, g := range offline {
		for _, m := range missing {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM compensated_shares WHERE election_id = $1 AND guardian_id = $2
				AND missing_guardian_id = $3`, electionID, g, m).Scan(&n); err != nil {
				return fmt.Errorf("count compensated shares: %w", err)
			}
			if n != objects {
				return fmt.Errorf("%w: guardian %q decrypted offline and uploaded no compensated shares for missing guardian %q; it must upload them (tallyq guardian decrypt --missing %s) before combining",
					ErrConflict, g, m, m)
			}
		}
	}
	return nil
}

func listOrNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// combineOp is the COMBINE operation. Its first stage's chunks compute one
// missing guardian's compensated shares of one unit from every compensating
// guardian's backup; its second stage's chunks combine one unit: every share
// checked, missing shares reconstructed, g^t and the count.
type combineOp struct{ s *Service }

func (o *combineOp) Type() string                { return OpCombine }
func (o *combineOp) ChunkTimeout() time.Duration { return 30 * time.Minute }

func (o *combineOp) Process(ctx context.Context, c jobs.Chunk) (jobs.Result, error) {
	var meta combineMeta
	if err := json.Unmarshal(c.Metadata, &meta); err != nil || c.ElectionID == nil || meta.Units <= 0 {
		return nil, fmt.Errorf("combine job metadata %s is not a combine's", c.Metadata)
	}
	el, err := o.s.load(ctx, *c.ElectionID)
	if err != nil {
		return nil, err
	}
	dec, err := o.s.decryptor(ctx, o.s.pool, el)
	if err != nil {
		return nil, err
	}
	if comp := meta.compensationChunks(); c.Number < comp {
		return o.compensate(ctx, el, dec, meta, meta.Missing[c.Number/meta.Units], c.Number%meta.Units)
	}
	return o.combine(ctx, el, dec, meta, c.Number-meta.compensationChunks())
}

// compensate computes every compensator's part of a missing guardian's
// shares of one unit.
func (o *combineOp) compensate(ctx context.Context, el *loaded, dec *record.Decryptor, meta combineMeta, missing string, unit int) (jobs.Result, error) {
	objs, err := o.s.unitObjects(ctx, el, unit)
	if err != nil {
		return nil, err
	}
	var rows [][]any
	for _, gid := range meta.Compensators {
		trustee, err := o.s.openTrustee(ctx, el, gid)
		if err != nil {
			return nil, err
		}
		backup, ok := trustee.Backups[missing]
		if !ok {
			return nil, fmt.Errorf("guardian %q holds no backup of missing guardian %q", gid, missing)
		}
		for _, obj := range objs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			part, err := dec.Compensate(obj.selection, gid, missing, obj.ct, backup)
			if err != nil {
				return nil, err
			}
			raw, err := json.Marshal(part)
			if err != nil {
				return nil, err
			}
			rows = append(rows, []any{el.id, obj.no, gid, missing, raw})
		}
	}
	return copyResult("compensated_shares", []string{"election_id", "object_no", "guardian_id", "missing_guardian_id", "part"}, rows), nil
}

// combine decrypts one unit from the frozen guardians' shares, verifying all
// the unit's proofs together (record.Decryptor.CombineUnit).
func (o *combineOp) combine(ctx context.Context, el *loaded, dec *record.Decryptor, meta combineMeta, unit int) (jobs.Result, error) {
	objs, err := o.s.unitObjects(ctx, el, unit)
	if err != nil {
		return nil, err
	}
	shares, err := o.s.unitShares(ctx, el.id, unit)
	if err != nil {
		return nil, err
	}
	parts, err := o.s.unitParts(ctx, el.id, unit)
	if err != nil {
		return nil, err
	}
	sels := make([]record.SelectionToCombine, len(objs))
	for i, obj := range objs {
		all, err := objectShares(el, meta, obj, shares, parts)
		if err != nil {
			return nil, err
		}
		sels[i] = record.SelectionToCombine{ObjectID: obj.selection, Ciphertext: obj.ct, Shares: all, RebuildMissing: true}
	}
	plain, err := dec.CombineUnit(ctx, sels)
	var bad *record.SelectionError
	if errors.As(err, &bad) {
		return nil, fmt.Errorf("%s, contest %s: %w", objs[bad.Index].owner, objs[bad.Index].contest, bad.Err)
	}
	if err != nil {
		return nil, err
	}
	rows := make([][]any, len(objs))
	for i, sel := range plain {
		raw, err := json.Marshal(sel)
		if err != nil {
			return nil, err
		}
		rows[i] = []any{el.id, objs[i].no, sel.Tally, raw}
	}
	return copyResult("plaintext_results", []string{"election_id", "object_no", "tally", "selection"}, rows), nil
}

// objectShares returns every guardian's share of one object, in guardian order: the
// available guardians' as stored; for a missing guardian, the available guardians'
// parts, from which CombineUnit rebuilds the share once it has verified them.
func objectShares(el *loaded, meta combineMeta, obj object, shares map[shareKey]record.DecryptionShare, parts map[partKey][]record.CompensatedShare) ([]record.DecryptionShare, error) {
	all := make([]record.DecryptionShare, 0, len(el.guardians))
	for _, g := range el.guardians {
		id := g.GuardianID
		if slices.Contains(meta.Missing, id) {
			all = append(all, record.DecryptionShare{ObjectID: obj.selection, GuardianID: id,
				RecoveredParts: orderedParts(parts[partKey{obj.no, id}], meta.Available)})
			continue
		}
		sh, ok := shares[shareKey{obj.no, id}]
		if !ok {
			return nil, fmt.Errorf("object %d (%s/%s/%s) has no share of guardian %q", obj.no, obj.owner, obj.contest, obj.selection, id)
		}
		all = append(all, sh)
	}
	return all, nil
}

type shareKey struct {
	object   int
	guardian string
}

type partKey struct {
	object  int
	missing string
}

// unitShares reads the guardians' shares of a unit's objects.
func (s *Service) unitShares(ctx context.Context, electionID int64, unit int) (map[shareKey]record.DecryptionShare, error) {
	rows, err := s.pool.Query(ctx, `SELECT sh.object_no, sh.guardian_id, sh.share FROM decryption_shares sh
		JOIN decryption_objects o USING (election_id, object_no) WHERE o.election_id = $1 AND o.unit = $2`, electionID, unit)
	if err != nil {
		return nil, fmt.Errorf("read shares of unit %d: %w", unit, err)
	}
	out := map[shareKey]record.DecryptionShare{}
	var (
		k   shareKey
		raw []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&k.object, &k.guardian, &raw}, func() error {
		var sh record.DecryptionShare
		if err := json.Unmarshal(raw, &sh); err != nil {
			return fmt.Errorf("stored share of object %d by %q: %w", k.object, k.guardian, err)
		}
		out[k] = sh
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read shares of unit %d: %w", unit, err)
	}
	return out, nil
}

// unitParts reads the compensated shares of a unit's objects.
func (s *Service) unitParts(ctx context.Context, electionID int64, unit int) (map[partKey][]record.CompensatedShare, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.object_no, p.missing_guardian_id, p.part FROM compensated_shares p
		JOIN decryption_objects o USING (election_id, object_no) WHERE o.election_id = $1 AND o.unit = $2`, electionID, unit)
	if err != nil {
		return nil, fmt.Errorf("read compensated shares of unit %d: %w", unit, err)
	}
	out := map[partKey][]record.CompensatedShare{}
	var (
		k   partKey
		raw []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&k.object, &k.missing, &raw}, func() error {
		var p record.CompensatedShare
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("stored compensated share of object %d for %q: %w", k.object, k.missing, err)
		}
		out[k] = append(out[k], p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read compensated shares of unit %d: %w", unit, err)
	}
	return out, nil
}

// orderedParts returns the parts of the available guardians, in their order.
func orderedParts(parts []record.CompensatedShare, available []string) []record.CompensatedShare {
	out := make([]record.CompensatedShare, 0, len(available))
	for _, id := range available {
		for _, p := range parts {
			if p.GuardianID == id {
				out = append(out, p)
			}
		}
	}
	return out
}

// Complete makes the results final and erases the sealed guardian secrets,
// which are no longer needed.
func (o *combineOp) Complete(ctx context.Context, tx pgx.Tx, job jobs.JobStatus) error {
	tag, err := tx.Exec(ctx, `DELETE FROM guardian_secrets WHERE election_id = $1`, *job.ElectionID)
	if err != nil {
		return fmt.Errorf("erase guardian secrets: %w", err)
	}
	if err := jobs.RecordAudit(ctx, tx, jobs.AuditEntry{Actor: job.CreatedBy, Action: jobs.AuditEraseSecrets,
		ElectionID: job.ElectionID, JobID: &job.JobID,
		Detail: fmt.Sprintf("%d sealed secrets erased by the completed combine", tag.RowsAffected())}); err != nil {
		return err
	}
	return setState(ctx, tx, *job.ElectionID, StateDecrypted)
}
