package record

import (
	"encoding/json"
	"fmt"
)

// BallotState is a submitted ballot's state (python BallotBoxState), written as a number.
type BallotState int

// The 1.x ballot box states.
const (
	BallotCast    BallotState = 1
	BallotSpoiled BallotState = 2
	BallotUnknown BallotState = 999
)

// String names the state.
func (s BallotState) String() string {
	switch s {
	case BallotCast:
		return "CAST"
	case BallotSpoiled:
		return "SPOILED"
	case BallotUnknown:
		return "UNKNOWN"
	}
	return fmt.Sprintf("BallotState(%d)", int(s))
}

// UnmarshalJSON accepts the three 1.x states.
func (s *BallotState) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("ballot state: %w", err)
	}
	switch BallotState(n) {
	case BallotCast, BallotSpoiled, BallotUnknown:
		*s = BallotState(n)
		return nil
	}
	return fmt.Errorf("ballot state %d is not 1 (cast), 2 (spoiled) or 999 (unknown)", n)
}

// SubmittedBallot is an encrypted ballot with its proofs and state, as in
// submitted_ballots/ (python SubmittedBallot; a CiphertextBallot has no state and may
// carry nonces).
type SubmittedBallot struct {
	ObjectID     string          `json:"object_id"`
	StyleID      string          `json:"style_id"`
	ManifestHash Hex             `json:"manifest_hash"`
	CodeSeed     Hex             `json:"code_seed"`
	Contests     []BallotContest `json:"contests"`
	Code         Hex             `json:"code"`
	Timestamp    int64           `json:"timestamp"`
	CryptoHash   Hex             `json:"crypto_hash"`
	Nonce        *Hex            `json:"nonce"`
	State        BallotState     `json:"state"`
}

// BallotContest is one encrypted contest of a ballot.
type BallotContest struct {
	ObjectID               string            `json:"object_id"`
	SequenceOrder          int               `json:"sequence_order"`
	DescriptionHash        Hex               `json:"description_hash"`
	BallotSelections       []BallotSelection `json:"ballot_selections"`
	CiphertextAccumulation Ciphertext        `json:"ciphertext_accumulation"`
	CryptoHash             Hex               `json:"crypto_hash"`
	Nonce                  *Hex              `json:"nonce"`
	Proof                  *ConstantProof    `json:"proof"`
}

// BallotSelection is one encrypted selection (or placeholder) of a contest.
type BallotSelection struct {
	ObjectID               string            `json:"object_id"`
	SequenceOrder          int               `json:"sequence_order"`
	DescriptionHash        Hex               `json:"description_hash"`
	Ciphertext             Ciphertext        `json:"ciphertext"`
	CryptoHash             Hex               `json:"crypto_hash"`
	IsPlaceholderSelection bool              `json:"is_placeholder_selection"`
	Nonce                  *Hex              `json:"nonce"`
	Proof                  *DisjunctiveProof `json:"proof"`
	ExtendedData           *Ciphertext       `json:"extended_data"`
}

// DisjunctiveProof is a selection's proof that it encrypts 0 or 1.
type DisjunctiveProof struct {
	ProofZeroPad       Hex    `json:"proof_zero_pad"`
	ProofZeroData      Hex    `json:"proof_zero_data"`
	ProofOnePad        Hex    `json:"proof_one_pad"`
	ProofOneData       Hex    `json:"proof_one_data"`
	ProofZeroChallenge Hex    `json:"proof_zero_challenge"`
	ProofOneChallenge  Hex    `json:"proof_one_challenge"`
	Challenge          Hex    `json:"challenge"`
	ProofZeroResponse  Hex    `json:"proof_zero_response"`
	ProofOneResponse   Hex    `json:"proof_one_response"`
	Usage              string `json:"usage"`
}

// ConstantProof is a contest's proof that its selections total a constant.
type ConstantProof struct {
	Pad       Hex    `json:"pad"`
	Data      Hex    `json:"data"`
	Challenge Hex    `json:"challenge"`
	Response  Hex    `json:"response"`
	Constant  int    `json:"constant"`
	Usage     string `json:"usage"`
}

// ChaumPedersenProof proves a decryption share is A^s for the s behind a public key.
type ChaumPedersenProof struct {
	Pad       Hex    `json:"pad"`
	Data      Hex    `json:"data"`
	Challenge Hex    `json:"challenge"`
	Response  Hex    `json:"response"`
	Usage     string `json:"usage"`
}

// SchnorrProof proves knowledge of the secret behind a guardian's coefficient commitment.
type SchnorrProof struct {
	PublicKey  Hex    `json:"public_key"`
	Commitment Hex    `json:"commitment"`
	Challenge  Hex    `json:"challenge"`
	Response   Hex    `json:"response"`
	Usage      string `json:"usage"`
}

// PlaintextBallot is a voter's choices before encryption (python PlaintextBallot); a
// contest lists the selections voted for or against, others count as 0.
type PlaintextBallot struct {
	ObjectID string                   `json:"object_id"`
	StyleID  string                   `json:"style_id"`
	Contests []PlaintextBallotContest `json:"contests"`
}

// PlaintextBallotContest is a voter's choices in one contest.
type PlaintextBallotContest struct {
	ObjectID         string                     `json:"object_id"`
	SequenceOrder    int                        `json:"sequence_order"`
	BallotSelections []PlaintextBallotSelection `json:"ballot_selections"`
}

// PlaintextBallotSelection is one choice: vote is 0 or 1.
type PlaintextBallotSelection struct {
	ObjectID               string           `json:"object_id"`
	SequenceOrder          int              `json:"sequence_order"`
	Vote                   int              `json:"vote"`
	IsPlaceholderSelection bool             `json:"is_placeholder_selection"`
	ExtendedData           *json.RawMessage `json:"extended_data"`
}
