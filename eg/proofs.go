package eg

import "fmt"

// Usage strings electionguard-python writes into each proof's "usage" field.
const (
	UsageSelectionValue = "Prove selection's value (0 or 1)"
	UsageSelectionLimit = "Prove value within selection's limit"
	UsageSecretValue    = "Prove knowledge of secret value"
)

// Nonce headers of electionguard-python 1.x proofs (the version that wrote
// the 0.95 sample records; TestFixtureProofsReproducedBitForBit pins them).
const (
	disjunctiveHeader   = "disjoint-chaum-pedersen-proof"
	constantHeader      = "constant-chaum-pedersen-proof"
	chaumPedersenHeader = "chaum-pedersen-proof"
)

// DisjunctiveProof proves that a ciphertext encrypts 0 or 1 (the record's
// DisjunctiveChaumPedersenProof; fields in the JSON's order and names:
// proof_zero_pad, proof_zero_data, proof_one_pad, proof_one_data,
// proof_zero_challenge, proof_one_challenge, challenge, proof_zero_response,
// proof_one_response).
type DisjunctiveProof struct {
	Proof0Pad, Proof0Data, Proof1Pad, Proof1Data                                ElementModP
	Proof0Challenge, Proof1Challenge, Challenge, Proof0Response, Proof1Response ElementModQ
}

// ConstantProof proves that a ciphertext encrypts Constant (the record's
// ConstantChaumPedersenProof: pad, data, challenge, response, constant).
type ConstantProof struct {
	Pad, Data           ElementModP
	Challenge, Response ElementModQ
	Constant            int
}

// ChaumPedersenProof proves that a decryption share M = A^s uses the s of a
// public key K = g^s (the record's ChaumPedersenProof: pad, data, challenge,
// response).
type ChaumPedersenProof struct {
	Pad, Data           ElementModP
	Challenge, Response ElementModQ
}

// SchnorrProof proves knowledge of the secret of PublicKey = g^s (the record's
// SchnorrProof: public_key, commitment, challenge, response).
type SchnorrProof struct {
	PublicKey, Commitment ElementModP
	Challenge, Response   ElementModQ
}

// ProofError says which check of which proof failed.
type ProofError struct {
	Proof string // "disjunctive", "constant", "chaum-pedersen" or "schnorr"
	Check string // what failed, e.g. "challenge is not H(Q̄, α, β, a0, b0, a1, b1)"
}

// Error names the proof kind and the failed check.
func (e *ProofError) Error() string { return fmt.Sprintf("eg: invalid %s proof: %s", e.Proof, e.Check) }

func proofErr(proof, format string, args ...any) error {
	return &ProofError{Proof: proof, Check: fmt.Sprintf(format, args...)}
}

// checkMembers returns a ProofError naming the first of elems that is not in
// the order-q subgroup.
func (g *Group) checkMembers(proof string, names []string, elems ...ElementModP) error {
	for i, x := range elems {
		if !g.InSubgroup(x) {
			return proofErr(proof, "%s is not in the order-q subgroup", names[i])
		}
	}
	return nil
}

// checkPublicKey returns a ProofError when K is not in the order-q subgroup,
// so that exponents of K may be reduced mod q (as batch verification does).
func checkPublicKey(proof string, k *FixedBase) error {
	if !k.inSubgroup() {
		return proofErr(proof, "public key K is not in the order-q subgroup")
	}
	return nil
}

// checkRangeP returns a ProofError naming the first of elems not in [0, p).
func (g *Group) checkRangeP(proof string, names []string, elems ...ElementModP) error {
	for i, x := range elems {
		if x.big().Sign() < 0 || x.big().Cmp(g.p) >= 0 {
			return proofErr(proof, "%s is not in [0, p)", names[i])
		}
	}
	return nil
}

// checkRangeQ returns a ProofError naming the first of elems not in [0, q).
func (g *Group) checkRangeQ(proof string, names []string, elems ...ElementModQ) error {
	for i, x := range elems {
		if x.big().Sign() < 0 || x.big().Cmp(g.q) >= 0 {
			return proofErr(proof, "%s is not in [0, q)", names[i])
		}
	}
	return nil
}

// NewDisjunctiveProof proves that ct = (g^nonce, g^plaintext·K^nonce) encrypts
// plaintext ∈ {0, 1}, with challenge H(Q̄, α, β, a0, b0, a1, b1). The proof's
// randomness is derived from seed exactly as electionguard-python 1.x does
// (spec 1.1 §3.3.4: the simulated branch uses the known nonce), so a record's
// proofs are reproduced bit for bit from its private nonces.
func (g *Group) NewDisjunctiveProof(ct Ciphertext, plaintext uint64, nonce ElementModQ, k *FixedBase, qbar, seed ElementModQ) (DisjunctiveProof, error) {
	alpha, beta := ct.Pad, ct.Data
	ns := g.NewNonces(seed, disjunctiveHeader)
	switch plaintext {
	case 0:
		c1, v, u0 := ns.Get(0), ns.Get(1), ns.Get(2)
		a0, b0 := g.GPow(u0), k.Pow(u0)
		a1, b1 := g.GPow(v), g.MulP(k.Pow(v), g.GPow(c1))
		c := g.Hash(qbar, alpha, beta, a0, b0, a1, b1)
		c0 := g.SubQ(c, c1)
		v0, v1 := g.APlusBCQ(u0, c0, nonce), g.APlusBCQ(v, c1, nonce)
		return DisjunctiveProof{a0, b0, a1, b1, c0, c1, c, v0, v1}, nil
	case 1:
		w, v, u1 := ns.Get(0), ns.Get(1), ns.Get(2)
		a0, b0 := g.GPow(v), g.MulP(k.Pow(v), g.GPow(w))
		a1, b1 := g.GPow(u1), k.Pow(u1)
		c := g.Hash(qbar, alpha, beta, a0, b0, a1, b1)
		c0 := g.NegQ(w)
		c1 := g.AddQ(c, w)
		v0, v1 := g.APlusBCQ(v, c0, nonce), g.APlusBCQ(u1, c1, nonce)
		return DisjunctiveProof{a0, b0, a1, b1, c0, c1, c, v0, v1}, nil
	default:
		return DisjunctiveProof{}, fmt.Errorf("eg: a disjunctive proof needs plaintext 0 or 1, not %d", plaintext)
	}
}

var disjunctiveNames = []string{"α (pad)", "β (data)", "proof_zero_pad", "proof_zero_data", "proof_one_pad", "proof_one_data"}

// Verify checks the proof for ct under public key K and extended base hash
// Q̄ as electionguard-python 1.x does, and returns a *ProofError naming the
// first failed check: α, β in the subgroup, a0, b0, a1, b1 in [0, p), the
// challenge and responses in [0, q), c = c0 + c1 = H(Q̄, α, β, a0, b0, a1, b1),
// and g^v0 = a0·α^c0, g^v1 = a1·α^c1, K^v0 = b0·β^c0, g^c1·K^v1 = b1·β^c1.
func (p DisjunctiveProof) Verify(g *Group, ct Ciphertext, k *FixedBase, qbar ElementModQ) error {
	if err := checkPublicKey("disjunctive", k); err != nil {
		return err
	}
	if err := p.checkStatic(g, ct, qbar); err != nil {
		return err
	}
	if err := g.checkMembers("disjunctive", disjunctiveNames, ct.Pad, ct.Data); err != nil {
		return err
	}
	return p.checkEquations(g, ct, k)
}

// checkStatic runs the checks that need no exponentiation: ranges and the
// challenge hash.
func (p DisjunctiveProof) checkStatic(g *Group, ct Ciphertext, qbar ElementModQ) error {
	const kind = "disjunctive"
	if err := g.checkRangeP(kind, disjunctiveNames, ct.Pad, ct.Data, p.Proof0Pad, p.Proof0Data, p.Proof1Pad, p.Proof1Data); err != nil {
		return err
	}
	if err := g.checkRangeQ(kind, []string{"proof_zero_challenge", "proof_one_challenge", "challenge", "proof_zero_response", "proof_one_response"},
		p.Proof0Challenge, p.Proof1Challenge, p.Challenge, p.Proof0Response, p.Proof1Response); err != nil {
		return err
	}
	if !g.AddQ(p.Proof0Challenge, p.Proof1Challenge).Equal(p.Challenge) {
		return proofErr(kind, "challenge is not proof_zero_challenge + proof_one_challenge")
	}
	if !g.Hash(qbar, ct.Pad, ct.Data, p.Proof0Pad, p.Proof0Data, p.Proof1Pad, p.Proof1Data).Equal(p.Challenge) {
		return proofErr(kind, "challenge is not H(Q̄, α, β, a0, b0, a1, b1)")
	}
	return nil
}

func (p DisjunctiveProof) checkEquations(g *Group, ct Ciphertext, k *FixedBase) error {
	const kind = "disjunctive"
	alpha, beta := ct.Pad, ct.Data
	if !g.GPow(p.Proof0Response).Equal(g.MulP(p.Proof0Pad, g.PowP(alpha, p.Proof0Challenge))) {
		return proofErr(kind, "g^v0 ≠ a0·α^c0 (proof_zero_pad)")
	}
	if !g.GPow(p.Proof1Response).Equal(g.MulP(p.Proof1Pad, g.PowP(alpha, p.Proof1Challenge))) {
		return proofErr(kind, "g^v1 ≠ a1·α^c1 (proof_one_pad)")
	}
	if !k.Pow(p.Proof0Response).Equal(g.MulP(p.Proof0Data, g.PowP(beta, p.Proof0Challenge))) {
		return proofErr(kind, "K^v0 ≠ b0·β^c0 (proof_zero_data)")
	}
	if !g.MulP(g.GPow(p.Proof1Challenge), k.Pow(p.Proof1Response)).Equal(g.MulP(p.Proof1Data, g.PowP(beta, p.Proof1Challenge))) {
		return proofErr(kind, "g^c1·K^v1 ≠ b1·β^c1 (proof_one_data)")
	}
	return nil
}

// NewConstantProof proves that ct = (g^nonce, g^constant·K^nonce) encrypts
// constant (a contest's total votes), with challenge H(Q̄, A, B, a, b).
func (g *Group) NewConstantProof(ct Ciphertext, constant int, nonce ElementModQ, k *FixedBase, qbar, seed ElementModQ) (ConstantProof, error) {
	if constant < 0 {
		return ConstantProof{}, fmt.Errorf("eg: a constant proof needs a constant ≥ 0, not %d", constant)
	}
	u := g.NewNonces(seed, constantHeader).Get(0)
	a, b := g.GPow(u), k.Pow(u)
	c := g.Hash(qbar, ct.Pad, ct.Data, a, b)
	v := g.APlusBCQ(u, c, nonce)
	return ConstantProof{Pad: a, Data: b, Challenge: c, Response: v, Constant: constant}, nil
}

// Verify checks that ct encrypts limit: the proof's own Constant must equal
// limit (the manifest's votes_allowed, not the ballot's claim), A and B lie in
// the subgroup, c = H(Q̄, A, B, a, b), g^v = a·A^c and g^(c·L)·K^v = b·B^c.
func (p ConstantProof) Verify(g *Group, ct Ciphertext, limit int, k *FixedBase, qbar ElementModQ) error {
	const kind = "constant"
	if err := checkPublicKey(kind, k); err != nil {
		return err
	}
	if err := p.checkStatic(g, ct, limit, qbar); err != nil {
		return err
	}
	if err := g.checkMembers(kind, constantNames, ct.Pad, ct.Data); err != nil {
		return err
	}
	if !g.GPow(p.Response).Equal(g.MulP(p.Pad, g.PowP(ct.Pad, p.Challenge))) {
		return proofErr(kind, "g^v ≠ a·A^c (pad)")
	}
	cl := g.MulQ(p.Challenge, g.ElementModQFromUint64(uint64(limit)))
	if !g.MulP(g.GPow(cl), k.Pow(p.Response)).Equal(g.MulP(p.Data, g.PowP(ct.Data, p.Challenge))) {
		return proofErr(kind, "g^(c·L)·K^v ≠ b·B^c (data)")
	}
	return nil
}

var constantNames = []string{"A (pad)", "B (data)", "pad", "data"}

// checkStatic runs the checks that need no exponentiation: the constant,
// ranges and the challenge hash.
func (p ConstantProof) checkStatic(g *Group, ct Ciphertext, limit int, qbar ElementModQ) error {
	const kind = "constant"
	if p.Constant != limit {
		return proofErr(kind, "proof claims constant %d but the limit is %d", p.Constant, limit)
	}
	if limit < 0 {
		return proofErr(kind, "constant %d is negative", limit)
	}
	if err := g.checkRangeP(kind, constantNames, ct.Pad, ct.Data, p.Pad, p.Data); err != nil {
		return err
	}
	if err := g.checkRangeQ(kind, []string{"challenge", "response"}, p.Challenge, p.Response); err != nil {
		return err
	}
	if !g.Hash(qbar, ct.Pad, ct.Data, p.Pad, p.Data).Equal(p.Challenge) {
		return proofErr(kind, "challenge is not H(Q̄, A, B, a, b)")
	}
	return nil
}

// NewChaumPedersenProof proves that share = A^secret for ct = (A, B), with
// challenge H(Q̄, A, B, a, b, M). It does not check that share is A^secret.
func (g *Group) NewChaumPedersenProof(ct Ciphertext, secret ElementModQ, share ElementModP, qbar, seed ElementModQ) ChaumPedersenProof {
	u := g.NewNonces(seed, chaumPedersenHeader).Get(0)
	a, b := g.GPow(u), g.PowP(ct.Pad, u)
	c := g.Hash(qbar, ct.Pad, ct.Data, a, b, share)
	return ChaumPedersenProof{Pad: a, Data: b, Challenge: c, Response: g.APlusBCQ(u, c, secret)}
}

// Verify checks that share = A^s where publicKey = g^s: K, A, B and M in the
// subgroup (which with the equations puts a and b there too), a, b in
// [0, p), c = H(Q̄, A, B, a, b, M), g^v = a·K^c and A^v = b·M^c.
// publicKey is a guardian's K_i, or a recovery key for a compensated share.
func (p ChaumPedersenProof) Verify(g *Group, ct Ciphertext, share ElementModP, publicKey *FixedBase, qbar ElementModQ) error {
	const kind = "chaum-pedersen"
	if err := checkPublicKey(kind, publicKey); err != nil {
		return err
	}
	if err := p.checkStatic(g, ct, share, qbar); err != nil {
		return err
	}
	// a and b need no check of their own: once A, M and K are in the
	// subgroup, g^v = a·K^c and A^v = b·M^c put them there too.
	if err := g.checkMembers(kind, chaumPedersenNames, ct.Pad, ct.Data, share); err != nil {
		return err
	}
	if !g.GPow(p.Response).Equal(g.MulP(p.Pad, publicKey.Pow(p.Challenge))) {
		return proofErr(kind, "g^v ≠ a·K^c (pad)")
	}
	if !g.PowP(ct.Pad, p.Response).Equal(g.MulP(p.Data, g.PowP(share, p.Challenge))) {
		return proofErr(kind, "A^v ≠ b·M^c (data)")
	}
	return nil
}

var chaumPedersenNames = []string{"A (pad)", "B (data)", "share M", "pad", "data"}

// checkStatic runs the checks that need no exponentiation: ranges and the
// challenge hash.
func (p ChaumPedersenProof) checkStatic(g *Group, ct Ciphertext, share ElementModP, qbar ElementModQ) error {
	const kind = "chaum-pedersen"
	if err := g.checkRangeP(kind, chaumPedersenNames, ct.Pad, ct.Data, share, p.Pad, p.Data); err != nil {
		return err
	}
	if err := g.checkRangeQ(kind, []string{"challenge", "response"}, p.Challenge, p.Response); err != nil {
		return err
	}
	if !g.Hash(qbar, ct.Pad, ct.Data, p.Pad, p.Data, share).Equal(p.Challenge) {
		return proofErr(kind, "challenge is not H(Q̄, A, B, a, b, M)")
	}
	return nil
}

// NewSchnorrProof proves knowledge of secret for publicKey = g^secret with
// the nonce u: commitment h = g^u, challenge c = H(K, h), response u + c·s.
func (g *Group) NewSchnorrProof(secret ElementModQ, publicKey ElementModP, u ElementModQ) SchnorrProof {
	h := g.GPow(u)
	c := g.Hash(publicKey, h)
	return SchnorrProof{PublicKey: publicKey, Commitment: h, Challenge: c, Response: g.APlusBCQ(u, c, secret)}
}

// Verify checks the public key is in the subgroup, the commitment in
// [0, p), c = H(K, h) and g^u = h·K^c.
func (p SchnorrProof) Verify(g *Group) error {
	const kind = "schnorr"
	if !g.InSubgroup(p.PublicKey) {
		return proofErr(kind, "public_key is not in the order-q subgroup")
	}
	if err := g.checkRangeP(kind, []string{"commitment"}, p.Commitment); err != nil {
		return err
	}
	if err := g.checkRangeQ(kind, []string{"challenge", "response"}, p.Challenge, p.Response); err != nil {
		return err
	}
	if !g.Hash(p.PublicKey, p.Commitment).Equal(p.Challenge) {
		return proofErr(kind, "challenge is not H(public_key, commitment)")
	}
	if !g.GPow(p.Response).Equal(g.MulP(p.Commitment, g.PowP(p.PublicKey, p.Challenge))) {
		return proofErr(kind, "g^u ≠ h·K^c")
	}
	return nil
}
