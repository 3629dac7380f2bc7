package secretscan

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// Every encoding the scanner claims is found, wherever it sits in a text;
// other values are not.
func TestScanFindsEveryEncoding(t *testing.T) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[0] |= 0x80
	x := new(big.Int).SetBytes(b)
	var s Scanner
	if err := s.Add("canary", x, 64); err != nil {
		t.Fatal(err)
	}
	padded := make([]byte, 64)
	x.FillBytes(padded)
	for _, tc := range []struct{ name, text string }{
		{"hex", fmt.Sprintf(`{"data":"%x"}`, b)},
		{"HEX", fmt.Sprintf(`{"data":"%X"}`, b)},
		{"padded HEX", fmt.Sprintf("key=%X;", padded)},
		{"decimal", "n=" + x.String() + "\n"},
		{"raw", "xx" + string(b) + "yy"},
		{"base64", "v=" + base64.StdEncoding.EncodeToString(b)},
		{"base64 inside a longer text", base64.StdEncoding.EncodeToString(append([]byte("prefix-"), b...))},
		{"base64 url", base64.URLEncoding.EncodeToString(append([]byte("ab"), b...))},
	} {
		if got := s.Scan(tc.name, []byte(tc.text)); len(got) == 0 {
			t.Errorf("%s: not found in %q", tc.name, tc.text)
		}
	}
	other := make([]byte, 32)
	if _, err := rand.Read(other); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("%x %X %s %s", other, other, new(big.Int).SetBytes(other), base64.StdEncoding.EncodeToString(other))
	if got := s.Scan("other", []byte(text)); len(got) > 0 {
		t.Errorf("found in a text without the secret: %v", got)
	}
	if err := s.Add("short", big.NewInt(12345)); err == nil || !strings.Contains(err.Error(), "at least") {
		t.Errorf("a short secret: %v", err)
	}
}
