package eg

import (
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fixtureDir returns ../shared/fixtures/electionguard-0.95/<name> relative to
// the repository root, skipping (or failing in CI) when it is absent.
func fixtureDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
	fixture := filepath.Join(dir, "..", "shared", "fixtures", "electionguard-0.95", name)
	if _, err := os.Stat(fixture); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixture %s missing: %v", fixture, err)
		}
		t.Skipf("fixture %s missing (%v); skipping", fixture, err)
	}
	return fixture
}

// jsonDoc is a decoded JSON value with helpers that fail the test on a
// missing key instead of returning zero values.
type jsonDoc struct {
	t testing.TB
	v any
}

func loadJSON(t testing.TB, path string) jsonDoc {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return jsonDoc{t: t, v: v}
}

// at follows object keys and array indexes (as decimal strings).
func (d jsonDoc) at(path ...string) jsonDoc {
	d.t.Helper()
	cur := d.v
	for _, k := range path {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[k]
			if !ok {
				d.t.Fatalf("JSON has no key %q", k)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				d.t.Fatalf("JSON array has no index %q", k)
			}
			cur = c[i]
		default:
			d.t.Fatalf("JSON value at %q is not a container", k)
		}
	}
	return jsonDoc{t: d.t, v: cur}
}

func (d jsonDoc) list() []jsonDoc {
	d.t.Helper()
	arr, ok := d.v.([]any)
	if !ok {
		d.t.Fatalf("JSON value is %T, not an array", d.v)
	}
	out := make([]jsonDoc, len(arr))
	for i, v := range arr {
		out[i] = jsonDoc{t: d.t, v: v}
	}
	return out
}

func (d jsonDoc) keys() []string {
	d.t.Helper()
	m, ok := d.v.(map[string]any)
	if !ok {
		d.t.Fatalf("JSON value is %T, not an object", d.v)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (d jsonDoc) str() string {
	d.t.Helper()
	s, ok := d.v.(string)
	if !ok {
		d.t.Fatalf("JSON value is %T, not a string", d.v)
	}
	return s
}

func (d jsonDoc) bigInt() *big.Int {
	d.t.Helper()
	n, ok := d.v.(json.Number)
	if !ok {
		d.t.Fatalf("JSON value is %T, not a number", d.v)
	}
	x, ok := new(big.Int).SetString(n.String(), 10)
	if !ok {
		d.t.Fatalf("bad integer %s", n)
	}
	return x
}

func (d jsonDoc) integer() int {
	d.t.Helper()
	return int(d.bigInt().Int64())
}

// p decodes {"data": hex} as an ElementModP.
func (d jsonDoc) p(g *Group) ElementModP {
	d.t.Helper()
	x, err := g.ElementModPFromHex(d.at("data").str())
	if err != nil {
		d.t.Fatal(err)
	}
	return x
}

// q decodes {"data": hex} as an ElementModQ.
func (d jsonDoc) q(g *Group) ElementModQ {
	d.t.Helper()
	x, err := g.ElementModQFromHex(d.at("data").str())
	if err != nil {
		d.t.Fatal(err)
	}
	return x
}

func (d jsonDoc) ciphertext(g *Group) Ciphertext {
	return Ciphertext{Pad: d.at("pad").p(g), Data: d.at("data").p(g)}
}

func (d jsonDoc) disjunctive(g *Group) DisjunctiveProof {
	return DisjunctiveProof{
		Proof0Pad: d.at("proof_zero_pad").p(g), Proof0Data: d.at("proof_zero_data").p(g),
		Proof1Pad: d.at("proof_one_pad").p(g), Proof1Data: d.at("proof_one_data").p(g),
		Proof0Challenge: d.at("proof_zero_challenge").q(g), Proof1Challenge: d.at("proof_one_challenge").q(g),
		Challenge:      d.at("challenge").q(g),
		Proof0Response: d.at("proof_zero_response").q(g), Proof1Response: d.at("proof_one_response").q(g),
	}
}

func (d jsonDoc) constant(g *Group) ConstantProof {
	return ConstantProof{
		Pad: d.at("pad").p(g), Data: d.at("data").p(g),
		Challenge: d.at("challenge").q(g), Response: d.at("response").q(g),
		Constant: d.at("constant").integer(),
	}
}

func (d jsonDoc) chaumPedersen(g *Group) ChaumPedersenProof {
	return ChaumPedersenProof{
		Pad: d.at("pad").p(g), Data: d.at("data").p(g),
		Challenge: d.at("challenge").q(g), Response: d.at("response").q(g),
	}
}

func (d jsonDoc) schnorr(g *Group) SchnorrProof {
	return SchnorrProof{
		PublicKey: d.at("public_key").p(g), Commitment: d.at("commitment").p(g),
		Challenge: d.at("challenge").q(g), Response: d.at("response").q(g),
	}
}
