package seal_test

import (
	"errors"
	"fmt"

	"github.com/tallyq/tallyq/internal/seal"
)

// A guardian's secret share is sealed for its election and guardian before it
// is stored, and opened just before a decryption chunk needs it.
func Example() {
	// In tallyq the key comes from the environment: seal.KeyFromEnv().
	// This fixed key is for the example only.
	key, err := seal.ParseKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	if err != nil {
		fmt.Println(err)
		return
	}

	share := []byte("s_i of guardian-1")
	sealed, err := seal.Seal(key, share, 42, "guardian-1")
	seal.Wipe(share) // the plaintext is no longer needed once sealed
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stored bytes:", len(sealed), "= secret", len(share), "+ overhead", seal.Overhead)

	opened, err := seal.Open(key, sealed, 42, "guardian-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer seal.Wipe(opened)
	fmt.Printf("opened: %s\n", opened)

	// The blob opens only for the election and guardian it was sealed for.
	_, err = seal.Open(key, sealed, 43, "guardian-1")
	fmt.Println("other election refused:", errors.Is(err, seal.ErrNotAuthentic))

	// Output:
	// stored bytes: 54 = secret 17 + overhead 37
	// opened: s_i of guardian-1
	// other election refused: true
}

// A Key prints only its id, which operators can compare with
// `xxd -r -p <.tallyq/secret-key | sha256sum | cut -c1-16`.
func ExampleKey_String() {
	key, _ := seal.ParseKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	fmt.Println(key)
	fmt.Printf("%#v\n", key)
	// Output:
	// seal.Key(redacted, id 630dcd2966c43366)
	// seal.Key(redacted, id 630dcd2966c43366)
}

// Without a key, decryption must not start; the error tells the operator what to do.
func ExampleParseKey_noKey() {
	_, err := seal.ParseKey("")
	fmt.Println(errors.Is(err, seal.ErrNoKey))
	fmt.Println(err)
	// Output:
	// true
	// no secret key: set TALLYQ_SECRET_KEY to 32 random bytes as 64 hex digits (generate one with `openssl rand -hex 32` or `head -c32 /dev/urandom | xxd -p -c64`)
}
