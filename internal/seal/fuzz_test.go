package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// fuzzKeyHex is the fixed key of the fuzz targets, so that saved corpus
// entries replay under the key they were found with.
const fuzzKeyHex = "8d5a3f0e1c2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1"

func FuzzOpen(f *testing.F) {
	key, err := ParseKey(fuzzKeyHex)
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := hex.DecodeString(fuzzKeyHex)
	keyWindows := leakWindows(raw)
	plaintext := []byte("fuzz secret share")
	// Only blobs sealed here (for election 5, guardian g1) may open. Each fuzz
	// worker seals its own with fresh nonces, so blobs are recognised by what
	// they open to, not by their bytes.
	sealedPlaintexts := map[string]bool{}
	for _, p := range [][]byte{plaintext, {}} {
		sealed := mustSeal(f, key, p, 5, "g1")
		sealedPlaintexts[string(p)] = true
		f.Add(sealed, int64(5), "g1")
		f.Add(sealed, int64(6), "g1")
		f.Add(sealed[:len(sealed)-1], int64(5), "g1")
	}
	f.Add([]byte{}, int64(0), "")
	f.Add([]byte{2}, int64(0), "")
	f.Add(bytes.Repeat([]byte{Version}, Overhead), int64(1), "g")

	f.Fuzz(func(t *testing.T, sealed []byte, electionID int64, guardianID string) {
		got, err := Open(key, sealed, electionID, guardianID)
		if err == nil {
			// Only an authentic blob opens, and only for its own election and guardian.
			if !sealedPlaintexts[string(got)] || electionID != 5 || guardianID != "g1" {
				t.Fatalf("Open accepted a blob it never sealed: %x (election %d, guardian %q) → %q",
					sealed, electionID, guardianID, got)
			}
			return
		}
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrUnknownVersion) &&
			!errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrNotAuthentic) {
			t.Fatalf("Open error %v wraps none of the documented errors", err)
		}
		assertNoWindow(t, "Open error", err.Error(), keyWindows)
		if strings.Contains(err.Error(), string(plaintext)) {
			t.Fatalf("Open error contains the plaintext: %v", err)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add(fuzzKeyHex)
	f.Add(strings.ToUpper(fuzzKeyHex) + "\n")
	f.Add("jVo/DhwrSml4h5altMPS4fAPHi08S1ppeIeWpbTD0uE=")
	f.Add("")
	f.Add(strings.Repeat("0", 64))
	f.Add(fuzzKeyHex[:63] + "z")

	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		trimmed := strings.TrimSpace(s)
		if err != nil {
			if !errors.Is(err, ErrNoKey) && !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ParseKey error %v wraps neither ErrNoKey nor ErrInvalidKey", err)
			}
			if len(trimmed) >= 8 && strings.Contains(err.Error(), trimmed) {
				t.Fatalf("ParseKey error %q echoes its input", err)
			}
			return
		}
		if len(k.ID()) != 2*KeyIDSize {
			t.Fatalf("key id %q has %d hex digits, want %d", k.ID(), len(k.ID()), 2*KeyIDSize)
		}
		if strings.Contains(k.String(), trimmed) {
			t.Fatalf("String %q shows the key", k.String())
		}
	})
}
