package record

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"unicode/utf8"
)

// DefaultRSABits is the auxiliary key size electionguard-python 1.x generates.
const DefaultRSABits = 4096

// maxIdentityBackupDigits is the longest backup written in the clear: 1.x's
// identity_auxiliary_encrypt (which the 0.95 sample records use) stores P_l(i) as hex.
const maxIdentityBackupDigits = 64

// GenerateAuxiliaryKeyPair makes an RSA auxiliary key pair in the PEM forms 1.x writes
// (private key PKCS#1 "RSA PRIVATE KEY", public key PKIX "PUBLIC KEY"). 1.x uses 4096
// bits; tests and demos may pass fewer (at least 1024) because generation takes seconds.
func GenerateAuxiliaryKeyPair(ownerID string, sequenceOrder, bits int) (AuxiliaryKeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return AuxiliaryKeyPair{}, fmt.Errorf("generate %d-bit RSA auxiliary key for guardian %q: %w", bits, ownerID, err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return AuxiliaryKeyPair{}, fmt.Errorf("encode RSA public key: %w", err)
	}
	return AuxiliaryKeyPair{
		OwnerID:       ownerID,
		SequenceOrder: sequenceOrder,
		SecretKey:     SecretText(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		PublicKey:     string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}, nil
}

// EncryptBackup encrypts a backup value P_l(i) to an auxiliary public key as 1.x's
// rsa_encrypt does: the bytes of its even-length hex, RSA PKCS#1 v1.5, the ciphertext
// bytes stored as an ISO-8859-1 string.
func EncryptBackup(value Hex, publicKeyPEM string) (SecretText, error) {
	pub, err := parseRSAPublicKey(publicKeyPEM)
	if err != nil {
		return "", err
	}
	plain := value.Big().Bytes()
	if len(plain) == 0 {
		plain = []byte{0}
	}
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, plain)
	if err != nil {
		return "", fmt.Errorf("RSA-encrypt partial key backup: %w", err)
	}
	return SecretText(latin1(ct)), nil
}

// DecryptBackup recovers P_l(i) from a backup with the designated guardian's auxiliary
// key pair. It handles both forms 1.x writes: RSA (rsa_decrypt: the value's characters
// are ISO-8859-1 bytes of a PKCS#1 v1.5 ciphertext) and the identity "encryption" the
// 0.95 sample records use, where the value is the hex itself. Callers must still check
// the value against the owner's commitments (VerifyBackup).
func DecryptBackup(b PartialKeyBackup, keys AuxiliaryKeyPair) (Hex, error) {
	text := string(b.EncryptedValue)
	if len(text) <= maxIdentityBackupDigits {
		v, err := ParseHex(text)
		if err != nil {
			return Hex{}, fmt.Errorf("backup from guardian %q to %q is neither RSA nor plain hex: %w", b.OwnerID, b.DesignatedID, err)
		}
		return v, nil
	}
	priv, err := parseRSAPrivateKey(string(keys.SecretKey))
	if err != nil {
		return Hex{}, fmt.Errorf("auxiliary key of guardian %q: %w", keys.OwnerID, err)
	}
	ct, err := fromLatin1(text)
	if err != nil {
		return Hex{}, fmt.Errorf("backup from guardian %q to %q: %w", b.OwnerID, b.DesignatedID, err)
	}
	plain, err := rsa.DecryptPKCS1v15(nil, priv, ct)
	if err != nil {
		return Hex{}, fmt.Errorf("backup from guardian %q to %q does not decrypt with %q's auxiliary key: %w", b.OwnerID, b.DesignatedID, keys.OwnerID, err)
	}
	if len(plain) == 0 || len(plain) > 32 {
		return Hex{}, fmt.Errorf("backup from guardian %q to %q decrypts to %d bytes, not a 256-bit value", b.OwnerID, b.DesignatedID, len(plain))
	}
	var out Hex
	out.n = new(big.Int).SetBytes(plain)
	return out, nil
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func fromLatin1(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		if r == utf8.RuneError || r > 0xFF {
			return nil, fmt.Errorf("character at offset %d is not ISO-8859-1", i)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

func parseRSAPrivateKey(text string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("private key is not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key is neither PKCS#1 nor PKCS#8: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("private key is not RSA")
	}
	return rk, nil
}

func parseRSAPublicKey(text string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("auxiliary public key is not PEM")
	}
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		if rk, ok := k.(*rsa.PublicKey); ok {
			return rk, nil
		}
		return nil, errors.New("auxiliary public key is not RSA")
	}
	k, err := x509.ParsePKCS1PublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auxiliary public key is neither PKIX nor PKCS#1: %w", err)
	}
	return k, nil
}
