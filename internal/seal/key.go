// Package seal encrypts guardian secrets for storage (AES-256-GCM) under the
// operator's key, TALLYQ_SECRET_KEY, binding each sealed blob to the election
// and guardian it belongs to.
//
// tallyq keeps a guardian's secret share s_i and its decrypted key backups
// P_l(i) only in sealed form; see DESIGN.md, "Trust model". The key itself is
// held in a Key, which never prints, logs or marshals its material.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// KeySize is the length in bytes of a sealing key (AES-256).
const KeySize = 32

// KeyIDSize is the length in bytes of a key id: the first bytes of the
// SHA-256 of the key, stored in every sealed blob so that a blob sealed under
// another key is recognised as such.
const KeyIDSize = 8

// EnvVar is the environment variable that holds the sealing key.
const EnvVar = "TALLYQ_SECRET_KEY"

// ErrNoKey reports that no sealing key is configured.
var ErrNoKey = errors.New("no secret key: set " + EnvVar +
	" to 32 random bytes as 64 hex digits (generate one with `openssl rand -hex 32`" +
	" or `head -c32 /dev/urandom | xxd -p -c64`)")

// ErrInvalidKey reports a sealing key that is not 32 bytes in hex or base64.
// Errors wrapping it describe the problem without quoting the key.
var ErrInvalidKey = errors.New("invalid secret key")

// ErrKeyNotMarshalable is returned by every marshalling method of Key: the key
// belongs in the environment, never in JSON, text or binary data.
var ErrKeyNotMarshalable = errors.New("seal.Key refuses to be marshalled: keep it in " + EnvVar)

// Key is an AES-256 sealing key. The zero Key holds no key; Seal and Open
// refuse it with ErrNoKey. A Key is safe for concurrent use and cheap to copy:
// copies share one key schedule, so the key material exists once in memory.
//
// Key redacts itself in every fmt verb, in log/slog, and refuses JSON, text
// and binary marshalling. Because its only field is a pointer, even printing a
// struct that holds a Key in an unexported field shows an address, not the key.
type Key struct {
	m *keyMaterial
}

type keyMaterial struct {
	aead cipher.AEAD
	id   [KeyIDSize]byte
}

// ParseKey parses a sealing key given as 64 hex digits (what `make run`
// writes to .tallyq/secret-key and `openssl rand -hex 32` prints) or as
// standard base64 of 32 bytes. Surrounding white space, such as the newline
// of a key file, is ignored. An empty s gives an error wrapping ErrNoKey; any
// other bad s gives an error wrapping ErrInvalidKey that never quotes s.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Key{}, ErrNoKey
	}
	raw, err := decodeKey(s)
	if err != nil {
		return Key{}, err
	}
	defer Wipe(raw)
	return newKey(raw)
}

// KeyFromEnv parses the key in the environment variable EnvVar. It returns
// an error wrapping ErrNoKey when the variable is unset or empty.
func KeyFromEnv() (Key, error) {
	k, err := ParseKey(os.Getenv(EnvVar))
	if err != nil && !errors.Is(err, ErrNoKey) {
		return Key{}, fmt.Errorf("%s: %w", EnvVar, err)
	}
	return k, err
}

// decodeKey decodes s as hex or base64. Its errors state lengths and kinds of
// characters only: the decoders' own errors quote an offending character.
func decodeKey(s string) ([]byte, error) {
	hexLen := hex.EncodedLen(KeySize)
	b64Len := base64.StdEncoding.EncodedLen(KeySize)
	switch len(s) {
	case hexLen:
		raw, err := hex.DecodeString(s)
		if err != nil {
			Wipe(raw)
			return nil, fmt.Errorf("%w: it has %d characters but is not hex (want only 0-9, a-f)",
				ErrInvalidKey, hexLen)
		}
		return raw, nil
	case b64Len:
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != KeySize {
			Wipe(raw)
			return nil, fmt.Errorf("%w: it has %d characters but is not standard base64 of %d bytes",
				ErrInvalidKey, b64Len, KeySize)
		}
		return raw, nil
	default:
		return nil, fmt.Errorf("%w: it has %d characters; want %d hex digits or %d base64 characters (%d bytes)",
			ErrInvalidKey, len(s), hexLen, b64Len, KeySize)
	}
}

func newKey(raw []byte) (Key, error) {
	if isZero(raw) {
		return Key{}, fmt.Errorf("%w: it is all zero bytes; generate a random one", ErrInvalidKey)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrInvalidKey, err) // only a length error; no key text
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	m := &keyMaterial{aead: aead}
	sum := sha256.Sum256(raw)
	copy(m.id[:], sum[:])
	Wipe(sum[:])
	return Key{m: m}, nil
}

func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// IsZero reports whether k holds no key.
func (k Key) IsZero() bool { return k.m == nil }

// ID returns the key id in hex: the first 8 bytes of the key's SHA-256. It
// is not secret, and lets an operator tell which key sealed a blob
// (`xxd -r -p <.tallyq/secret-key | sha256sum | cut -c1-16`).
func (k Key) ID() string {
	if k.m == nil {
		return ""
	}
	return hex.EncodeToString(k.m.id[:])
}

// String describes k without its material.
func (k Key) String() string {
	if k.m == nil {
		return "seal.Key(unset)"
	}
	return "seal.Key(redacted, id " + k.ID() + ")"
}

// GoString describes k without its material, for %#v.
func (k Key) GoString() string { return k.String() }

// Format writes k's String for every verb (%v, %+v, %#v, %s, %x, %d, ...);
// %q quotes it.
func (k Key) Format(f fmt.State, verb rune) {
	s := k.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	io.WriteString(f, s)
}

// LogValue makes log/slog record k's String rather than marshal it.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON refuses: a Key is never part of a document.
func (Key) MarshalJSON() ([]byte, error) { return nil, ErrKeyNotMarshalable }

// MarshalText refuses: a Key is never part of a document.
func (Key) MarshalText() ([]byte, error) { return nil, ErrKeyNotMarshalable }

// MarshalBinary refuses, which also stops encoding/gob.
func (Key) MarshalBinary() ([]byte, error) { return nil, ErrKeyNotMarshalable }
