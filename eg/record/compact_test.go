package record

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tallyq/tallyq/eg"
)

// compactRoundTrip encodes b, decodes it, checks that the result encodes to the same
// bytes and to the same JSON as b, and returns it with its encoding.
func compactRoundTrip(t *testing.T, g *eg.Group, b *SubmittedBallot) (*SubmittedBallot, []byte) {
	t.Helper()
	data, err := EncodeCompact(g, b)
	if err != nil {
		t.Fatalf("EncodeCompact(%s): %v", b.ObjectID, err)
	}
	got, err := DecodeCompact(g, data)
	if err != nil {
		t.Fatalf("DecodeCompact(%s): %v", b.ObjectID, err)
	}
	again, err := EncodeCompact(g, got)
	if err != nil {
		t.Fatalf("re-encoding %s: %v", b.ObjectID, err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("%s: the decoded ballot encodes to different bytes", b.ObjectID)
	}
	if want, have := mustMarshal(t, b), mustMarshal(t, got); !bytes.Equal(want, have) {
		t.Errorf("%s: the decoded ballot's JSON differs from the original's:\n%s\n%s", b.ObjectID, want, have)
	}
	return got, data
}

// sameValidation checks that validating the decoded ballot gives what validating the
// original gives: both nil, or the same error.
func sameValidation(t *testing.T, e *Election, original, decoded *SubmittedBallot) error {
	t.Helper()
	want, got := e.ValidateBallot(original), e.ValidateBallot(decoded)
	if (want == nil) != (got == nil) || want != nil && want.Error() != got.Error() {
		t.Errorf("%s: validation of the original gives %v, of the decoded ballot %v", original.ObjectID, want, got)
	}
	return want
}

// TestCompactFixtureBallots round-trips every submitted ballot (cast and spoiled) of both
// fixtures, and the private ciphertext ballots that still carry their nonces, through the
// 4096-bit compact form: same JSON, same bytes again, same validation result.
func TestCompactFixtureBallots(t *testing.T) {
	spoiled := 0
	for _, set := range fixtureSets {
		t.Run(set, func(t *testing.T) {
			fx := loadFixture(t, set)
			states := map[BallotState]int{}
			for _, b := range fx.ballots {
				got, data := compactRoundTrip(t, standard, b)
				if err := sameValidation(t, fx.election, b, got); err != nil {
					t.Errorf("%s: the fixture ballot is invalid: %v", b.ObjectID, err)
				}
				if js := mustMarshal(t, b); len(data) >= len(js)/2 {
					t.Errorf("%s: compact form is %d bytes, its JSON %d", b.ObjectID, len(data), len(js))
				}
				states[b.State]++
			}
			t.Logf("%s: %d cast, %d spoiled ballots", set, states[BallotCast], states[BallotSpoiled])
			spoiled += states[BallotSpoiled]
			n := 0
			for b, err := range eachJSON[SubmittedBallot](os.DirFS(privateDir(t, set)), "ciphertext_ballots") {
				if err != nil {
					t.Fatal(err)
				}
				n++
				got, _ := compactRoundTrip(t, standard, b)
				var be *BallotError
				if err := sameValidation(t, fx.election, b, got); !errors.As(err, &be) || be.Check != CheckNonce {
					t.Errorf("%s: got %v, want the nonce check to fail", b.ObjectID, err)
				}
			}
			if n == 0 {
				t.Fatal("no private ciphertext ballots")
			}
		})
	}
	if spoiled == 0 && !t.Skipped() {
		t.Error("no spoiled ballot was checked")
	}
}

// TestCompactTamperedBallots: every tampered ballot of the validation tests gives the
// same validation error after a round trip; one whose value the group cannot hold
// (β not below p) cannot be encoded, and the error names the field.
func TestCompactTamperedBallots(t *testing.T) {
	gen := generatedElection(t)
	valid := wardBallot(t, gen)
	for _, tc := range tampers {
		b := clone(t, valid)
		tc.apply(t, gen, b)
		if _, err := EncodeCompact(gen.g, b); err != nil {
			var be *BallotError
			if !errors.As(gen.election.ValidateBallot(b), &be) || be.Check != CheckSubgroup {
				t.Errorf("%s: EncodeCompact refused a ballot that validation does not reject for its range: %v", tc.name, err)
			}
			if !strings.Contains(err.Error(), "contests[0].ballot_selections[1].ciphertext.data") {
				t.Errorf("%s: the error does not name the field: %v", tc.name, err)
			}
			continue
		}
		got, _ := compactRoundTrip(t, gen.g, b)
		sameValidation(t, gen.election, b, got)
	}
	ballots, _, _ := encryptBallots(t, gen, 6, 3)
	for _, b := range ballots {
		got, _ := compactRoundTrip(t, gen.g, b)
		if err := sameValidation(t, gen.election, b, got); err != nil {
			t.Errorf("a generated ballot is invalid: %v", err)
		}
	}
}

// compactSample is a ballot of g that uses every option of the format: nonces, extended
// data, a null and an empty list, negative numbers, a non-ASCII id and the unknown state.
// Its values are arbitrary: the codec does not validate.
func compactSample(g *eg.Group) *SubmittedBallot {
	pm1, qm1 := new(big.Int).Sub(g.P(), big.NewInt(1)), new(big.Int).Sub(g.Q(), big.NewInt(1))
	p, q := HexFromBig(pm1), HexFromBig(qm1)
	small := MustParseHex("07")
	ct := Ciphertext{Pad: p, Data: MustParseHex("01")}
	proof := &DisjunctiveProof{ProofZeroPad: p, ProofZeroData: small, ProofOnePad: ct.Data, ProofOneData: p,
		ProofZeroChallenge: q, ProofOneChallenge: small, Challenge: q, ProofZeroResponse: Hex{}, ProofOneResponse: q,
		Usage: eg.UsageSelectionValue}
	return &SubmittedBallot{
		ObjectID: "bällot-1", StyleID: "style", ManifestHash: q, CodeSeed: small,
		Contests: []BallotContest{
			{ObjectID: "c0", SequenceOrder: -3, DescriptionHash: q, BallotSelections: []BallotSelection{
				{ObjectID: "s0", SequenceOrder: 1 << 30, DescriptionHash: small, Ciphertext: ct, CryptoHash: q, Proof: proof},
				{ObjectID: "s1", Ciphertext: ct, CryptoHash: q, IsPlaceholderSelection: true, Nonce: &small, ExtendedData: &ct},
			}, CiphertextAccumulation: ct, CryptoHash: q, Nonce: &q,
				Proof: &ConstantProof{Pad: p, Data: small, Challenge: q, Response: small, Constant: -1, Usage: "ü"}},
			{ObjectID: "c1", BallotSelections: []BallotSelection{}, CiphertextAccumulation: ct},
			{ObjectID: "c2"},
		},
		Code: q, Timestamp: -1642028797, CryptoHash: small, Nonce: &q, State: BallotUnknown,
	}
}

func TestCompactCarriesEveryField(t *testing.T) {
	for _, g := range []*eg.Group{eg.TestGroup(), standard} {
		b := compactSample(g)
		got, data := compactRoundTrip(t, g, b)
		if got.Contests[1].BallotSelections == nil || got.Contests[2].BallotSelections != nil {
			t.Errorf("%s group: an empty list and a null one are not told apart", g.Name())
		}
		if data[0] != CompactVersion {
			t.Errorf("%s group: first byte %d, want the version %d", g.Name(), data[0], CompactVersion)
		}
		empty, data := compactRoundTrip(t, g, &SubmittedBallot{State: BallotCast})
		if empty.Contests != nil {
			t.Errorf("%s group: null contests decode as %v", g.Name(), empty.Contests)
		}
		// version, 2 widths, 2 empty strings, 4 Q, null contests and nonce, a 1-byte
		// timestamp and state.
		qLen := (g.Q().BitLen() + 7) / 8
		widths := len(binary.AppendUvarint(nil, uint64(g.PByteLen()))) + len(binary.AppendUvarint(nil, uint64(qLen)))
		if want := 1 + widths + 2 + 4*qLen + 4; len(data) != want {
			t.Errorf("%s group: an empty ballot takes %d bytes, want %d", g.Name(), len(data), want)
		}
	}
}

func TestEncodeCompactRejects(t *testing.T) {
	g := eg.TestGroup()
	for _, tc := range []struct {
		name   string
		mutate func(b *SubmittedBallot)
		want   string
	}{
		{"element not below p", func(b *SubmittedBallot) {
			b.Contests[0].BallotSelections[1].Proof = &DisjunctiveProof{ProofOnePad: HexFromBig(g.P())}
		}, "contests[0].ballot_selections[1].proof.proof_one_pad: value is not in [0, p)"},
		{"element not below q", func(b *SubmittedBallot) { b.Contests[0].Proof.Response = HexFromBig(g.Q()) },
			"contests[0].proof.response: value is not in [0, q)"},
		{"negative element", func(b *SubmittedBallot) { b.CodeSeed = HexFromBig(big.NewInt(-1)) }, "code_seed: value is not in [0, q)"},
		{"state", func(b *SubmittedBallot) { b.State = 3 }, "state: state 3 is not"},
		{"not UTF-8", func(b *SubmittedBallot) { b.Contests[1].ObjectID = "c\xff" }, "contests[1].object_id: string is not valid UTF-8"},
	} {
		b := compactSample(g)
		tc.mutate(b)
		if _, err := EncodeCompact(g, b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := EncodeCompact(g, nil); err == nil {
		t.Error("a nil ballot encodes")
	}
}

// splice returns data with data[at:at+n] replaced by repl.
func splice(data []byte, at, n int, repl ...byte) []byte {
	out := append([]byte(nil), data[:at]...)
	out = append(out, repl...)
	return append(out, data[at+n:]...)
}

// TestDecodeCompactRejects corrupts a valid encoding in each way the format forbids
// and checks the error names the field and its offset.
func TestDecodeCompactRejects(t *testing.T) {
	g := eg.TestGroup()
	b := compactSample(g)
	data, err := EncodeCompact(g, b)
	if err != nil {
		t.Fatal(err)
	}
	pLen, qLen := g.PByteLen(), (g.Q().BitLen()+7)/8
	idAt := 3                                                 // after the version and the two widths
	hashAt := idAt + 1 + len(b.ObjectID) + 1 + len(b.StyleID) // manifest_hash
	contestsAt := hashAt + 2*qLen                             // the contests' presence flag
	// The first selection's proof is the first presence flag 1 followed by p − 1
	// (proof_zero_pad) and the leading zeros of 7 (proof_zero_data).
	pm1 := HexFromBig(new(big.Int).Sub(g.P(), big.NewInt(1))).Big().FillBytes(make([]byte, pLen))
	proofAt := bytes.Index(data, append(append([]byte{1}, pm1...), make([]byte, pLen-1)...)) + 1
	if proofAt <= 0 {
		t.Fatal("the first selection proof is not in the encoding")
	}
	ff := func(n int) []byte { return bytes.Repeat([]byte{0xff}, n) }
	for _, tc := range []struct {
		name   string
		data   []byte
		field  string
		offset int
		want   string
	}{
		{"empty", nil, "version", 0, "truncated"},
		{"wrong version", splice(data, 0, 1, 2), "version", 0, "format version 2"},
		{"other group", splice(data, 1, 1, 64), "width of p", 1, "64-byte elements"},
		{"trailing byte", append(bytes.Clone(data), 0), "end of ballot", len(data), "1 trailing bytes"},
		{"truncated", data[:len(data)-1], "state", len(data) - 2, "truncated varint"},
		{"truncated element", data[:hashAt+qLen-1], "manifest_hash", hashAt, "needs 8 bytes, 7 left"},
		{"q element out of range", splice(data, hashAt, qLen, ff(qLen)...), "manifest_hash", hashAt, "not below q"},
		{"p element out of range", splice(data, proofAt, pLen, ff(pLen)...),
			"contests[0].ballot_selections[0].proof.proof_zero_pad", proofAt, "not below p"},
		{"long varint", splice(data, idAt, 1, byte(len(b.ObjectID))|0x80, 0), "object_id", idAt, "shortest form"},
		{"varint overflow", splice(data, idAt, 1, ff(10)...), "object_id", idAt, "overflows"},
		{"string beyond the data", splice(data, idAt, 1, 0xff, 0x7f), "object_id", idAt, "string of 16383 bytes"},
		{"not UTF-8", splice(data, idAt+2, 1, 0xff), "object_id", idAt, "not valid UTF-8"},
		{"flag", splice(data, contestsAt, 1, 2), "contests", contestsAt, "flag byte is 2"},
		{"forged count", splice(data, contestsAt+1, 1, binary.AppendUvarint(nil, 1<<62)...), "contests", contestsAt + 1, "cannot fit"},
		{"count one too many", splice(data, contestsAt+1, 1, byte((len(data)-contestsAt-2)/(2*pLen+2*qLen+5)+1)), "contests", contestsAt + 1, "cannot fit"},
		{"state", splice(data, len(data)-2, 2, 3), "state", len(data) - 2, "state 3 is not"},
	} {
		_, err := DecodeCompact(g, tc.data)
		var ce *CompactError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a *CompactError", tc.name, err)
			continue
		}
		if ce.Field != tc.field || ce.Offset != tc.offset || !strings.Contains(ce.Err.Error(), tc.want) {
			t.Errorf("%s: got %q at %d (%v), want %q at %d containing %q", tc.name, ce.Field, ce.Offset, ce.Err, tc.field, tc.offset, tc.want)
		}
	}
	// Every proper prefix is refused.
	for n := range len(data) {
		if _, err := DecodeCompact(g, data[:n]); err == nil {
			t.Fatalf("a %d-byte prefix of a %d-byte ballot decodes", n, len(data))
		}
	}
	// A 4096-bit ballot does not decode in the test group.
	std, err := EncodeCompact(standard, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeCompact(g, std); err == nil || !strings.Contains(err.Error(), "width of p") {
		t.Errorf("a standard-group ballot decoded in the test group: %v", err)
	}
}

// TestDecodeCompactForgedCountAllocates: a count of 2^24 contests, which the remaining
// bytes cannot hold, is refused before anything of its size is allocated.
func TestDecodeCompactForgedCountAllocates(t *testing.T) {
	g := eg.TestGroup()
	data, err := EncodeCompact(g, &SubmittedBallot{State: BallotCast})
	if err != nil {
		t.Fatal(err)
	}
	at := 3 + 1 + 1 + 2*8 // the contests' presence flag, null here
	forged := splice(data, at, 1, append([]byte{1}, binary.AppendUvarint(nil, 1<<24)...)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = DecodeCompact(g, forged)
	runtime.ReadMemStats(&after)
	var ce *CompactError
	if !errors.As(err, &ce) || ce.Field != "contests" {
		t.Fatalf("got %v, want the contests' count refused", err)
	}
	// 2^24 contests would take over a GiB; other goroutines allocate far less than 64 MiB.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("decoding a forged count allocated %d bytes", grew)
	}
}

// BenchmarkCompactBallot compares the small fixture's ballots stored as JSON (minified,
// and indented as the record files are) with their compact form: bytes per ballot and
// decode time, both measured in the same run, with the ratios.
func BenchmarkCompactBallot(b *testing.B) {
	fx := loadFixture(b, "small")
	var jsons, compacts [][]byte
	var indented int
	for _, ballot := range fx.ballots {
		full, err := Marshal(ballot)
		if err != nil {
			b.Fatal(err)
		}
		var min bytes.Buffer
		if err := json.Compact(&min, full); err != nil {
			b.Fatal(err)
		}
		c, err := EncodeCompact(standard, ballot)
		if err != nil {
			b.Fatal(err)
		}
		indented += len(full)
		jsons, compacts = append(jsons, min.Bytes()), append(compacts, c)
	}
	var jsonTime, compactTime time.Duration
	for b.Loop() {
		start := time.Now()
		for _, data := range jsons {
			var v SubmittedBallot
			if err := unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for _, data := range compacts {
			if _, err := DecodeCompact(standard, data); err != nil {
				b.Fatal(err)
			}
		}
		jsonTime += mid.Sub(start)
		compactTime += time.Since(mid)
	}
	n := float64(len(fx.ballots))
	jsonBytes, compactBytes := float64(totalLen(jsons))/n, float64(totalLen(compacts))/n
	b.ReportMetric(float64(indented)/n, "json-indented-B/ballot")
	b.ReportMetric(jsonBytes, "json-B/ballot")
	b.ReportMetric(compactBytes, "compact-B/ballot")
	b.ReportMetric(jsonBytes/compactBytes, "json/compact-size")
	b.ReportMetric(float64(jsonTime.Microseconds())/(n*float64(b.N)), "µs/json-decode")
	b.ReportMetric(float64(compactTime.Microseconds())/(n*float64(b.N)), "µs/compact-decode")
	b.ReportMetric(float64(jsonTime)/float64(compactTime), "json/compact-decode-time")
}

func totalLen(bs [][]byte) int {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	return n
}
