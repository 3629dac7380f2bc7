package eg

import (
	"errors"
	"fmt"
)

// Ciphertext is an exponential ElGamal ciphertext (α, β) = (g^r, g^m·K^r);
// the record calls α "pad" and β "data".
type Ciphertext struct {
	Pad  ElementModP
	Data ElementModP
}

// Encrypt returns (g^nonce, g^m·K^nonce). The nonce must not be 0 (python's
// elgamal_encrypt refuses it too): it would publish m in the clear.
func (g *Group) Encrypt(m uint64, nonce ElementModQ, k *FixedBase) (Ciphertext, error) {
	if nonce.IsZero() {
		return Ciphertext{}, errors.New("eg: ElGamal nonce is 0")
	}
	pad := g.GPow(nonce)
	data := g.MulP(g.GPow(g.ElementModQFromUint64(m)), k.Pow(nonce))
	return Ciphertext{Pad: pad, Data: data}, nil
}

// AddCiphertexts returns the homomorphic sum of cts: their componentwise
// product mod p (an encryption of 0 with nonce 0, (1, 1), for none).
func (g *Group) AddCiphertexts(cts ...Ciphertext) Ciphertext {
	pads := make([]ElementModP, len(cts))
	datas := make([]ElementModP, len(cts))
	for i, c := range cts {
		pads[i], datas[i] = c.Pad, c.Data
	}
	return Ciphertext{Pad: g.MulP(pads...), Data: g.MulP(datas...)}
}

// Equal reports whether both components are equal.
func (c Ciphertext) Equal(d Ciphertext) bool { return c.Pad.Equal(d.Pad) && c.Data.Equal(d.Data) }

// CryptoHash is H(α, β), python's ElGamalCiphertext.crypto_hash.
func (c Ciphertext) CryptoHash(g *Group) ElementModQ { return g.Hash(c.Pad, c.Data) }

// DecryptKnownSecret returns m from β/α^s with the discrete log d; label names
// the value in the error when m is beyond d's bound.
func (g *Group) DecryptKnownSecret(label string, c Ciphertext, secret ElementModQ, d *DiscreteLog) (uint64, error) {
	gm, err := g.DivP(c.Data, g.PowP(c.Pad, secret))
	if err != nil {
		return 0, fmt.Errorf("eg: decrypting %s: %w", label, err)
	}
	return d.Log(label, gm)
}

// DecryptKnownNonce returns m from β/K^nonce with the discrete log d.
func (g *Group) DecryptKnownNonce(label string, c Ciphertext, nonce ElementModQ, k *FixedBase, d *DiscreteLog) (uint64, error) {
	gm, err := g.DivP(c.Data, k.Pow(nonce))
	if err != nil {
		return 0, fmt.Errorf("eg: decrypting %s: %w", label, err)
	}
	return d.Log(label, gm)
}
