package seal

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// newTestKey returns a fresh random key and its raw bytes, which tests use
// only to look for them where they must not be.
func newTestKey(t testing.TB) (Key, []byte) {
	t.Helper()
	raw := make([]byte, KeySize)
	rand.Read(raw)
	k, err := ParseKey(hex.EncodeToString(raw))
	if err != nil {
		t.Fatalf("ParseKey of a random key: %v", err)
	}
	return k, raw
}

// encodings returns the ways secret could be written into text: hex in
// either case, decimal, base64 in its common alphabets, the raw bytes, and
// fmt's renderings of a []byte (%v and %#v).
func encodings(secret []byte) map[string]string {
	return map[string]string{
		"hex":        hex.EncodeToString(secret),
		"HEX":        strings.ToUpper(hex.EncodeToString(secret)),
		"decimal":    new(big.Int).SetBytes(secret).String(),
		"base64":     base64.StdEncoding.EncodeToString(secret),
		"base64 raw": base64.RawStdEncoding.EncodeToString(secret),
		"base64 url": base64.URLEncoding.EncodeToString(secret),
		"raw bytes":  string(secret),
		"fmt %v":     strings.Trim(fmt.Sprintf("%v", secret), "[]"),
		"fmt %#v":    strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", secret), "[]byte{"), "}"),
	}
}

// leakWindow is a piece of one encoding of a secret.
type leakWindow struct{ encoding, text string }

// leakWindows returns the windows of every encoding of secret long enough to
// stand for a part of it (a quarter of the encoding, at least 8 characters),
// so that a check also catches a secret echoed in part.
func leakWindows(secret []byte) []leakWindow {
	var ws []leakWindow
	for name, enc := range encodings(secret) {
		w := max(len(enc)/4, 8)
		for i := 0; i+w <= len(enc); i++ {
			ws = append(ws, leakWindow{name, enc[i : i+w]})
		}
	}
	return ws
}

// assertNoWindow fails when text contains one of windows.
func assertNoWindow(t testing.TB, what, text string, windows []leakWindow) {
	t.Helper()
	for _, w := range windows {
		if strings.Contains(text, w.text) {
			t.Errorf("%s contains part of the secret in %s: %q", what, w.encoding, text)
			return
		}
	}
}

// assertNoLeak fails when text contains part of any encoding of secret.
func assertNoLeak(t testing.TB, what, text string, secret []byte) {
	t.Helper()
	assertNoWindow(t, what, text, leakWindows(secret))
}
