package record

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/tallyq/tallyq/eg"
)

// maxHexDigits bounds the hex text of one element so a hostile record cannot make the
// decoder allocate without limit: a 4096-bit element has 1024 digits.
const maxHexDigits = 1100

// Hex is a group element or exponent as the 0.95 record writes it: {"data": "<hex>"}.
// It is the wire form only; converting it to an element of a group range-checks it.
// The zero value is the number 0.
type Hex struct {
	n *big.Int
}

// HexFromBig returns the record form of n (which must not be negative).
func HexFromBig(n *big.Int) Hex { return Hex{n: new(big.Int).Set(n)} }

// ParseHex parses hex digits as the record writes them (either case, no prefix).
func ParseHex(s string) (Hex, error) {
	if s == "" {
		return Hex{}, errors.New("empty hex string")
	}
	if len(s) > maxHexDigits {
		return Hex{}, fmt.Errorf("hex string of %d digits is longer than any element (%d)", len(s), maxHexDigits)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return Hex{}, fmt.Errorf("hex string has a non-hex character at offset %d", i)
		}
	}
	// Decoding bytes is several times faster than big.Int.SetString.
	digits := s
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	raw, err := hex.DecodeString(digits)
	if err != nil {
		return Hex{}, errors.New("hex string does not parse")
	}
	return Hex{n: new(big.Int).SetBytes(raw)}, nil
}

// MustParseHex is ParseHex for constants in tests and examples; it panics on bad input.
func MustParseHex(s string) Hex {
	h, err := ParseHex(s)
	if err != nil {
		panic(err)
	}
	return h
}

// Big returns a copy of the value.
func (h Hex) Big() *big.Int {
	if h.n == nil {
		return new(big.Int)
	}
	return new(big.Int).Set(h.n)
}

// String returns the value as electionguard-python 1.x's to_hex writes it: upper-case,
// minimal length, padded with one leading zero to an even length.
func (h Hex) String() string { return string(eg.AppendHex(nil, h.value())) }

// value is the number, never nil; callers must not change it.
func (h Hex) value() *big.Int {
	if h.n == nil {
		return new(big.Int)
	}
	return h.n
}

// Equal reports whether two values are the same number.
func (h Hex) Equal(o Hex) bool { return h.value().Cmp(o.value()) == 0 }

type hexJSON struct {
	Data *string `json:"data"`
}

// MarshalJSON writes {"data": "<hex>"}.
func (h Hex) MarshalJSON() ([]byte, error) {
	out := append(make([]byte, 0, 12+2*(h.value().BitLen()+7)/8), `{"data":"`...)
	return append(eg.AppendHex(out, h.value()), `"}`...), nil
}

// UnmarshalJSON reads {"data": "<hex>"}.
func (h *Hex) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return errors.New(`element is null; want {"data": "<hex>"}`)
	}
	if digits, ok := plainHexJSON(b); ok {
		v, err := ParseHex(digits)
		if err != nil {
			return fmt.Errorf("element: %w", err)
		}
		*h = v
		return nil
	}
	var w hexJSON
	if err := json.Unmarshal(b, &w); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return elementTypeError{typ}
		}
		return fmt.Errorf("element: %w", err)
	}
	if w.Data == nil {
		return errors.New(`element has no "data" field`)
	}
	v, err := ParseHex(*w.Data)
	if err != nil {
		return fmt.Errorf("element: %w", err)
	}
	*h = v
	return nil
}

// elementTypeError is an element of the wrong JSON type. It says what to send
// where encoding/json would name our wire type, and unwraps to encoding/json's
// error, which says where it is.
type elementTypeError struct{ typ *json.UnmarshalTypeError }

func (e elementTypeError) Error() string {
	return fmt.Sprintf(`element is a JSON %s; want {"data": "<hex>"}`, e.typ.Value)
}

func (e elementTypeError) Unwrap() error { return e.typ }

// plainHexJSON returns the digits of b when it is exactly {"data":"<digits>"} (spaces
// allowed around the tokens, no escapes), the form every record writes, which is read
// without the reflection of encoding/json; anything else takes the general path.
func plainHexJSON(b []byte) (string, bool) {
	rest, ok := cutToken(b, "{")
	if ok {
		rest, ok = cutToken(rest, `"data"`)
	}
	if ok {
		rest, ok = cutToken(rest, ":")
	}
	if ok {
		rest, ok = cutToken(rest, `"`)
	}
	if !ok {
		return "", false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", false
	}
	tail := bytes.TrimSpace(rest[end+1:])
	if len(tail) != 1 || tail[0] != '}' {
		return "", false
	}
	return string(rest[:end]), true
}

// cutToken removes leading spaces and then tok from b.
func cutToken(b []byte, tok string) ([]byte, bool) {
	return bytes.CutPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte(tok))
}

// Ciphertext is an ElGamal ciphertext as the record writes it.
type Ciphertext struct {
	Pad  Hex `json:"pad"`
	Data Hex `json:"data"`
}

// Equal reports whether two ciphertexts are the same pair.
func (c Ciphertext) Equal(o Ciphertext) bool { return c.Pad.Equal(o.Pad) && c.Data.Equal(o.Data) }

// keyed is an element of a JSON object whose keys are one of the element's own fields.
type keyed interface{ recordKey() string }

// Keyed is a JSON object of records keyed by their ids (python's dicts), kept in the
// record's order so a record reads back and writes out in the same order.
type Keyed[T keyed] []T

// MarshalJSON writes the records as one object, keyed by their ids, in slice order;
// a nil Keyed is null, an empty one {}.
func (k Keyed[T]) MarshalJSON() ([]byte, error) {
	if k == nil {
		return []byte("null"), nil
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, v := range k {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, err := json.Marshal(v.recordKey())
		if err != nil {
			return nil, err
		}
		val, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads an object of records, checking each key names its record.
func (k *Keyed[T]) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*k = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		// The kind, never the value: a private record's errors must not
		// quote what it holds.
		return fmt.Errorf("want a JSON object keyed by id, got %s", tokenKind(tok))
	}
	out := Keyed[T]{}
	seen := map[string]bool{}
	// Entries are named by position, not key: a private record's errors
	// must not quote what it holds.
	for n := 1; dec.More(); n++ {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v T
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("entry %d: %w", n, err)
		}
		if v.recordKey() != key {
			return fmt.Errorf("entry %d: its key is not the id of the record it holds", n)
		}
		if seen[key] {
			return fmt.Errorf("entry %d: its key appears twice", n)
		}
		seen[key] = true
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	*k = out
	return nil
}

// tokenKind names the kind of a JSON token from json.Decoder.Token.
func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "a " + string(v)
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an unexpected token"
}

// Get returns the record with the given id.
func (k Keyed[T]) Get(id string) (T, bool) {
	for _, v := range k {
		if v.recordKey() == id {
			return v, true
		}
	}
	var zero T
	return zero, false
}
