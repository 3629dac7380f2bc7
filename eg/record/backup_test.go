package record

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// TestBackupRoundTripAndTamper: a backup encrypted as 1.x's rsa_encrypt does opens with
// the designated guardian's key and checks against the owner's commitments; a tampered
// ciphertext, a tampered value and a backup for another guardian are each rejected with
// an error that says so. (The RSA form was checked against python's cryptography package
// running 1.x's rsa.py logic, both ways, when this was written.)
func TestBackupRoundTripAndTamper(t *testing.T) {
	gen := generatedElection(t)
	g := gen.g
	owner, holder := gen.cer.Private[0], gen.cer.Private[1]
	ownerKeys, _ := owner.GuardianElectionPublicKeys.Get(owner.GuardianID)
	var commitments = mustCommitments(t, gen, ownerKeys)
	received, ok := holder.GuardianElectionPartialKeyBackups.Get(owner.GuardianID)
	if !ok {
		t.Fatal("no backup received")
	}
	if len(received.EncryptedValue) <= maxIdentityBackupDigits {
		t.Fatal("the ceremony did not RSA-encrypt the backup")
	}
	v, err := holder.OpenBackup(g, received.PartialKeyBackup, commitments)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Equal(mustPoly(t, gen, owner).Evaluate(g, uint64(holder.ElectionKeys.SequenceOrder))) {
		t.Fatal("the backup does not open to P_owner(x_holder)")
	}

	corrupt := received.PartialKeyBackup
	r := []rune(string(corrupt.EncryptedValue))
	r[len(r)/2] ^= 0x55
	corrupt.EncryptedValue = SecretText(r)
	if _, err := holder.OpenBackup(g, corrupt, commitments); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Errorf("corrupted RSA ciphertext: got %v", err)
	}

	forged := received.PartialKeyBackup
	other := HexQ(g.AddQ(v, g.OneQ()))
	if forged.EncryptedValue, err = EncryptBackup(other, holder.AuxiliaryKeys.PublicKey); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.OpenBackup(g, forged, commitments); err == nil || !strings.Contains(err.Error(), "does not match the sender's coefficient commitments") {
		t.Errorf("backup of a wrong value: got %v", err)
	}

	plain := received.PartialKeyBackup
	plain.EncryptedValue = SecretText(other.String())
	if _, err := holder.OpenBackup(g, plain, commitments); err == nil || !strings.Contains(err.Error(), "commitments") {
		t.Errorf("identity backup of a wrong value: got %v", err)
	}

	if _, err := gen.cer.Private[2].OpenBackup(g, received.PartialKeyBackup, commitments); err == nil || !strings.Contains(err.Error(), "not") {
		t.Errorf("backup opened by another guardian: got %v", err)
	}
}

func mustCommitments(t *testing.T, gen *generated, k ElectionPublicKey) []eg.ElementModP {
	t.Helper()
	var out []eg.ElementModP
	for _, c := range k.CoefficientCommitments {
		p, err := c.P(gen.g)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// mustPoly rebuilds a guardian's polynomial from its private record.
func mustPoly(t *testing.T, gen *generated, p *PrivateGuardian) *eg.Polynomial {
	t.Helper()
	var coeffs, nonces []eg.ElementModQ
	for _, c := range p.ElectionKeys.Polynomial.Coefficients {
		a, err := c.Value.Q(gen.g)
		if err != nil {
			t.Fatal(err)
		}
		coeffs, nonces = append(coeffs, a), append(nonces, gen.g.OneQ())
	}
	poly, err := gen.g.PolynomialFromCoefficients(coeffs, nonces)
	if err != nil {
		t.Fatal(err)
	}
	return poly
}

// TestSecretsRedacted: printing a private guardian record or a trustee with any verb
// shows none of their secrets.
func TestSecretsRedacted(t *testing.T) {
	gen := generatedElection(t)
	p := gen.cer.Private[0]
	secrets := []string{p.ElectionKeys.KeyPair.SecretKey.Hex.String(), string(p.AuxiliaryKeys.SecretKey)[40:80]}
	for _, c := range p.ElectionKeys.Polynomial.Coefficients {
		secrets = append(secrets, c.Value.Hex.String())
	}
	for _, b := range p.BackupsToShare {
		secrets = append(secrets, string(b.EncryptedValue))
	}
	d, err := gen.election.NewDecryptor(gen.cer.Guardians, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := d.NewTrustee(p, []string{gen.cer.Private[1].GuardianID})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tr.Secret.Hex(), tr.Backups[gen.cer.Private[1].GuardianID].Hex())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out := fmt.Sprintf(verb, p) + fmt.Sprintf(verb, *p) + fmt.Sprintf(verb, tr) + fmt.Sprintf(verb, *tr) + fmt.Sprintf(verb, []*Trustee{tr})
		for _, s := range secrets {
			if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%x", s)) {
				t.Errorf("%s prints a secret", verb)
			}
		}
	}
}
