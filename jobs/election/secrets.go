package election

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/seal"
	"github.com/tallyq/tallyq/jobs"
)

// sealedSecret is what tallyq keeps of a guardian's private record: s_i and
// the backups P_l(x_i) it holds, by sending guardian. It is only ever stored
// sealed.
type sealedSecret struct {
	Secret  record.Hex            `json:"s"`
	Backups map[string]record.Hex `json:"b"`
}

// extractSecret checks a guardian's private record against the election's
// public data and keeps only s_i and the decrypted backups. Its errors never
// quote the record's values.
func extractSecret(el *loaded, dec *record.Decryptor, guardianID string, raw []byte) (*record.Trustee, error) {
	p, err := record.DecodePrivateGuardian(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: guardian_record is not a private guardian record: %w", ErrInvalid, err)
	}
	if p.GuardianID != guardianID {
		return nil, fmt.Errorf("%w: guardian_record is guardian %q's, not guardian %q's", ErrInvalid, p.GuardianID, guardianID)
	}
	pub, ok := dec.Guardian(guardianID)
	if !ok {
		return nil, fmt.Errorf("%w: election %d has no guardian %q", ErrNotFound, el.id, guardianID)
	}
	g := el.group
	secret, err := p.ElectionKeys.KeyPair.SecretKey.Q(g)
	if err != nil || !g.GPow(secret).Equal(pub.Key) {
		return nil, fmt.Errorf("%w: the secret key in guardian_record does not match guardian %q's public key in the election", ErrInvalid, guardianID)
	}
	// The record's own public key is not used, but one that disagrees says
	// the file is damaged or pieced together: refuse it rather than guess.
	if own, err := p.ElectionKeys.KeyPair.PublicKey.P(g); err != nil || !own.Equal(pub.Key) {
		return nil, fmt.Errorf("%w: the public key in guardian_record is not guardian %q's public key in the election", ErrInvalid, guardianID)
	}
	t := &record.Trustee{ID: guardianID, Secret: secret, Backups: map[string]eg.ElementModQ{}}
	for _, other := range el.guardians {
		if other.GuardianID == guardianID {
			continue
		}
		opub, _ := dec.Guardian(other.GuardianID)
		b, err := p.BackupFor(g, opub)
		if err != nil {
			return nil, fmt.Errorf("%w: guardian_record's key backup from guardian %q is missing, does not decrypt with its auxiliary key, or does not match %q's commitments", ErrInvalid, other.GuardianID, other.GuardianID)
		}
		t.Backups[other.GuardianID] = b
	}
	return t, nil
}

// sealTrustee seals a trustee's secrets for one election and guardian.
func sealTrustee(key seal.Key, electionID int64, t *record.Trustee) ([]byte, error) {
	s := sealedSecret{Secret: record.HexQ(t.Secret), Backups: map[string]record.Hex{}}
	for id, b := range t.Backups {
		s.Backups[id] = record.HexQ(b)
	}
	plain, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode guardian secret: %w", err)
	}
	defer seal.Wipe(plain)
	return seal.Seal(key, plain, electionID, t.ID)
}

// openTrustee reads and unseals a guardian's secrets.
func (s *Service) openTrustee(ctx context.Context, el *loaded, guardianID string) (*record.Trustee, error) {
	if s.cfg.SecretKey == nil {
		return nil, fmt.Errorf("%w: this process has no %s to unseal guardian %q's secret", ErrNoSecretKey, seal.EnvVar, guardianID)
	}
	var sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT sealed FROM guardian_secrets WHERE election_id = $1 AND guardian_id = $2`,
		el.id, guardianID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: no sealed secret of guardian %q in election %d (erased after combine, or never given)", ErrConflict, guardianID, el.id)
	}
	if err != nil {
		return nil, fmt.Errorf("read sealed secret of guardian %q: %w", guardianID, err)
	}
	plain, err := seal.Open(*s.cfg.SecretKey, sealed, el.id, guardianID)
	if err != nil {
		return nil, fmt.Errorf("unseal guardian %q's secret: %w", guardianID, err)
	}
	defer seal.Wipe(plain)
	var ss sealedSecret
	if err := json.Unmarshal(plain, &ss); err != nil {
		return nil, fmt.Errorf("guardian %q's unsealed secret is not what tallyq seals", guardianID)
	}
	t := &record.Trustee{ID: guardianID, Backups: map[string]eg.ElementModQ{}}
	if t.Secret, err = ss.Secret.Q(el.group); err != nil {
		return nil, fmt.Errorf("guardian %q's unsealed secret is out of range", guardianID)
	}
	for id, h := range ss.Backups {
		if t.Backups[id], err = h.Q(el.group); err != nil {
			return nil, fmt.Errorf("guardian %q's unsealed backup from %q is out of range", guardianID, id)
		}
	}
	return t, nil
}

// EraseSecrets deletes every sealed guardian secret of an election. Combine
// does it on completion; an operator may do it at any time (server-side
// decryption and compensation then need the records again).
func (s *Service) EraseSecrets(ctx context.Context, electionID int64, by string) (int64, error) {
	if _, err := s.load(ctx, electionID); err != nil {
		return 0, err
	}
	var erased int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM guardian_secrets WHERE election_id = $1`, electionID)
		if err != nil {
			return fmt.Errorf("erase secrets of election %d: %w", electionID, err)
		}
		erased = tag.RowsAffected()
		return jobs.RecordAudit(ctx, tx, jobs.AuditEntry{Actor: by, Action: jobs.AuditEraseSecrets, ElectionID: &electionID,
			Detail: fmt.Sprintf("%d sealed secrets erased", erased)})
	})
	if err != nil {
		return 0, err
	}
	s.log.Info("guardian secrets erased", "election_id", electionID, "count", erased, "by", by)
	return erased, nil
}
