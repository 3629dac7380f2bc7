package eg

// Nonces is electionguard-python's Nonces: a deterministic sequence of
// ElementModQ values derived from a seed, item i being H(seed', i) where
// seed' = H(seed, headers...) when headers are given and seed otherwise.
type Nonces struct {
	grp  *Group
	seed ElementModQ
}

// NewNonces returns the nonce sequence for seed and optional headers.
func (g *Group) NewNonces(seed ElementModQ, headers ...any) Nonces {
	if len(headers) > 0 {
		seed = g.Hash(append([]any{seed}, headers...)...)
	}
	return Nonces{grp: g, seed: seed}
}

// Get returns nonce i, H(seed', i, headers...).
func (n Nonces) Get(i int, headers ...any) ElementModQ {
	return n.grp.Hash(append([]any{n.seed, i}, headers...)...)
}
