package record

import (
	"fmt"

	"github.com/tallyq/tallyq/eg"
)

// converter turns record values into group elements, keeping the first range error.
type converter struct {
	g   *eg.Group
	err error
}

func (c *converter) p(name string, h Hex) eg.ElementModP {
	x, err := h.P(c.g)
	if err != nil && c.err == nil {
		c.err = fmt.Errorf("%s: %w", name, err)
	}
	return x
}

func (c *converter) q(name string, h Hex) eg.ElementModQ {
	x, err := h.Q(c.g)
	if err != nil && c.err == nil {
		c.err = fmt.Errorf("%s: %w", name, err)
	}
	return x
}

// Elements converts the proof to group elements, checking ranges.
func (p DisjunctiveProof) Elements(g *eg.Group) (eg.DisjunctiveProof, error) {
	c := converter{g: g}
	out := eg.DisjunctiveProof{
		Proof0Pad: c.p("proof_zero_pad", p.ProofZeroPad), Proof0Data: c.p("proof_zero_data", p.ProofZeroData),
		Proof1Pad: c.p("proof_one_pad", p.ProofOnePad), Proof1Data: c.p("proof_one_data", p.ProofOneData),
		Proof0Challenge: c.q("proof_zero_challenge", p.ProofZeroChallenge), Proof1Challenge: c.q("proof_one_challenge", p.ProofOneChallenge),
		Challenge:      c.q("challenge", p.Challenge),
		Proof0Response: c.q("proof_zero_response", p.ProofZeroResponse), Proof1Response: c.q("proof_one_response", p.ProofOneResponse),
	}
	return out, c.err
}

// DisjunctiveProofOf is the record form of a selection proof.
func DisjunctiveProofOf(p eg.DisjunctiveProof) *DisjunctiveProof {
	return &DisjunctiveProof{
		ProofZeroPad: HexP(p.Proof0Pad), ProofZeroData: HexP(p.Proof0Data), ProofOnePad: HexP(p.Proof1Pad), ProofOneData: HexP(p.Proof1Data),
		ProofZeroChallenge: HexQ(p.Proof0Challenge), ProofOneChallenge: HexQ(p.Proof1Challenge), Challenge: HexQ(p.Challenge),
		ProofZeroResponse: HexQ(p.Proof0Response), ProofOneResponse: HexQ(p.Proof1Response), Usage: eg.UsageSelectionValue,
	}
}

// Elements converts the proof to group elements, checking ranges.
func (p ConstantProof) Elements(g *eg.Group) (eg.ConstantProof, error) {
	c := converter{g: g}
	out := eg.ConstantProof{Pad: c.p("pad", p.Pad), Data: c.p("data", p.Data),
		Challenge: c.q("challenge", p.Challenge), Response: c.q("response", p.Response), Constant: p.Constant}
	return out, c.err
}

// ConstantProofOf is the record form of a contest proof.
func ConstantProofOf(p eg.ConstantProof) *ConstantProof {
	return &ConstantProof{Pad: HexP(p.Pad), Data: HexP(p.Data), Challenge: HexQ(p.Challenge), Response: HexQ(p.Response),
		Constant: p.Constant, Usage: eg.UsageSelectionLimit}
}

// Elements converts the proof to group elements, checking ranges.
func (p ChaumPedersenProof) Elements(g *eg.Group) (eg.ChaumPedersenProof, error) {
	c := converter{g: g}
	out := eg.ChaumPedersenProof{Pad: c.p("pad", p.Pad), Data: c.p("data", p.Data),
		Challenge: c.q("challenge", p.Challenge), Response: c.q("response", p.Response)}
	return out, c.err
}

// ChaumPedersenProofOf is the record form of a decryption proof.
func ChaumPedersenProofOf(p eg.ChaumPedersenProof) ChaumPedersenProof {
	return ChaumPedersenProof{Pad: HexP(p.Pad), Data: HexP(p.Data), Challenge: HexQ(p.Challenge), Response: HexQ(p.Response),
		Usage: eg.UsageSecretValue}
}

// SchnorrProofOf is the record form of a Schnorr proof.
func SchnorrProofOf(p eg.SchnorrProof) SchnorrProof {
	return SchnorrProof{PublicKey: HexP(p.PublicKey), Commitment: HexP(p.Commitment),
		Challenge: HexQ(p.Challenge), Response: HexQ(p.Response), Usage: eg.UsageSecretValue}
}
