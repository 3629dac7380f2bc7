package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestParseKeyAcceptsHexAndBase64(t *testing.T) {
	k, raw := newTestKey(t)
	hexKey := hex.EncodeToString(raw)
	for name, s := range map[string]string{
		"hex":                   hexKey,
		"upper-case hex":        strings.ToUpper(hexKey),
		"hex file with newline": hexKey + "\n",
		"base64":                base64.StdEncoding.EncodeToString(raw),
		"base64 with spaces":    "  " + base64.StdEncoding.EncodeToString(raw) + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			parsed, err := ParseKey(s)
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if parsed.ID() != k.ID() {
				t.Errorf("key id %s, want %s", parsed.ID(), k.ID())
			}
			// The same key: what one seals, the other opens.
			got, err := Open(parsed, mustSeal(t, k, secretShare, 3, "g"), 3, "g")
			if err != nil || !bytes.Equal(got, secretShare) {
				t.Errorf("Open with the key parsed from %s: %q, %v", name, got, err)
			}
		})
	}
}

func TestKeyIDIsSHA256Prefix(t *testing.T) {
	// echo -n 000102...1f | xxd -r -p | sha256sum → 630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd
	k, err := ParseKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	if err != nil {
		t.Fatal(err)
	}
	if want := "630dcd2966c43366"; k.ID() != want {
		t.Errorf("ID = %s, want %s", k.ID(), want)
	}
}

func TestParseKeyErrorsDoNotEchoTheInput(t *testing.T) {
	_, raw := newTestKey(t)
	hexKey := hex.EncodeToString(raw)
	b64Key := base64.StdEncoding.EncodeToString(raw)
	for _, tc := range []struct {
		name, input string
		want        error
		says        string
	}{
		{"empty", "", ErrNoKey, EnvVar},
		{"white space", " \n\t", ErrNoKey, "openssl rand -hex 32"},
		{"hex one digit short", hexKey[1:], ErrInvalidKey, "it has 63 characters"},
		{"hex one digit long", hexKey + "0", ErrInvalidKey, "it has 65 characters"},
		{"hex with a non-hex digit", hexKey[:40] + "g" + hexKey[41:], ErrInvalidKey, "is not hex"},
		{"two keys", hexKey + " " + hexKey, ErrInvalidKey, "want 64 hex digits or 44 base64 characters"},
		{"base64 with a bad character", b64Key[:10] + "*" + b64Key[11:], ErrInvalidKey, "not standard base64"},
		{"base64 of 31 bytes", base64.StdEncoding.EncodeToString(raw[:31]), ErrInvalidKey, "not standard base64 of 32 bytes"},
		{"unpadded base64", base64.RawStdEncoding.EncodeToString(raw), ErrInvalidKey, "it has 43 characters"},
		{"base64 of 33 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(raw), 1)), ErrInvalidKey, "it has 44 characters"},
		{"all zeros", strings.Repeat("0", 64), ErrInvalidKey, "all zero"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(tc.input)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseKey = %v, %v; want an error wrapping %q", k, err, tc.want)
			}
			if !k.IsZero() {
				t.Error("ParseKey returned a key along with its error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.says) {
				t.Errorf("error %q does not say %q", msg, tc.says)
			}
			assertNoLeak(t, "ParseKey error", msg, raw)
			if trimmed := strings.TrimSpace(tc.input); len(trimmed) >= 8 && strings.Contains(msg, trimmed[:8]) {
				t.Errorf("error %q echoes the input", msg)
			}
		})
	}
}

func TestKeyFromEnv(t *testing.T) {
	k, raw := newTestKey(t)

	t.Setenv(EnvVar, "")
	if _, err := KeyFromEnv(); !errors.Is(err, ErrNoKey) {
		t.Errorf("with %s empty: %v, want ErrNoKey", EnvVar, err)
	}

	t.Setenv(EnvVar, hex.EncodeToString(raw)[2:])
	_, err := KeyFromEnv()
	if !errors.Is(err, ErrInvalidKey) || !strings.HasPrefix(err.Error(), EnvVar+": ") {
		t.Errorf("with a short key: %v, want ErrInvalidKey naming %s", err, EnvVar)
	}
	if err != nil {
		assertNoLeak(t, "KeyFromEnv error", err.Error(), raw)
	}

	t.Setenv(EnvVar, hex.EncodeToString(raw)+"\n")
	got, err := KeyFromEnv()
	if err != nil || got.ID() != k.ID() {
		t.Errorf("KeyFromEnv = %v, %v; want the key with id %s", got, err, k.ID())
	}
}

func TestErrNoKeyTellsHowToSetAKey(t *testing.T) {
	for _, want := range []string{EnvVar, "openssl rand -hex 32", "head -c32 /dev/urandom | xxd -p -c64"} {
		if !strings.Contains(ErrNoKey.Error(), want) {
			t.Errorf("ErrNoKey %q does not say %q", ErrNoKey, want)
		}
	}
}

func TestKeyNeverFormatsItsMaterial(t *testing.T) {
	k, raw := newTestKey(t)
	type exported struct{ Key Key }
	type unexported struct{ key Key }
	values := map[string]any{
		"Key":                         k,
		"*Key":                        &k,
		"struct with Key field":       exported{k},
		"struct with unexported Key":  unexported{k},
		"*struct with unexported Key": &unexported{k},
		"[]Key":                       []Key{k},
		"map of Key":                  map[string]Key{"k": k},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			assertNoLeak(t, name+" with "+verb, fmt.Sprintf(verb, v), raw)
		}
	}
	for _, verb := range []string{"%v", "%+v", "%s", "%d", "%x"} {
		if got := fmt.Sprintf(verb, k); got != k.String() {
			t.Errorf("Sprintf(%q, key) = %q, want %q", verb, got, k.String())
		}
	}
	if got, want := fmt.Sprintf("%#v", k), k.GoString(); got != want {
		t.Errorf("%%#v = %q, want %q", got, want)
	}
	if !strings.Contains(k.String(), "redacted") || !strings.Contains(k.String(), k.ID()) {
		t.Errorf("String = %q, want it to say redacted and give the key id", k.String())
	}
	if got := (Key{}).String(); got != "seal.Key(unset)" {
		t.Errorf("zero Key String = %q", got)
	}
}

func TestKeyRefusesMarshalling(t *testing.T) {
	k, raw := newTestKey(t)
	check := func(what string, out []byte, err error) {
		t.Helper()
		if !errors.Is(err, ErrKeyNotMarshalable) {
			t.Errorf("%s: %q, %v; want ErrKeyNotMarshalable", what, out, err)
		}
		if err != nil {
			assertNoLeak(t, what+" error", err.Error(), raw)
		}
		assertNoLeak(t, what+" output", string(out), raw)
	}
	out, err := json.Marshal(k)
	check("json.Marshal(key)", out, err)
	out, err = json.Marshal(struct{ Key Key }{k})
	check("json.Marshal(struct)", out, err)
	out, err = k.MarshalText()
	check("MarshalText", out, err)
	out, err = k.MarshalBinary()
	check("MarshalBinary", out, err)
	var buf bytes.Buffer
	err = gob.NewEncoder(&buf).Encode(k)
	check("gob", buf.Bytes(), err)
}

func TestKeyLogsRedacted(t *testing.T) {
	k, raw := newTestKey(t)
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("loaded", "key", k, "ptr", &k, slog.Group("cfg", "key", k))
	}
	logs := buf.String()
	assertNoLeak(t, "slog output", logs, raw)
	if n := strings.Count(logs, "redacted, id "+k.ID()); n != 6 {
		t.Errorf("slog output has %d redacted keys, want 6:\n%s", n, logs)
	}
}
