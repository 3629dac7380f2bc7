package record

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFuzz adds the fixture files matching pattern (relative to a fixture set) as seeds.
func seedFuzz(f *testing.F, pattern string) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"data": "0A"}`))
	f.Add([]byte(`null`))
	for _, set := range fixtureSets {
		root, err := findFixture(set)
		if err != nil {
			continue // fuzzing works without seeds
		}
		names, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, name := range names[:min(len(names), 2)] {
			if data, err := os.ReadFile(name); err == nil {
				f.Add(data)
			}
		}
	}
}

func fuzzDecode[T any](f *testing.F, pattern string) {
	seedFuzz(f, pattern)
	f.Fuzz(func(t *testing.T, data []byte) {
		var v T
		if err := unmarshal(data, &v); err != nil {
			return
		}
		// What decodes must encode; when that decodes again (a document missing fields
		// encodes their zero values, which decoding may refuse) it must encode the same.
		out, err := Marshal(&v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		var again T
		if err := unmarshal(out, &again); err != nil {
			return
		}
		out2, err := Marshal(&again)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("encoding is not stable:\n%s\n%s", out, out2)
		}
	})
}

func FuzzDecodeSubmittedBallot(f *testing.F) {
	fuzzDecode[SubmittedBallot](f, "election_record/submitted_ballots/*.json")
}

func FuzzDecodeManifest(f *testing.F) {
	fuzzDecode[Manifest](f, "election_record/manifest.json")
}

func FuzzDecodeContext(f *testing.F) {
	fuzzDecode[Context](f, "election_record/context.json")
}

func FuzzDecodeConstants(f *testing.F) {
	fuzzDecode[Constants](f, "election_record/constants.json")
}

func FuzzDecodeGuardianRecord(f *testing.F) {
	fuzzDecode[GuardianRecord](f, "election_record/guardians/*.json")
}

func FuzzDecodePrivateGuardian(f *testing.F) {
	fuzzDecode[PrivateGuardian](f, "election_private_data/private_guardians/*.json")
}

func FuzzDecodeCiphertextTally(f *testing.F) {
	fuzzDecode[CiphertextTally](f, "election_record/encrypted_tally.json")
}

func FuzzDecodePlaintextTally(f *testing.F) {
	fuzzDecode[PlaintextTally](f, "election_record/spoiled_ballots/*.json")
}

func FuzzDecodeCoefficients(f *testing.F) {
	fuzzDecode[LagrangeCoefficients](f, "election_record/coefficients.json")
}

func FuzzDecodePlaintextBallot(f *testing.F) {
	fuzzDecode[PlaintextBallot](f, "election_private_data/plaintext_ballots/*.json")
}

func FuzzDecodeEncryptionDevice(f *testing.F) {
	fuzzDecode[EncryptionDevice](f, "election_record/encryption_devices/*.json")
}

func FuzzDecodeBallotsNDJSON(f *testing.F) {
	f.Add([]byte("{}\n\n{\"object_id\": 1}\n"))
	f.Add([]byte(strings.Repeat("{", 100)))
	seedFuzz(f, "election_record/submitted_ballots/*.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		for b, err := range DecodeBallots(strings.NewReader(string(data))) {
			if (b == nil) == (err == nil) {
				t.Fatalf("yielded ballot %v with error %v", b, err)
			}
			n++
			if n > len(data)+1 {
				t.Fatal("more documents than input bytes")
			}
		}
	})
}

func FuzzDecryptBackup(f *testing.F) {
	f.Add("7172E9E2966CC7A9C6B74405A1F7C1BF1C8097C745E26F2ACAEE211FC19C4656", "")
	f.Add(strings.Repeat("\u00ff", 300), "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	f.Fuzz(func(t *testing.T, value, key string) {
		_, _ = DecryptBackup(PartialKeyBackup{EncryptedValue: SecretText(value)}, AuxiliaryKeyPair{SecretKey: SecretText(key)})
	})
}

// FuzzValidateBallot: validating and tallying any decodable ballot never panics, and the
// single and batched validations agree on whether it is valid.
func FuzzValidateBallot(f *testing.F) {
	gen, err := generatedOnce()
	if err != nil {
		f.Fatal(err)
	}
	ballots, _, _ := encryptBallots(f, gen, 2, 9)
	for _, b := range ballots {
		data, err := Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"object_id": "x", "style_id": "style-city", "contests": [{"object_id": "mayor", "ballot_selections": [{}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b SubmittedBallot
		if unmarshal(data, &b) != nil {
			return
		}
		single := gen.election.ValidateBallot(&b)
		batched := gen.election.ValidateBallots([]*SubmittedBallot{&b})[0]
		if (single == nil) != (batched == nil) {
			t.Fatalf("single says %v, batched %v", single, batched)
		}
		_ = gen.election.NewTally().Add(&b)
	})
}
