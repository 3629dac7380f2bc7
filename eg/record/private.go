package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// redacted is what fmt prints for secrets.
const redacted = "[redacted]"

// Secret is a secret exponent (a guardian's secret key or polynomial coefficient). It
// writes itself to JSON, for the private record, but never to fmt output.
type Secret struct{ Hex }

// String redacts the secret.
func (Secret) String() string { return redacted }

// GoString redacts the secret.
func (Secret) GoString() string { return redacted }

// Format redacts the secret for every verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// SecretText is secret text (an RSA private key in PEM, or a key backup). It writes
// itself to JSON but never to fmt output.
type SecretText string

// String redacts the text.
func (SecretText) String() string { return redacted }

// GoString redacts the text.
func (SecretText) GoString() string { return redacted }

// Format redacts the text for every verb.
func (SecretText) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// DecodePrivateGuardian reads a guardian's private record (Decode's limits). Its errors
// never quote the record: JSON syntax and type errors, whose text may hold part of a
// secret, are reduced to their offset and field.
func DecodePrivateGuardian(r io.Reader) (*PrivateGuardian, error) {
	var p PrivateGuardian
	if err := Decode(r, &p); err != nil {
		return nil, fmt.Errorf("private guardian record: %w", redactJSONError(err))
	}
	return &p, nil
}

// redactJSONError drops the input text encoding/json quotes in its errors.
func redactJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q at byte %d: the JSON value is not a %s", typ.Field, typ.Offset, typ.Type)
	}
	return err
}

// PrivateGuardian is a guardian's private record
// (election_private_data/private_guardians/private_guardian_<id>.json).
type PrivateGuardian struct {
	GuardianID                        string                        `json:"guardian_id"`
	ElectionKeys                      ElectionKeys                  `json:"election_keys"`
	AuxiliaryKeys                     AuxiliaryKeyPair              `json:"auxiliary_keys"`
	BackupsToShare                    Keyed[BackupToShare]          `json:"backups_to_share"`
	GuardianAuxiliaryPublicKeys       Keyed[AuxiliaryPublicKey]     `json:"guardian_auxiliary_public_keys"`
	GuardianElectionPublicKeys        Keyed[ElectionPublicKey]      `json:"guardian_election_public_keys"`
	GuardianElectionPartialKeyBackups Keyed[ReceivedBackup]         `json:"guardian_election_partial_key_backups"`
	GuardianElectionPartialKeyVerifs  Keyed[PartialKeyVerification] `json:"guardian_election_partial_key_verifications"`
}

// ElectionKeys is a guardian's election key pair and secret polynomial.
type ElectionKeys struct {
	OwnerID       string             `json:"owner_id"`
	SequenceOrder int                `json:"sequence_order"`
	KeyPair       ElGamalKeyPair     `json:"key_pair"`
	Polynomial    ElectionPolynomial `json:"polynomial"`
}

// ElGamalKeyPair is a secret key s and its public key g^s.
type ElGamalKeyPair struct {
	SecretKey Secret `json:"secret_key"`
	PublicKey Hex    `json:"public_key"`
}

// ElectionPolynomial is a guardian's secret polynomial with its commitments and proofs.
type ElectionPolynomial struct {
	Coefficients []Coefficient `json:"coefficients"`
}

// Coefficient is one secret coefficient a_j, its commitment g^a_j and Schnorr proof.
type Coefficient struct {
	Value      Secret       `json:"value"`
	Commitment Hex          `json:"commitment"`
	Proof      SchnorrProof `json:"proof"`
}

// AuxiliaryKeyPair is a guardian's RSA key pair in PEM (private: PKCS#1, public: PKIX),
// which other guardians encrypt its partial key backups to.
type AuxiliaryKeyPair struct {
	OwnerID       string     `json:"owner_id"`
	SequenceOrder int        `json:"sequence_order"`
	SecretKey     SecretText `json:"secret_key"`
	PublicKey     string     `json:"public_key"`
}

// AuxiliaryPublicKey is another guardian's RSA public key in PEM.
type AuxiliaryPublicKey struct {
	OwnerID       string `json:"owner_id"`
	SequenceOrder int    `json:"sequence_order"`
	Key           string `json:"key"`
}

// ElectionPublicKey is a guardian's public election key with its coefficient commitments.
type ElectionPublicKey struct {
	OwnerID                string         `json:"owner_id"`
	SequenceOrder          int            `json:"sequence_order"`
	Key                    Hex            `json:"key"`
	CoefficientCommitments []Hex          `json:"coefficient_commitments"`
	CoefficientProofs      []SchnorrProof `json:"coefficient_proofs"`
}

// PartialKeyBackup is P_owner(designated), encrypted to the designated guardian's
// auxiliary key (python ElectionPartialKeyBackup).
type PartialKeyBackup struct {
	OwnerID                 string     `json:"owner_id"`
	DesignatedID            string     `json:"designated_id"`
	DesignatedSequenceOrder int        `json:"designated_sequence_order"`
	EncryptedValue          SecretText `json:"encrypted_value"`
}

// BackupToShare is a backup this guardian made for another, keyed by the designated guardian.
type BackupToShare struct{ PartialKeyBackup }

// ReceivedBackup is a backup another guardian made for this one, keyed by its owner.
type ReceivedBackup struct{ PartialKeyBackup }

// PartialKeyVerification records that a guardian checked a backup against its owner's commitments.
type PartialKeyVerification struct {
	OwnerID      string `json:"owner_id"`
	DesignatedID string `json:"designated_id"`
	VerifierID   string `json:"verifier_id"`
	Verified     bool   `json:"verified"`
}

func (b BackupToShare) recordKey() string          { return b.DesignatedID }
func (b ReceivedBackup) recordKey() string         { return b.OwnerID }
func (k AuxiliaryPublicKey) recordKey() string     { return k.OwnerID }
func (k ElectionPublicKey) recordKey() string      { return k.OwnerID }
func (v PartialKeyVerification) recordKey() string { return v.DesignatedID }
