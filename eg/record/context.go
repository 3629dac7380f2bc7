package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/tallyq/tallyq/eg"
)

// Constants are the group parameters in decimal, as constants.json writes them.
type Constants struct {
	LargePrime *big.Int `json:"large_prime"`
	SmallPrime *big.Int `json:"small_prime"`
	Cofactor   *big.Int `json:"cofactor"`
	Generator  *big.Int `json:"generator"`
}

// UnmarshalJSON requires all four numbers.
func (c *Constants) UnmarshalJSON(b []byte) error {
	type plain Constants
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("constants: %w", err)
	}
	if p.LargePrime == nil || p.SmallPrime == nil || p.Cofactor == nil || p.Generator == nil {
		return fmt.Errorf("constants: large_prime, small_prime, cofactor and generator are all required")
	}
	*c = Constants(p)
	return nil
}

// Context is the election's cryptographic context (python CiphertextElectionContext).
type Context struct {
	NumberOfGuardians      int               `json:"number_of_guardians"`
	Quorum                 int               `json:"quorum"`
	ElGamalPublicKey       Hex               `json:"elgamal_public_key"`
	CommitmentHash         Hex               `json:"commitment_hash"`
	ManifestHash           Hex               `json:"manifest_hash"`
	CryptoBaseHash         Hex               `json:"crypto_base_hash"`
	CryptoExtendedBaseHash Hex               `json:"crypto_extended_base_hash"`
	ExtendedData           map[string]string `json:"extended_data"`
}

// MarshalJSON writes extended_data as an object even when empty, as the schema requires.
func (c Context) MarshalJSON() ([]byte, error) {
	type plain Context
	p := plain(c)
	if p.ExtendedData == nil {
		p.ExtendedData = map[string]string{}
	}
	return json.Marshal(p)
}

// GuardianRecord is a guardian's public record (guardians/guardian_<id>.json).
type GuardianRecord struct {
	GuardianID          string         `json:"guardian_id"`
	SequenceOrder       int            `json:"sequence_order"`
	ElectionPublicKey   Hex            `json:"election_public_key"`
	ElectionCommitments []Hex          `json:"election_commitments"`
	ElectionProofs      []SchnorrProof `json:"election_proofs"`
}

// EncryptionDevice is a ballot-marking device; its hash seeds the first ballot's code.
type EncryptionDevice struct {
	DeviceID   int64  `json:"device_id"`
	SessionID  int64  `json:"session_id"`
	LaunchCode int64  `json:"launch_code"`
	Location   string `json:"location"`
}

// LagrangeCoefficients is coefficients.json: one coefficient per available guardian,
// in the order the available guardians decrypted.
type LagrangeCoefficients struct {
	Coefficients []Hex `json:"coefficients"`
}

// ConstantsOf returns a group's constants as constants.json writes them.
func ConstantsOf(g *eg.Group) *Constants {
	return &Constants{LargePrime: g.P(), SmallPrime: g.Q(), Cofactor: g.R(), Generator: g.G()}
}

// Matches reports whether the constants are the group's: a record is read with the group
// its constants name.
func (c *Constants) Matches(g *eg.Group) bool {
	return c.LargePrime.Cmp(g.P()) == 0 && c.SmallPrime.Cmp(g.Q()) == 0 && c.Cofactor.Cmp(g.R()) == 0 && c.Generator.Cmp(g.G()) == 0
}

// KnownGroup returns the group the constants name, eg.Standard() or eg.TestGroup(), or an
// error for any other group.
func (c *Constants) KnownGroup() (*eg.Group, error) {
	for _, g := range []*eg.Group{eg.Standard(), eg.TestGroup()} {
		if c.Matches(g) {
			return g, nil
		}
	}
	return nil, errors.New("the constants are neither the standard ElectionGuard group nor tallyq's test group")
}
