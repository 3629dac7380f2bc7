// Package secretscan looks for secret numbers in bytes, in every encoding a
// leak could take: hexadecimal in either case (with or without leading
// zeros, or padded to a fixed width), decimal, base64 (standard and URL
// alphabets, at any byte alignment inside a longer base64 text) and the raw
// big-endian bytes. Tests use it to show that guardian secrets reach no log,
// broker message, API response or database dump.
package secretscan

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"unicode"
)

// MinBytes is the shortest secret the scanner accepts: shorter values would
// match by chance.
const MinBytes = 8

// Needle is one encoding of one secret.
type Needle struct {
	// Secret names the secret, Encoding how it is written.
	Secret, Encoding string
	pattern          []byte
}

// Scanner holds the needles of the secrets it looks for.
type Scanner struct {
	needles []Needle
}

// Add adds every encoding of a secret number. widths are byte lengths the
// value may be padded to (such as the group's q and p sizes).
func (s *Scanner) Add(name string, x *big.Int, widths ...int) error {
	raw := x.Bytes()
	if len(raw) < MinBytes {
		return fmt.Errorf("secret %s is %d bytes; at least %d are needed for a meaningful scan", name, len(raw), MinBytes)
	}
	forms := map[string][]byte{"bytes": raw}
	for _, w := range widths {
		if w > len(raw) {
			padded := make([]byte, w)
			x.FillBytes(padded)
			forms[fmt.Sprintf("bytes padded to %d", w)] = padded
		}
	}
	for form, b := range forms {
		h := fmt.Sprintf("%x", b)
		s.add(name, "hex (lower case) of "+form, []byte(h))
		s.add(name, "hex (upper case) of "+form, []byte(strings.ToUpper(h)))
		s.add(name, "raw "+form, b)
		s.addBase64(name, form, b)
	}
	s.add(name, "decimal", []byte(x.String()))
	trimmed := strings.TrimLeft(fmt.Sprintf("%x", raw), "0")
	s.add(name, "hex without leading zeros", []byte(trimmed))
	s.add(name, "HEX without leading zeros", []byte(strings.ToUpper(trimmed)))
	return nil
}

// AddBytes adds a secret given as bytes (such as a key's PEM body).
func (s *Scanner) AddBytes(name string, b []byte) error {
	if len(b) < MinBytes {
		return fmt.Errorf("secret %s is %d bytes; at least %d are needed", name, len(b), MinBytes)
	}
	s.add(name, "raw", b)
	s.addBase64(name, "bytes", b)
	return nil
}

// addBase64 adds the base64 forms of b at each of the three alignments it
// can have inside a longer encoded text: the characters that depend on b
// alone.
func (s *Scanner) addBase64(name, form string, b []byte) {
	for shift := range 3 {
		buf := append(make([]byte, shift), b...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			text := strings.TrimRight(enc.EncodeToString(buf), "=")
			// Drop the characters mixed with the shift's filler and the
			// last, which may be mixed with what follows.
			start := (shift*8 + 5) / 6
			end := len(b)*8/6 + start - 1
			if end-start >= 8 && end <= len(text) {
				s.add(name, fmt.Sprintf("base64 of %s at offset %d", form, shift), []byte(text[start:end]))
			}
		}
	}
}

func (s *Scanner) add(name, encoding string, pattern []byte) {
	s.needles = append(s.needles, Needle{Secret: name, Encoding: encoding, pattern: pattern})
}

// Finding is a needle found in a haystack.
type Finding struct {
	Needle
	Where  string
	Offset int
}

func (f Finding) String() string {
	return fmt.Sprintf("%s (%s) in %s at byte %d", f.Secret, f.Encoding, f.Where, f.Offset)
}

// Scan returns every needle found in data, which where names.
func (s *Scanner) Scan(where string, data []byte) []Finding {
	var out []Finding
	for _, n := range s.needles {
		if i := bytes.Index(data, n.pattern); i >= 0 {
			out = append(out, Finding{Needle: n, Where: where, Offset: i})
		}
	}
	return out
}

// URLPassword returns the password of a URL as an operator writes it,
// unescaped: what stands between the first ':' after "//" and the last '@'
// of the authority; "" when there is none. Tests scan for it in errors and
// logs about the URL, whether or not the URL parses.
func URLPassword(raw string) string {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return ""
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pw, _ := strings.Cut(rest[:at], ":")
	return pw
}

// ShownPasswordPart returns a part of the password of raw, a URL as an
// operator writes it, that text shows: a run of 6 or more letters and
// digits holding both, which stands nowhere else in raw (so that text may
// name the URL's host or user). It returns "" when text shows none. Tests
// use it on the errors and logs about a URL that did not parse as meant.
func ShownPasswordPart(raw, password, text string) string {
	rest := strings.Replace(raw, password, "", 1)
	for _, part := range strings.FieldsFunc(password, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(part) < 6 || !strings.ContainsFunc(part, unicode.IsLetter) || !strings.ContainsFunc(part, unicode.IsDigit) ||
			strings.Contains(rest, part) {
			continue
		}
		if strings.Contains(text, part) {
			return part
		}
	}
	return ""
}
