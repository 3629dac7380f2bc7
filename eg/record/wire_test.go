package record

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestFixtureFilesRoundTrip decodes every file of the fixtures and checks that encoding
// the result gives the same JSON value (up to number formatting of hex, which we write
// upper-case like 1.x).
func TestFixtureFilesRoundTrip(t *testing.T) {
	for _, set := range fixtureSets {
		t.Run(set, func(t *testing.T) {
			root := fixtureDir(t, set)
			kinds := map[string]func() any{
				"constants.json":       func() any { return new(Constants) },
				"context.json":         func() any { return new(Context) },
				"manifest.json":        func() any { return new(Manifest) },
				"encrypted_tally.json": func() any { return new(CiphertextTally) },
				"tally.json":           func() any { return new(PlaintextTally) },
				"coefficients.json":    func() any { return new(LagrangeCoefficients) },
				"guardians":            func() any { return new(GuardianRecord) },
				"submitted_ballots":    func() any { return new(SubmittedBallot) },
				"spoiled_ballots":      func() any { return new(PlaintextTally) },
				"encryption_devices":   func() any { return new(EncryptionDevice) },
				"private_guardians":    func() any { return new(PrivateGuardian) },
				"plaintext_ballots":    func() any { return new(PlaintextBallot) },
			}
			n := 0
			err := filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
				if err != nil || info.IsDir() || filepath.Ext(path) != ".json" {
					return err
				}
				mk := kinds[info.Name()]
				if mk == nil {
					mk = kinds[filepath.Base(filepath.Dir(path))]
				}
				if mk == nil {
					return nil
				}
				n++
				raw, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				v := mk()
				if err := unmarshal(raw, v); err != nil {
					t.Errorf("%s: %v", path, err)
					return nil
				}
				out, err := Marshal(v)
				if err != nil {
					t.Errorf("%s: marshal: %v", path, err)
					return nil
				}
				var want, got any
				if err := decodeAny(raw, &want); err != nil {
					return err
				}
				if err := decodeAny(out, &got); err != nil {
					return err
				}
				normalize(want)
				if info.Name() == ContextFile {
					// The schema requires extended_data to be an object; we write {} for null.
					if m := want.(map[string]any); m["extended_data"] == nil {
						m["extended_data"] = map[string]any{}
					}
				}
				if !reflect.DeepEqual(want, got) {
					t.Errorf("%s does not round-trip", path)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n < 20 {
				t.Fatalf("only %d fixture files checked", n)
			}
		})
	}
}

func decodeAny(b []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// normalize rewrites hex in {"data": "..."} to the canonical upper-case even-length form.
func normalize(v any) {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x["data"].(string); ok && len(x) == 1 {
			if h, err := ParseHex(s); err == nil {
				x["data"] = h.String()
			}
		}
		for _, e := range x {
			normalize(e)
		}
	case []any:
		for _, e := range x {
			normalize(e)
		}
	}
}
