package record

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"regexp"
	"strings"
	"testing"
)

// FuzzParseHex parses hex text as the record writes elements and as a
// ballot's tracking code arrives in GET .../ballots/{trackingCode}: it
// accepts exactly 1 to maxHexDigits hex digits, reads the number they
// write, and String and the JSON form read back to the same number.
func FuzzParseHex(f *testing.F) {
	for _, s := range []string{"0", "00", "0A", "a", "7172E9E2966CC7A9C6B74405A1F7C1BF1C8097C745E26F2ACAEE211FC19C4656", "", "0x1F",
		"-1", "1F ", "ＡＢ", strings.Repeat("F", maxHexDigits), strings.Repeat("0", maxHexDigits+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHex(s)
		want, ok := new(big.Int).SetString(s, 16)
		ok = ok && s != "" && len(s) <= maxHexDigits && strings.Trim(s, "0123456789abcdefABCDEF") == ""
		if err != nil {
			if ok || err.Error() == "" {
				t.Fatalf("ParseHex(%q): %v", s, err)
			}
			return
		}
		if !ok || h.Big().Cmp(want) != 0 {
			t.Fatalf("ParseHex(%q) = %s, want %v (accepted: %v)", s, h, want, ok)
		}
		text := h.String()
		if len(text)%2 != 0 || strings.ToUpper(text) != text || (len(text) > 2 && text[:2] == "00") {
			t.Fatalf("ParseHex(%q).String() = %q: not upper-case, minimal, of even length", s, text)
		}
		if back, err := ParseHex(text); err != nil || !back.Equal(h) {
			t.Fatalf("ParseHex(%q).String() = %q reads back as %s, %v", s, text, back, err)
		}
		raw, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back Hex
		if err := json.Unmarshal(raw, &back); err != nil || !back.Equal(h) {
			t.Fatalf("%q: the JSON %s reads back as %s, %v", s, raw, back, err)
		}
	})
}

// FuzzHexJSON decodes arbitrary JSON as an element: the fast path for
// {"data":"<hex>"} and encoding/json agree on every input, on the number
// and on whether it is an element at all.
func FuzzHexJSON(f *testing.F) {
	for _, s := range []string{`{"data":"0A"}`, ` { "data" : "ff" } `, `{"data":"0A","data":"0B"}`, `{"DATA":"0A"}`, `{"data":"\u0030A"}`,
		`{"data":null}`, `{"data":1}`, `{}`, `null`, `"0A"`, `{"data":"0A","other":1}`, `{"data":"0A"}}`, `{"data":"xyz"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Hex
		err := json.Unmarshal(b, &h)
		var ref struct {
			Data *string `json:"data"`
		}
		refErr := json.Unmarshal(b, &ref)
		var want Hex
		if refErr == nil {
			if ref.Data == nil || bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
				refErr = os.ErrInvalid
			} else {
				want, refErr = ParseHex(*ref.Data)
			}
		}
		if (err == nil) != (refErr == nil) || (err == nil && !h.Equal(want)) {
			t.Fatalf("%s decodes to %s, %v; encoding/json reads %s, %v", b, h, err, want, refErr)
		}
		if err != nil && strings.TrimSpace(err.Error()) == "" {
			t.Fatalf("%s: an empty error", b)
		}
	})
}

// privateTemplate is a small private guardian record whose secret values
// are the slots {0} … {5}: the election secret key, a polynomial
// coefficient, the auxiliary RSA key, the backups to share and received
// (Keyed objects), and a backup's encrypted value.
const privateTemplate = `{"guardian_id":"1",
 "election_keys":{"owner_id":"1","sequence_order":1,"key_pair":{"secret_key":{0},"public_key":{"data":"0B"}},
  "polynomial":{"coefficients":[{"value":{1},"commitment":{"data":"0B"},
   "proof":{"public_key":{"data":"0B"},"commitment":{"data":"0C"},"challenge":{"data":"0D"},"response":{"data":"0E"},"usage":"Prove knowledge of secret value"}}]}},
 "auxiliary_keys":{"owner_id":"1","sequence_order":1,"secret_key":{2},"public_key":"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"},
 "backups_to_share":{3},
 "guardian_auxiliary_public_keys":{"2":{"owner_id":"2","sequence_order":2,"key":"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"}},
 "guardian_election_public_keys":{},
 "guardian_election_partial_key_backups":{4},
 "guardian_election_partial_key_verifications":{"2":{"owner_id":"1","designated_id":"2","verifier_id":"2","verified":true}}}`

// privateDefaults are the slots' values in a valid record.
var privateDefaults = []string{
	`{"data":"0A"}`,
	`{"data":"0C"}`,
	`"-----BEGIN RSA PRIVATE KEY-----\nMIIJKA\n-----END RSA PRIVATE KEY-----\n"`,
	`{"2":{"owner_id":"1","designated_id":"2","designated_sequence_order":2,"encrypted_value":{5}}}`,
	`{"2":{"owner_id":"2","designated_id":"1","designated_sequence_order":1,"encrypted_value":"CD"}}`,
	`"AB12"`,
}

var (
	// secretAsKey finds the secret in the position of an object key.
	secretAsKey = regexp.MustCompile(`\$SECRET[^"]*"\s*:`)
	// secretAsID finds the secret in the value of an id field, which
	// messages name records by.
	secretAsID = regexp.MustCompile(`"(owner_id|designated_id|verifier_id|guardian_id)"\s*:\s*"[^"]*\$SECRET`)
)
