package seal

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
)

// secretShare stands for a guardian's s_i: what must never leak.
var secretShare = []byte("s_i = 0x4f1c... a guardian's secret share, 32+ bytes")

// mustSeal seals plaintext or fails the test.
func mustSeal(t testing.TB, k Key, plaintext []byte, electionID int64, guardianID string) []byte {
	t.Helper()
	sealed, err := Seal(k, plaintext, electionID, guardianID)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

// assertOpenFails checks that Open refuses sealed with an error wrapping want
// that shows neither the key nor the plaintext, and returns the error text.
func assertOpenFails(t *testing.T, k Key, raw, sealed []byte, electionID int64, guardianID string, want error) string {
	t.Helper()
	got, err := Open(k, sealed, electionID, guardianID)
	if !errors.Is(err, want) {
		t.Fatalf("Open = %q, %v; want an error wrapping %q", got, err, want)
	}
	if got != nil {
		t.Errorf("Open returned %d bytes along with its error", len(got))
	}
	assertNoLeak(t, "Open error", err.Error(), raw)
	assertNoLeak(t, "Open error", err.Error(), secretShare)
	return err.Error()
}

func TestSealOpenRoundTrip(t *testing.T) {
	k, _ := newTestKey(t)
	for _, tc := range []struct {
		name       string
		plaintext  []byte
		electionID int64
		guardianID string
	}{
		{"empty plaintext", []byte{}, 1, "guardian-1"},
		{"one byte", []byte{0}, 2, "g"},
		{"secret share", secretShare, 42, "Guardian Ω"},
		{"backups", bytes.Repeat([]byte{0xa5}, 4096), math.MaxInt64, ""},
		{"negative election", []byte("x"), math.MinInt64, "guardian\x00with nul"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed := mustSeal(t, k, tc.plaintext, tc.electionID, tc.guardianID)
			if len(sealed) != len(tc.plaintext)+Overhead {
				t.Errorf("sealed length = %d, want plaintext %d + overhead %d", len(sealed), len(tc.plaintext), Overhead)
			}
			if sealed[0] != Version {
				t.Errorf("version byte = %d, want %d", sealed[0], Version)
			}
			if id := fmt.Sprintf("%x", sealed[1:headerSize]); id != k.ID() {
				t.Errorf("key id in blob = %s, want %s", id, k.ID())
			}
			if len(tc.plaintext) > 8 && bytes.Contains(sealed, tc.plaintext[:8]) {
				t.Error("sealed blob contains the plaintext")
			}
			got, err := Open(k, sealed, tc.electionID, tc.guardianID)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Errorf("Open = %x, want %x", got, tc.plaintext)
			}
		})
	}
}

func TestOpenWithAnotherKeySaysDifferentKey(t *testing.T) {
	k, kRaw := newTestKey(t)
	other, otherRaw := newTestKey(t)
	sealed := mustSeal(t, k, secretShare, 7, "g1")
	msg := assertOpenFails(t, other, otherRaw, sealed, 7, "g1", ErrWrongKey)
	for _, want := range []string{"sealed under a different key", k.ID(), other.ID(), EnvVar} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	assertNoLeak(t, "wrong-key error", msg, kRaw) // the key it was sealed under stays hidden too
}

func TestOpenRefusesEveryAlteredByte(t *testing.T) {
	k, raw := newTestKey(t)
	sealed := mustSeal(t, k, secretShare, 7, "g1")
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			altered := bytes.Clone(sealed)
			altered[i] ^= mask
			// Which check catches the change depends on the part of the blob it is in.
			want := ErrNotAuthentic
			switch {
			case i == 0:
				want = ErrUnknownVersion
			case i < headerSize:
				want = ErrWrongKey
			}
			t.Run(fmt.Sprintf("byte %d xor %#x", i, mask), func(t *testing.T) {
				assertOpenFails(t, k, raw, altered, 7, "g1", want)
			})
		}
	}
}

func TestOpenRefusesBlobOfAnotherElectionOrGuardian(t *testing.T) {
	k, raw := newTestKey(t)
	sealed := mustSeal(t, k, secretShare, 7, "g1")
	for _, tc := range []struct {
		name       string
		electionID int64
		guardianID string
	}{
		{"next election", 8, "g1"},
		{"previous election", 6, "g1"},
		{"negated election", -7, "g1"},
		{"election in another byte", 7 << 8, "g1"},
		{"other guardian", 7, "g2"},
		{"guardian prefix", 7, "g"},
		{"guardian extended", 7, "g10"},
		{"guardian in other case", 7, "G1"},
		{"empty guardian", 7, ""},
		{"both", 8, "g2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := assertOpenFails(t, k, raw, sealed, tc.electionID, tc.guardianID, ErrNotAuthentic)
			if want := fmt.Sprintf("election %d, guardian %q", tc.electionID, tc.guardianID); !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %s", msg, want)
			}
		})
	}
}

func TestAdditionalDataIsUnambiguous(t *testing.T) {
	header := []byte{Version, 1, 2, 3, 4, 5, 6, 7, 8}
	seen := map[string]string{}
	for _, e := range []int64{0, 1, 256, -1, math.MaxInt64, math.MinInt64} {
		for _, g := range []string{"", "\x00", "\x00\x00", "1", "g1", "g1\x00", "\x01g1"} {
			ad := string(additionalData(header, e, g))
			pair := fmt.Sprintf("(%d, %q)", e, g)
			if prev, dup := seen[ad]; dup {
				t.Errorf("%s and %s have the same additional data", prev, pair)
			}
			seen[ad] = pair
		}
	}
}

func TestOpenRefusesTruncatedBlob(t *testing.T) {
	k, raw := newTestKey(t)
	sealed := mustSeal(t, k, secretShare, 7, "g1")
	for n := range len(sealed) {
		want := ErrNotAuthentic // header intact, ciphertext or tag cut short
		if n < Overhead {
			want = ErrTruncated
		}
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			msg := assertOpenFails(t, k, raw, sealed[:n], 7, "g1", want)
			if n == 0 && !strings.Contains(msg, "empty") {
				t.Errorf("error %q does not say the blob is empty", msg)
			}
			if n > 0 && n < Overhead && !strings.Contains(msg, fmt.Sprintf("%d bytes, fewer than the %d", n, Overhead)) {
				t.Errorf("error %q does not give the length and the minimum", msg)
			}
		})
	}
}

func TestOpenRefusesUnknownVersion(t *testing.T) {
	k, raw := newTestKey(t)
	sealed := mustSeal(t, k, secretShare, 7, "g1")
	for _, v := range []byte{0, 2, 255} {
		blob := bytes.Clone(sealed)
		blob[0] = v
		msg := assertOpenFails(t, k, raw, blob, 7, "g1", ErrUnknownVersion)
		if want := fmt.Sprintf("version %d (this build reads version %d)", v, Version); !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	// A one-byte blob of another version is a version problem, not truncation.
	assertOpenFails(t, k, raw, []byte{2}, 7, "g1", ErrUnknownVersion)
}

func TestSealUsesAFreshNonceEachTime(t *testing.T) {
	k, _ := newTestKey(t)
	const n = 200
	nonces := map[string]bool{}
	ciphertexts := map[string]bool{}
	for range n {
		sealed := mustSeal(t, k, secretShare, 7, "g1")
		nonces[string(sealed[headerSize:headerSize+nonceSize])] = true
		ciphertexts[string(sealed[headerSize+nonceSize:])] = true
	}
	if len(nonces) != n || len(ciphertexts) != n {
		t.Errorf("%d seals of one plaintext gave %d distinct nonces and %d distinct ciphertexts, want %d each",
			n, len(nonces), len(ciphertexts), n)
	}
}

func TestZeroKeyIsRefused(t *testing.T) {
	var zero Key
	if _, err := Seal(zero, secretShare, 1, "g1"); !errors.Is(err, ErrNoKey) {
		t.Errorf("Seal with the zero Key: %v, want ErrNoKey", err)
	}
	k, _ := newTestKey(t)
	sealed := mustSeal(t, k, secretShare, 1, "g1")
	if _, err := Open(zero, sealed, 1, "g1"); !errors.Is(err, ErrNoKey) {
		t.Errorf("Open with the zero Key: %v, want ErrNoKey", err)
	}
}

func TestKeyIsSafeForConcurrentUse(t *testing.T) {
	k, _ := newTestKey(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			guardian := fmt.Sprintf("g%d", g)
			for i := range 50 {
				plaintext := fmt.Appendf(nil, "secret %d of %s", i, guardian)
				sealed, err := Seal(k, plaintext, int64(i), guardian)
				if err != nil {
					errs <- err
					return
				}
				got, err := Open(k, sealed, int64(i), guardian)
				if err != nil || !bytes.Equal(got, plaintext) {
					errs <- fmt.Errorf("open %s/%d: %q, %v", guardian, i, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestWipe(t *testing.T) {
	b := bytes.Clone(secretShare)
	Wipe(b)
	if !bytes.Equal(b, make([]byte, len(secretShare))) {
		t.Errorf("after Wipe: %x, want zeros", b)
	}
	Wipe(nil) // must not panic
}
