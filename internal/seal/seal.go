package seal

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the format version of blobs that Seal writes, their first byte.
const Version byte = 1

// adContext names what a sealed blob is, so that a blob made by other code
// under the same key cannot be passed off as a guardian secret.
const adContext = "tallyq guardian secret v1"

const (
	headerSize = 1 + KeyIDSize // version, key id
	nonceSize  = 12
	tagSize    = 16
)

// Overhead is how many bytes Seal adds to a plaintext: version byte, key id,
// 96-bit nonce and 128-bit GCM tag.
const Overhead = headerSize + nonceSize + tagSize

// Errors of Open. Each error Open returns wraps one of these, or ErrNoKey.
var (
	// ErrTruncated reports a blob too short to be sealed data.
	ErrTruncated = errors.New("sealed secret is truncated")
	// ErrUnknownVersion reports a blob whose version byte this build does not read.
	ErrUnknownVersion = errors.New("sealed secret has an unknown format version")
	// ErrWrongKey reports a blob sealed under a key other than the one given.
	ErrWrongKey = errors.New("sealed under a different key")
	// ErrNotAuthentic reports a blob that fails authentication: it was sealed
	// for another election or guardian, or it was altered.
	ErrNotAuthentic = errors.New("sealed secret does not authenticate: it belongs to another election or guardian, or was altered")
)

// Seal encrypts plaintext with AES-256-GCM under key, for the guardian
// guardianID of election electionID, and returns
//
//	version (1 byte) || key id (8 bytes) || nonce (12 bytes) || ciphertext || tag (16 bytes)
//
// with a fresh random nonce from crypto/rand. The additional data binds the
// header, a fixed context string, the election and the guardian, so the blob
// opens only with the same key, election and guardian. One key must not seal
// more than 2^32 blobs (random nonces); tallyq seals a few per guardian.
func Seal(key Key, plaintext []byte, electionID int64, guardianID string) ([]byte, error) {
	if key.IsZero() {
		return nil, ErrNoKey
	}
	out := make([]byte, headerSize, Overhead+len(plaintext))
	out[0] = Version
	copy(out[1:headerSize], key.m.id[:])
	return key.m.aead.Seal(out, nil, plaintext, additionalData(out[:headerSize], electionID, guardianID)), nil
}

// Open decrypts a blob made by Seal for the same election and guardian.
// Its errors say why the blob does not open (see ErrTruncated,
// ErrUnknownVersion, ErrWrongKey, ErrNotAuthentic) and never contain
// plaintext or key material. The caller owns the plaintext and should Wipe it
// once used.
func Open(key Key, sealed []byte, electionID int64, guardianID string) ([]byte, error) {
	if key.IsZero() {
		return nil, ErrNoKey
	}
	if err := checkHeader(key, sealed); err != nil {
		return nil, fmt.Errorf("open secret of election %d, guardian %q: %w", electionID, guardianID, err)
	}
	ad := additionalData(sealed[:headerSize], electionID, guardianID)
	plaintext, err := key.m.aead.Open(nil, nil, sealed[headerSize:], ad)
	if err != nil {
		// GCM's error says only "message authentication failed"; ours says why that happens.
		return nil, fmt.Errorf("open secret of election %d, guardian %q: %w", electionID, guardianID, ErrNotAuthentic)
	}
	return plaintext, nil
}

func checkHeader(key Key, sealed []byte) error {
	if len(sealed) == 0 {
		return fmt.Errorf("%w: it is empty", ErrTruncated)
	}
	if sealed[0] != Version {
		return fmt.Errorf("%w: version %d (this build reads version %d)", ErrUnknownVersion, sealed[0], Version)
	}
	if len(sealed) < Overhead {
		return fmt.Errorf("%w: %d bytes, fewer than the %d of an empty secret", ErrTruncated, len(sealed), Overhead)
	}
	if id := sealed[1:headerSize]; string(id) != string(key.m.id[:]) {
		return fmt.Errorf("%w: it was sealed under key id %x, but %s has key id %s; set the key it was sealed with",
			ErrWrongKey, id, EnvVar, key.ID())
	}
	return nil
}

// additionalData encodes header || context || election || guardian with the
// variable-length fields length-prefixed, so no two (election, guardian)
// pairs share an encoding.
func additionalData(header []byte, electionID int64, guardianID string) []byte {
	ad := make([]byte, 0, len(header)+8+len(adContext)+8+8+len(guardianID))
	ad = append(ad, header...)
	ad = appendString(ad, adContext)
	ad = binary.BigEndian.AppendUint64(ad, uint64(electionID))
	return appendString(ad, guardianID)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}
