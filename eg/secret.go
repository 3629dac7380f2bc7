package eg

import (
	"errors"
	"fmt"
)

// Secret holds a secret ElementModQ — a guardian's election secret key s_i or
// a decrypted backup value P_l(i) — so that it cannot be printed, logged or
// encoded by accident: every formatting verb shows "[redacted]" and JSON or
// text encoding fails. Reveal returns the value for computing with it.
type Secret struct {
	v ElementModQ
}

// NewSecret wraps x.
func NewSecret(x ElementModQ) Secret { return Secret{v: x} }

// Reveal returns the secret value.
func (s Secret) Reveal() ElementModQ { return s.v }

// String returns "[redacted]".
func (s Secret) String() string { return "[redacted]" }

// GoString returns "eg.Secret{[redacted]}".
func (s Secret) GoString() string { return "eg.Secret{[redacted]}" }

// Format writes "[redacted]" for every verb.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

var errSecretEncoding = errors.New("eg: refusing to encode a secret value")

// MarshalJSON refuses: secrets are sealed by their owner, never encoded here.
func (s Secret) MarshalJSON() ([]byte, error) { return nil, errSecretEncoding }

// MarshalText refuses for the same reason.
func (s Secret) MarshalText() ([]byte, error) { return nil, errSecretEncoding }
