package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tallyq/tallyq/eg"
)

// CompactVersion is the format version EncodeCompact writes and DecodeCompact reads, the
// first byte of every compact ballot.
const CompactVersion = 1

// CompactError is why DecodeCompact refused its input: the field being read (its path in
// the ballot's JSON), the offset of the field's first byte, and what is wrong.
type CompactError struct {
	Field  string // e.g. "contests[1].ballot_selections[0].proof.challenge"
	Offset int
	Err    error
}

// Error names the field, its offset and the problem.
func (e *CompactError) Error() string {
	return fmt.Sprintf("compact ballot: %s at byte %d: %v", e.Field, e.Offset, e.Err)
}

// Unwrap returns what is wrong.
func (e *CompactError) Unwrap() error { return e.Err }

// EncodeCompact encodes a submitted ballot in the compact binary form that tallyq stores,
// for the group g. It carries everything the ballot's JSON carries, so that
// DecodeCompact returns a ballot whose JSON is identical and whose validation gives the
// same result. A ballot holding a value the format cannot carry (an element not below
// p or q of g, a string that is not UTF-8, a state other than 0, 1, 2 or 999) is an error
// naming the field: such a ballot fails validation anyway.
//
// The layout, fields in the JSON's order; P is an element mod p as fixed-width
// big-endian bytes of g.PByteLen(), Q one mod q as fixed-width bytes of q's length (32
// for the standard group), uvarint and varint are encoding/binary's (signed ones
// zigzag), a string is a uvarint length and UTF-8 bytes, a flag one byte 0 or 1, and
// "opt X" a flag (0 for JSON null) followed by X when it is 1:
//
//	ballot:    version byte (CompactVersion), uvarint len(P), uvarint len(Q),
//	           object_id string, style_id string, manifest_hash Q, code_seed Q,
//	           contests opt(uvarint n, n × contest), code Q, timestamp varint,
//	           crypto_hash Q, nonce opt Q, state uvarint
//	contest:   object_id string, sequence_order varint, description_hash Q,
//	           ballot_selections opt(uvarint n, n × selection),
//	           ciphertext_accumulation P P, crypto_hash Q, nonce opt Q,
//	           proof opt(pad P, data P, challenge Q, response Q, constant varint, usage string)
//	selection: object_id string, sequence_order varint, description_hash Q,
//	           ciphertext P P, crypto_hash Q, is_placeholder_selection flag, nonce opt Q,
//	           proof opt(proof_zero_pad P, proof_zero_data P, proof_one_pad P,
//	           proof_one_data P, proof_zero_challenge Q, proof_one_challenge Q,
//	           challenge Q, proof_zero_response Q, proof_one_response Q, usage string),
//	           extended_data opt(P P)
func EncodeCompact(g *eg.Group, b *SubmittedBallot) ([]byte, error) {
	return AppendCompact(nil, g, b)
}

// AppendCompact appends EncodeCompact's encoding of b to dst and returns the extended
// buffer (dst unchanged on error), so that a caller encoding many ballots reuses one.
func AppendCompact(dst []byte, g *eg.Group, b *SubmittedBallot) ([]byte, error) {
	if b == nil {
		return dst, errors.New("record: cannot encode a nil ballot compactly")
	}
	w := &compactWriter{compactBase: newCompactBase(g), buf: dst}
	w.buf = slices.Grow(w.buf, w.lay.estimate(b))
	w.buf = append(w.buf, CompactVersion)
	w.buf = binary.AppendUvarint(w.buf, uint64(w.lay.pLen))
	w.buf = binary.AppendUvarint(w.buf, uint64(w.lay.qLen))
	b.compact(w)
	if w.err != nil {
		return dst, fmt.Errorf("record: ballot %q cannot be encoded compactly: %w", b.ObjectID, w.err)
	}
	return w.buf, nil
}

// DecodeCompact decodes a ballot that EncodeCompact encoded for the same group. It is
// strict: a wrong version or group, truncated or trailing data, an element not below p
// or q, a flag other than 0 or 1, a varint not in its shortest form, a string that is
// not UTF-8 or a count more elements than the remaining bytes could hold is a
// *CompactError naming the field and its offset. Whatever it accepts re-encodes to the
// same bytes. It allocates at most a small multiple of len(data), and the ballot does not
// refer to data, which the caller may reuse.
func DecodeCompact(g *eg.Group, data []byte) (*SubmittedBallot, error) {
	r := &compactReader{compactBase: newCompactBase(g), data: data}
	r.header()
	b := new(SubmittedBallot)
	b.compact(r)
	if err := r.finish(); err != nil {
		return nil, err
	}
	return b, nil
}

// compactLayout is what the group decides: the widths of elements and their bounds.
type compactLayout struct {
	p, q       *big.Int
	pLen, qLen int
}

// estimate is about the size of b's encoding (its ids and usage strings taken as 64
// bytes a selection or contest), so that encoding grows its buffer once.
func (l *compactLayout) estimate(b *SubmittedBallot) int {
	n := 64 + 4*l.qLen
	for i := range b.Contests {
		c := &b.Contests[i]
		n += 64 + 4*l.pLen + 4*l.qLen + len(c.BallotSelections)*(64+6*l.pLen+7*l.qLen)
	}
	return n
}

// minSelectionBytes is the fewest bytes a selection takes (empty id, every option
// null), which bounds the number of selections a count may claim.
func (l *compactLayout) minSelectionBytes() int { return 2*l.pLen + 2*l.qLen + 6 }

// minContestBytes is the fewest bytes a contest takes.
func (l *compactLayout) minContestBytes() int { return 2*l.pLen + 2*l.qLen + 5 }

// compactBase is the state both directions share: the layout, where in the ballot the
// codec is (for error messages) and the first error, after which every step does nothing.
type compactBase struct {
	lay                compactLayout
	contest, selection int    // indices being coded, -1 outside
	part               string // the sub-object being coded, such as "proof" ("" for none)
	err                error
}

func newCompactBase(g *eg.Group) compactBase {
	q := g.Q()
	return compactBase{
		lay:     compactLayout{p: g.P(), q: q, pLen: g.PByteLen(), qLen: (q.BitLen() + 7) / 8},
		contest: -1, selection: -1,
	}
}

func (c *compactBase) base() *compactBase { return c }

// path is the JSON path of field where the codec is.
func (c *compactBase) path(field string) string {
	var sb strings.Builder
	if c.contest >= 0 {
		sb.WriteString("contests[" + strconv.Itoa(c.contest) + "].")
	}
	if c.selection >= 0 {
		sb.WriteString("ballot_selections[" + strconv.Itoa(c.selection) + "].")
	}
	if c.part != "" {
		sb.WriteString(c.part + ".")
	}
	sb.WriteString(field)
	return sb.String()
}

// compactCodec is one direction of the format, so that the layout is written once (the
// compact methods of the ballot types) for both: each method writes the value pointed
// to, or reads into it.
type compactCodec interface {
	base() *compactBase
	str(field string, s *string)
	elemP(field string, h *Hex)
	elemQ(field string, h *Hex)
	int(field string, v *int)
	int64(field string, v *int64)
	flag(field string, v *bool)
	// present codes whether an optional value is there (has, when writing): a flag, but
	// without a pointer, which would make the caller's variable escape to the heap.
	present(field string, has bool) bool
	state(field string, s *BallotState)
	// count codes a number of elements n of at least minBytes each.
	count(field string, n, minBytes int) int
}

// compactOptional codes whether *p is null, allocating it when reading a present one,
// and reports whether it is present.
func compactOptional[T any](c compactCodec, field string, p **T) bool {
	present := c.present(field, *p != nil)
	if present && *p == nil {
		*p = new(T)
	}
	return present
}

// compactSlice codes whether *s is null and its length, and reports whether it is
// present. Reading, it makes *s null or of the length read, reusing its array when that
// is large enough (a ViewDecoder reads every ballot into one scratch ballot).
func compactSlice[T any](c compactCodec, field string, s *[]T, minBytes int) bool {
	if !c.present(field, *s != nil) {
		*s = nil
		return false
	}
	n := c.count(field, len(*s), minBytes)
	if *s == nil || len(*s) != n {
		*s = resized(*s, n)
	}
	return true
}

// resized returns s with length n, reusing its array when it is large enough; never nil.
func resized[T any](s []T, n int) []T {
	if s != nil && cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// selectionCiphertext is the part name of a selection's ciphertext, which a ViewDecoder
// keeps.
const selectionCiphertext = "ciphertext"

// compactCiphertext codes a ciphertext, part naming it in errors.
func compactCiphertext(c compactCodec, part string, ct *Ciphertext) {
	at := c.base()
	at.part = part
	c.elemP("pad", &ct.Pad)
	c.elemP("data", &ct.Data)
	at.part = ""
}

func (b *SubmittedBallot) compact(c compactCodec) {
	at := c.base()
	c.str("object_id", &b.ObjectID)
	c.str("style_id", &b.StyleID)
	c.elemQ("manifest_hash", &b.ManifestHash)
	c.elemQ("code_seed", &b.CodeSeed)
	if compactSlice(c, "contests", &b.Contests, at.lay.minContestBytes()) {
		for i := range b.Contests {
			at.contest = i
			b.Contests[i].compact(c)
		}
		at.contest = -1
	}
	c.elemQ("code", &b.Code)
	c.int64("timestamp", &b.Timestamp)
	c.elemQ("crypto_hash", &b.CryptoHash)
	if compactOptional(c, "nonce", &b.Nonce) {
		c.elemQ("nonce", b.Nonce)
	}
	c.state("state", &b.State)
}

func (ct *BallotContest) compact(c compactCodec) {
	at := c.base()
	c.str("object_id", &ct.ObjectID)
	c.int("sequence_order", &ct.SequenceOrder)
	c.elemQ("description_hash", &ct.DescriptionHash)
	if compactSlice(c, "ballot_selections", &ct.BallotSelections, at.lay.minSelectionBytes()) {
		for i := range ct.BallotSelections {
			at.selection = i
			ct.BallotSelections[i].compact(c)
		}
		at.selection = -1
	}
	compactCiphertext(c, "ciphertext_accumulation", &ct.CiphertextAccumulation)
	c.elemQ("crypto_hash", &ct.CryptoHash)
	if compactOptional(c, "nonce", &ct.Nonce) {
		c.elemQ("nonce", ct.Nonce)
	}
	if compactOptional(c, "proof", &ct.Proof) {
		at.part = "proof"
		ct.Proof.compact(c)
		at.part = ""
	}
}

func (s *BallotSelection) compact(c compactCodec) {
	at := c.base()
	c.str("object_id", &s.ObjectID)
	c.int("sequence_order", &s.SequenceOrder)
	c.elemQ("description_hash", &s.DescriptionHash)
	compactCiphertext(c, selectionCiphertext, &s.Ciphertext)
	c.elemQ("crypto_hash", &s.CryptoHash)
	c.flag("is_placeholder_selection", &s.IsPlaceholderSelection)
	if compactOptional(c, "nonce", &s.Nonce) {
		c.elemQ("nonce", s.Nonce)
	}
	if compactOptional(c, "proof", &s.Proof) {
		at.part = "proof"
		s.Proof.compact(c)
		at.part = ""
	}
	if compactOptional(c, "extended_data", &s.ExtendedData) {
		compactCiphertext(c, "extended_data", s.ExtendedData)
	}
}

func (p *DisjunctiveProof) compact(c compactCodec) {
	c.elemP("proof_zero_pad", &p.ProofZeroPad)
	c.elemP("proof_zero_data", &p.ProofZeroData)
	c.elemP("proof_one_pad", &p.ProofOnePad)
	c.elemP("proof_one_data", &p.ProofOneData)
	c.elemQ("proof_zero_challenge", &p.ProofZeroChallenge)
	c.elemQ("proof_one_challenge", &p.ProofOneChallenge)
	c.elemQ("challenge", &p.Challenge)
	c.elemQ("proof_zero_response", &p.ProofZeroResponse)
	c.elemQ("proof_one_response", &p.ProofOneResponse)
	c.str("usage", &p.Usage)
}

func (p *ConstantProof) compact(c compactCodec) {
	c.elemP("pad", &p.Pad)
	c.elemP("data", &p.Data)
	c.elemQ("challenge", &p.Challenge)
	c.elemQ("response", &p.Response)
	c.int("constant", &p.Constant)
	c.str("usage", &p.Usage)
}

// compactState reports whether the format carries state s: the three of the JSON form,
// or 0, that of a ciphertext ballot (which has no state field) read from JSON.
func compactState(s BallotState) bool {
	return s == 0 || s == BallotCast || s == BallotSpoiled || s == BallotUnknown
}

// compactWriter encodes: it appends each value to buf.
type compactWriter struct {
	compactBase
	buf []byte
}

func (w *compactWriter) fail(field, format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("%s: %s", w.path(field), fmt.Sprintf(format, args...))
	}
}

func (w *compactWriter) str(field string, s *string) {
	if !utf8.ValidString(*s) {
		w.fail(field, "string is not valid UTF-8")
		return
	}
	w.buf = binary.AppendUvarint(w.buf, uint64(len(*s)))
	w.buf = append(w.buf, *s...)
}

func (w *compactWriter) elemP(field string, h *Hex) { w.elem(field, h, w.lay.p, w.lay.pLen, "p") }
func (w *compactWriter) elemQ(field string, h *Hex) { w.elem(field, h, w.lay.q, w.lay.qLen, "q") }

func (w *compactWriter) elem(field string, h *Hex, bound *big.Int, width int, name string) {
	n := h.n
	if n == nil {
		n = new(big.Int)
	}
	if n.Sign() < 0 || n.Cmp(bound) >= 0 {
		w.fail(field, "value is not in [0, %s) of the group", name)
		return
	}
	w.buf = append(w.buf, make([]byte, width)...)
	n.FillBytes(w.buf[len(w.buf)-width:])
}

func (w *compactWriter) int(_ string, v *int)     { w.buf = binary.AppendVarint(w.buf, int64(*v)) }
func (w *compactWriter) int64(_ string, v *int64) { w.buf = binary.AppendVarint(w.buf, *v) }

func (w *compactWriter) flag(_ string, v *bool) {
	var b byte
	if *v {
		b = 1
	}
	w.buf = append(w.buf, b)
}

func (w *compactWriter) present(field string, has bool) bool {
	w.flag(field, &has)
	return has
}

func (w *compactWriter) state(field string, s *BallotState) {
	if !compactState(*s) {
		w.fail(field, "state %d is not 1 (cast), 2 (spoiled), 999 (unknown) or 0 (none)", int(*s))
		return
	}
	w.buf = binary.AppendUvarint(w.buf, uint64(*s))
}

func (w *compactWriter) count(_ string, n, _ int) int {
	w.buf = binary.AppendUvarint(w.buf, uint64(n))
	return n
}

// compactReader decodes: it reads each value from data at off.
type compactReader struct {
	compactBase
	data []byte
	off  int
}

// fail records the first error, about field starting at offset start.
func (r *compactReader) fail(field string, start int, format string, args ...any) {
	if r.err == nil {
		r.err = &CompactError{Field: r.path(field), Offset: start, Err: fmt.Errorf(format, args...)}
	}
}

func (r *compactReader) header() {
	start := r.off
	v := r.bytes("version", 1)
	if r.err == nil && v[0] != CompactVersion {
		r.fail("version", start, "format version %d, want %d", v[0], CompactVersion)
	}
	r.width("width of p", r.lay.pLen)
	r.width("width of q", r.lay.qLen)
}

// width checks that the ballot was encoded for a group whose elements take want bytes.
func (r *compactReader) width(field string, want int) {
	start := r.off
	if got := r.uvarint(field); r.err == nil && got != uint64(want) {
		r.fail(field, start, "ballot encoded for %d-byte elements, the group's are %d bytes", got, want)
	}
}

// bytes returns the next n bytes, or nil and an error when fewer remain.
func (r *compactReader) bytes(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if left := len(r.data) - r.off; n > left {
		r.fail(field, r.off, "truncated: needs %d bytes, %d left", n, left)
		return nil
	}
	b := r.data[r.off : r.off+n]
	r.off += n
	return b
}

// uvarint reads a uvarint in its shortest form (so that it re-encodes the same).
func (r *compactReader) uvarint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.data[r.off:])
	switch {
	case n == 0:
		r.fail(field, r.off, "truncated varint")
	case n < 0:
		r.fail(field, r.off, "varint overflows 64 bits")
	case n > 1 && r.data[r.off+n-1] == 0:
		r.fail(field, r.off, "varint is not in its shortest form")
	default:
		r.off += n
		return v
	}
	return 0
}

func (r *compactReader) int64(field string, v *int64) {
	u := r.uvarint(field)
	x := int64(u >> 1) // zigzag, as binary.AppendVarint writes it
	if u&1 != 0 {
		x = ^x
	}
	*v = x
}

func (r *compactReader) int(field string, v *int) {
	start := r.off
	var x int64
	r.int64(field, &x)
	if int64(int(x)) != x {
		r.fail(field, start, "%d does not fit in an int", x)
	}
	*v = int(x)
}

// finish refuses trailing bytes and returns the first error.
func (r *compactReader) finish() error {
	if r.err == nil && r.off != len(r.data) {
		r.fail("end of ballot", r.off, "%d trailing bytes", len(r.data)-r.off)
	}
	return r.err
}

func (r *compactReader) str(field string, s *string) {
	if b, ok := r.strBytes(field); ok {
		*s = string(b)
	}
}

// strBytes reads a string, returning its bytes (in data) and whether there was one.
func (r *compactReader) strBytes(field string) ([]byte, bool) {
	start := r.off
	n := r.uvarint(field)
	if r.err != nil {
		return nil, false
	}
	if left := len(r.data) - r.off; n > uint64(left) {
		r.fail(field, start, "string of %d bytes, only %d left", n, left)
		return nil, false
	}
	b := r.data[r.off : r.off+int(n)]
	if !utf8.Valid(b) {
		r.fail(field, start, "string is not valid UTF-8")
		return nil, false
	}
	r.off += len(b)
	return b, true
}

func (r *compactReader) elemP(field string, h *Hex) { r.elem(field, h, r.lay.p, r.lay.pLen, "p") }
func (r *compactReader) elemQ(field string, h *Hex) { r.elem(field, h, r.lay.q, r.lay.qLen, "q") }

func (r *compactReader) elem(field string, h *Hex, bound *big.Int, width int, name string) {
	start := r.off
	b := r.bytes(field, width)
	if r.err != nil {
		return
	}
	n := new(big.Int).SetBytes(b)
	if n.Cmp(bound) >= 0 {
		r.notBelow(field, start, name)
		return
	}
	*h = Hex{n: n}
}

// notBelow records that the element of field at start is not below p or q (name).
func (r *compactReader) notBelow(field string, start int, name string) {
	r.fail(field, start, "value is not below %s", name)
}

func (r *compactReader) flag(field string, v *bool) {
	start := r.off
	b := r.bytes(field, 1)
	if r.err != nil {
		*v = false
		return
	}
	if b[0] > 1 {
		r.fail(field, start, "flag byte is %d, want 0 or 1", b[0])
	}
	*v = b[0] == 1
}

func (r *compactReader) present(field string, _ bool) bool {
	var has bool
	r.flag(field, &has)
	return has
}

func (r *compactReader) state(field string, s *BallotState) {
	start := r.off
	u := r.uvarint(field)
	if r.err != nil {
		return
	}
	if u > uint64(BallotUnknown) || !compactState(BallotState(u)) {
		r.fail(field, start, "state %d is not 1 (cast), 2 (spoiled), 999 (unknown) or 0 (none)", u)
		return
	}
	*s = BallotState(u)
}

// count reads a number of elements, refusing one that the remaining bytes could not
// hold at minBytes each, so that a forged count cannot make the caller allocate.
func (r *compactReader) count(field string, _, minBytes int) int {
	start := r.off
	n := r.uvarint(field)
	if r.err != nil {
		return 0
	}
	if left := len(r.data) - r.off; n > uint64(left/minBytes) {
		r.fail(field, start, "count %d cannot fit: %d bytes left, each takes at least %d", n, left, minBytes)
		return 0
	}
	return int(n)
}
