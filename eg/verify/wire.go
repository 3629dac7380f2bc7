package verify

import (
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/tallyq/tallyq/eg"
)

// The structs below are the verifier's own reading of the 0.95 record (the JSON
// electionguard-python 1.x writes). They hold elements as text so that a value out of
// range is reported where it is checked, naming the field, rather than failing the
// whole file's decoding.

// hexElem is a group element as the record writes it: {"data": "<hex>"}.
type hexElem struct {
	Data string `json:"data"`
}

// ciphertextJSON is an ElGamal ciphertext (α, β).
type ciphertextJSON struct {
	Pad  hexElem `json:"pad"`
	Data hexElem `json:"data"`
}

type constantsJSON struct {
	LargePrime *big.Int `json:"large_prime"`
	SmallPrime *big.Int `json:"small_prime"`
	Cofactor   *big.Int `json:"cofactor"`
	Generator  *big.Int `json:"generator"`
}

type contextJSON struct {
	NumberOfGuardians      int     `json:"number_of_guardians"`
	Quorum                 int     `json:"quorum"`
	ElGamalPublicKey       hexElem `json:"elgamal_public_key"`
	CommitmentHash         hexElem `json:"commitment_hash"`
	ManifestHash           hexElem `json:"manifest_hash"`
	CryptoBaseHash         hexElem `json:"crypto_base_hash"`
	CryptoExtendedBaseHash hexElem `json:"crypto_extended_base_hash"`
}

type schnorrJSON struct {
	PublicKey  hexElem `json:"public_key"`
	Commitment hexElem `json:"commitment"`
	Challenge  hexElem `json:"challenge"`
	Response   hexElem `json:"response"`
}

type guardianJSON struct {
	GuardianID          string        `json:"guardian_id"`
	SequenceOrder       int           `json:"sequence_order"`
	ElectionPublicKey   hexElem       `json:"election_public_key"`
	ElectionCommitments []hexElem     `json:"election_commitments"`
	ElectionProofs      []schnorrJSON `json:"election_proofs"`
}

type deviceJSON struct {
	DeviceID   int64  `json:"device_id"`
	SessionID  int64  `json:"session_id"`
	LaunchCode int64  `json:"launch_code"`
	Location   string `json:"location"`
}

type coefficientsJSON struct {
	Coefficients []hexElem `json:"coefficients"`
}

type ballotJSON struct {
	ObjectID     string              `json:"object_id"`
	StyleID      string              `json:"style_id"`
	ManifestHash hexElem             `json:"manifest_hash"`
	CodeSeed     hexElem             `json:"code_seed"`
	Contests     []ballotContestJSON `json:"contests"`
	Code         hexElem             `json:"code"`
	Timestamp    int64               `json:"timestamp"`
	CryptoHash   hexElem             `json:"crypto_hash"`
	Nonce        json.RawMessage     `json:"nonce"`
	State        int                 `json:"state"`
}

type ballotContestJSON struct {
	ObjectID               string                `json:"object_id"`
	SequenceOrder          int                   `json:"sequence_order"`
	DescriptionHash        hexElem               `json:"description_hash"`
	BallotSelections       []ballotSelectionJSON `json:"ballot_selections"`
	CiphertextAccumulation ciphertextJSON        `json:"ciphertext_accumulation"`
	CryptoHash             hexElem               `json:"crypto_hash"`
	Nonce                  json.RawMessage       `json:"nonce"`
	Proof                  *constantProofJSON    `json:"proof"`
}

type ballotSelectionJSON struct {
	ObjectID               string                `json:"object_id"`
	SequenceOrder          int                   `json:"sequence_order"`
	DescriptionHash        hexElem               `json:"description_hash"`
	Ciphertext             ciphertextJSON        `json:"ciphertext"`
	CryptoHash             hexElem               `json:"crypto_hash"`
	IsPlaceholderSelection bool                  `json:"is_placeholder_selection"`
	Nonce                  json.RawMessage       `json:"nonce"`
	Proof                  *disjunctiveProofJSON `json:"proof"`
}

type disjunctiveProofJSON struct {
	ProofZeroPad       hexElem `json:"proof_zero_pad"`
	ProofZeroData      hexElem `json:"proof_zero_data"`
	ProofOnePad        hexElem `json:"proof_one_pad"`
	ProofOneData       hexElem `json:"proof_one_data"`
	ProofZeroChallenge hexElem `json:"proof_zero_challenge"`
	ProofOneChallenge  hexElem `json:"proof_one_challenge"`
	Challenge          hexElem `json:"challenge"`
	ProofZeroResponse  hexElem `json:"proof_zero_response"`
	ProofOneResponse   hexElem `json:"proof_one_response"`
}

type constantProofJSON struct {
	Pad       hexElem `json:"pad"`
	Data      hexElem `json:"data"`
	Challenge hexElem `json:"challenge"`
	Response  hexElem `json:"response"`
	Constant  int     `json:"constant"`
}

type chaumPedersenJSON struct {
	Pad       hexElem `json:"pad"`
	Data      hexElem `json:"data"`
	Challenge hexElem `json:"challenge"`
	Response  hexElem `json:"response"`
}

type encryptedTallyJSON struct {
	ObjectID string                               `json:"object_id"`
	Contests map[string]encryptedTallyContestJSON `json:"contests"`
}

type encryptedTallyContestJSON struct {
	ObjectID        string                                 `json:"object_id"`
	DescriptionHash hexElem                                `json:"description_hash"`
	Selections      map[string]encryptedTallySelectionJSON `json:"selections"`
}

type encryptedTallySelectionJSON struct {
	ObjectID        string         `json:"object_id"`
	DescriptionHash hexElem        `json:"description_hash"`
	Ciphertext      ciphertextJSON `json:"ciphertext"`
}

// plaintextTallyJSON is tally.json or one file of spoiled_ballots/.
type plaintextTallyJSON struct {
	ObjectID string                               `json:"object_id"`
	Contests map[string]plaintextTallyContestJSON `json:"contests"`
}

type plaintextTallyContestJSON struct {
	ObjectID   string                                 `json:"object_id"`
	Selections map[string]plaintextTallySelectionJSON `json:"selections"`
}

type plaintextTallySelectionJSON struct {
	ObjectID string         `json:"object_id"`
	Tally    int64          `json:"tally"`
	Value    hexElem        `json:"value"`
	Message  ciphertextJSON `json:"message"`
	Shares   []shareJSON    `json:"shares"`
}

type shareJSON struct {
	ObjectID       string                     `json:"object_id"`
	GuardianID     string                     `json:"guardian_id"`
	Share          hexElem                    `json:"share"`
	Proof          *chaumPedersenJSON         `json:"proof"`
	RecoveredParts map[string]compensatedJSON `json:"recovered_parts"`
}

type compensatedJSON struct {
	ObjectID          string            `json:"object_id"`
	GuardianID        string            `json:"guardian_id"`
	MissingGuardianID string            `json:"missing_guardian_id"`
	Share             hexElem           `json:"share"`
	RecoveryKey       hexElem           `json:"recovery_key"`
	Proof             chaumPedersenJSON `json:"proof"`
}

// isNull reports whether an optional field is absent or null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// decoder converts a document's hex fields to elements of a group, keeping the first
// error, which names the field; the caller checks err once after converting a group of
// fields.
type decoder struct {
	g   *eg.Group
	err error
}

func (d *decoder) p(field string, h hexElem) eg.ElementModP {
	x, err := d.g.ElementModPFromHex(h.Data)
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("%s: %w", field, err)
	}
	return x
}

func (d *decoder) q(field string, h hexElem) eg.ElementModQ {
	x, err := d.g.ElementModQFromHex(h.Data)
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("%s: %w", field, err)
	}
	return x
}

func (d *decoder) ciphertext(field string, c ciphertextJSON) ciphertext {
	return ciphertext{pad: d.p(field+" pad", c.Pad), data: d.p(field+" data", c.Data)}
}

func (d *decoder) chaumPedersen(p chaumPedersenJSON) chaumPedersenProof {
	return chaumPedersenProof{a: d.p("proof pad", p.Pad), b: d.p("proof data", p.Data),
		c: d.q("proof challenge", p.Challenge), v: d.q("proof response", p.Response)}
}
